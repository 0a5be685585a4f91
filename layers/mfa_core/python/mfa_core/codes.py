"""The codes and tokens we issue besides TOTP: how they look, and how we recognise them later.

None is stored as issued: recovery codes, SMS codes and app passwords are kept as keyed hashes
(crypto.Vault.keyed_hash), device tokens as a SHA-256 bound to tenant and user."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import string

RECOVERY_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford's base32: no i, l, o, u to misread
APP_PASSWORD_LETTERS = 16  # 26**16 is about 2**75: no slow hash needed, and it is found by its hash
DEVICE_TOKEN_PREFIX = "dt1"


def new_recovery_code() -> str:
    chars = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(8))  # 8 x 5 bits = 40 bits
    return f"{chars[:4]}-{chars[4:]}"


def normalize_recovery_code(value: str) -> str | None:
    """Recovery codes compare ignoring case, spaces and hyphens; None when it can't be one."""
    code = value.replace(" ", "").replace("-", "").lower()
    if len(code) != 8 or any(ch not in RECOVERY_ALPHABET for ch in code):
        return None
    return code


def new_access_pass() -> str:
    """Sixteen Crockford base32 characters (80 bits) in groups of four: "abcd-efgh-jkmn-pqrs"."""
    chars = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(16))
    return "-".join(chars[i : i + 4] for i in range(0, 16, 4))


def normalize_access_pass(value: str) -> str | None:
    """Access passes compare ignoring case, spaces and hyphens; None when it can't be one."""
    code = value.replace(" ", "").replace("-", "").lower()
    if len(code) != 16 or any(ch not in RECOVERY_ALPHABET for ch in code):
        return None
    return code


def new_sms_code() -> str:
    return f"{secrets.randbelow(10**6):06d}"


def new_app_password() -> str:
    """Sixteen random letters, shown once in groups of four: "abcd efgh ijkl mnop"."""
    letters = "".join(secrets.choice(string.ascii_lowercase) for _ in range(APP_PASSWORD_LETTERS))
    return " ".join(letters[i : i + 4] for i in range(0, APP_PASSWORD_LETTERS, 4))


def normalize_app_password(value: str) -> str:
    """App passwords compare ignoring case, spaces and hyphens (mail clients mangle them)."""
    return value.replace(" ", "").replace("-", "").lower()


def new_device_token(slot: int) -> tuple[str, str]:
    """(device id, token): the id finds the device (it starts with the device's storage slot), the 192
    random bits after it prove it."""
    device_id = f"{slot}-{secrets.token_urlsafe(9)}"
    return device_id, f"{DEVICE_TOKEN_PREFIX}.{device_id}.{secrets.token_urlsafe(24)}"


def device_id_of(token: str) -> str | None:
    prefix, _, rest = token.partition(".")
    device_id, _, proof = rest.partition(".")
    if prefix != DEVICE_TOKEN_PREFIX or not device_id or not proof or len(token) > 200:
        return None
    return device_id


def device_token_hash(tenant: str, user: str, token: str) -> str:
    """Bound to tenant and user: a token copied to another account matches nothing there."""
    return hashlib.sha256(json.dumps([tenant, user, token]).encode()).hexdigest()


def same(a: str, b: str) -> bool:
    """Constant-time equality for strings a caller sent. hmac.compare_digest refuses non-ASCII str, and
    JSON may even carry lone surrogates: compare the bytes."""
    return hmac.compare_digest(a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass"))
