"""TOTP (RFC 6238) on top of pyotp's HOTP math: secrets, the otpauth URI, and matching a code to a step."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from urllib.parse import quote

import pyotp

DIGESTS = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256, "SHA512": hashlib.sha512}
SECRET_BYTES = 20  # 160 bits, RFC 4226's recommended length


def new_secret() -> str:
    """A fresh base32 secret (no padding: 160 bits is exactly 32 base32 characters)."""
    return base64.b32encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii").rstrip("=")


def grouped(secret: str) -> str:
    """The secret in groups of four, as people type it into an app's manual entry."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def otpauth_uri(secret: str, *, account: str, issuer: str, algorithm: str, digits: int, period: int) -> str:
    """Key URI format: otpauth://totp/ISSUER:ACCOUNT?secret=...&issuer=ISSUER&algorithm=...&digits=...&period=..."""
    label = f"{quote(issuer, safe='')}:{quote(account, safe='')}"
    query = (
        f"secret={secret.rstrip('=')}&issuer={quote(issuer, safe='')}"
        f"&algorithm={algorithm.upper()}&digits={digits}&period={period}"
    )
    return f"otpauth://totp/{label}?{query}"


def parse_code(value: str, digits: int) -> str | None:
    """The code with ASCII spaces removed, or None when what is left is not exactly `digits` ASCII digits.

    `str.isdigit` would accept other scripts' digits ("١٢٣٤٥٦", "１２３４５６"); a code never may."""
    code = value.replace(" ", "")
    if len(code) != digits or not all("0" <= ch <= "9" for ch in code):
        return None
    return code


def code_at(secret: str, step: int, *, algorithm: str, digits: int) -> str:
    return pyotp.HOTP(secret, digits=digits, digest=DIGESTS[algorithm]).generate_otp(step)


def step_at(now: float, period: int) -> int:
    return int(now // period)


def match(
    secret: str,
    code: str,
    *,
    now: float,
    algorithm: str,
    digits: int,
    period: int,
    window: int,
    after_step: int = -1,
) -> int | None:
    """The step in [now - window, now + window] whose code is `code` and that is later than `after_step`.

    Every candidate is compared in constant time, so the reply time does not say which step was close."""
    current = step_at(now, period)
    matched = None
    for step in range(current - window, current + window + 1):
        if step < 0:
            continue
        candidate = code_at(secret, step, algorithm=algorithm, digits=digits)
        if hmac.compare_digest(candidate, code) and step > after_step and matched is None:
            matched = step
    return matched
