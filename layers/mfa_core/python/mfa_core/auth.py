"""Bearer tokens in (the mail platform's JWTs -> Caller) and the logon result out (the mfa_token)."""

from __future__ import annotations

import secrets
from typing import NamedTuple

import jwt

from .config import TENANT_RE, Settings
from .errors import Forbidden, Unauthorized
from .signing import KeyRing

# The token scopes, named once: what each lets a caller do is API.md's "Tokens".
LOGON = "mfa:logon"  # the logon's MFA step, right after the password
SETTINGS = "mfa:settings"  # the user's own Account Security settings
ADMIN = "mfa:admin"  # the tenant's mailbox administrator
GATEWAY = "mfa:gateway"  # the IMAP/SMTP gateway checking app passwords
SCOPES = frozenset({LOGON, SETTINGS, ADMIN, GATEWAY})
MFA_TOKEN_SECONDS = 300
LEEWAY_SECONDS = 30  # clock skew between the mail platform and us
MAX_SID_LENGTH = 256


class Caller(NamedTuple):
    tenant: str
    user: str  # the mailbox address, ASCII lower-cased
    scopes: frozenset[str]
    sid: str | None = None  # the mail platform's logon session, copied into the mfa_token

    def has(self, scope: str) -> bool:
        return scope in self.scopes


def normalize_user(value: object) -> str | None:
    """A mailbox address as we key it (ASCII lower-case), or None when it can't be one. Whitespace at
    either end is refused, not trimmed: " alice@x" must not become a second, factor-less alice."""
    if not isinstance(value, str) or not 1 <= len(value) <= 254 or not value.isprintable():
        return None
    if value != value.strip():
        return None
    return value.translate(_ASCII_LOWER)


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def authenticate(authorization: str | None, settings: Settings, scopes: tuple[str, ...], now: float) -> Caller:
    """The caller of a request whose token is valid and carries one of `scopes`.

    401 for anything wrong with the token itself; 403 for a valid token of the wrong scope or tenant."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized()
    claims = _verified_claims(token.strip(), settings)
    if not _current(claims, now):
        raise Unauthorized()
    user = normalize_user(claims["sub"])
    tenant = claims["tenant"]
    scope = claims["scope"]
    if user is None or not isinstance(tenant, str) or not TENANT_RE.fullmatch(tenant) or not isinstance(scope, str):
        raise Unauthorized()
    sid = claims.get("sid")
    if sid is not None and not (isinstance(sid, str) and 1 <= len(sid) <= MAX_SID_LENGTH):
        raise Unauthorized()
    caller = Caller(tenant=tenant, user=user, scopes=frozenset(scope.split()) & SCOPES, sid=sid)
    if settings.pinned_tenant is not None and tenant != settings.pinned_tenant:
        raise Forbidden("This deployment serves another tenant.")
    if not any(caller.has(s) for s in scopes):
        raise Forbidden("The token's scope does not allow this.")
    return caller


def _verified_claims(token: str, settings: Settings) -> dict:
    """The claims of a token signed by one of the deployment's token keys (during a rotation, the
    previous key's tokens still verify); Unauthorized for anything else."""
    for key in settings.jwt_verify_keys:
        try:
            return _decode(token, key, settings.jwt_algorithm)
        except jwt.InvalidSignatureError as e:
            refused = e  # perhaps signed with the other key of a rotation
        except jwt.PyJWTError as e:
            raise Unauthorized() from e
    raise Unauthorized() from refused


def _decode(token: str, key: str, algorithm: str) -> dict:
    return jwt.decode(
        token,
        key,
        algorithms=[algorithm],
        audience="mfa",
        # Times are checked by `_current`, against the service's clock (injected in tests), not PyJWT's.
        options={
            "require": ["exp", "iat", "aud", "sub", "tenant", "scope"],
            "verify_exp": False,
            "verify_iat": False,
            "verify_nbf": False,
        },
    )


def _current(claims: dict, now: float) -> bool:
    times = [claims["exp"], claims["iat"], claims.get("nbf", claims["iat"])]
    if not all(isinstance(t, int | float) and not isinstance(t, bool) for t in times):
        return False
    exp, iat, nbf = times
    return exp + LEEWAY_SECONDS > now and iat - LEEWAY_SECONDS <= now and nbf - LEEWAY_SECONDS <= now


def mfa_token(keys: KeyRing, caller: Caller, amr: str, now: float) -> str:
    """The signed logon result the mail logon service checks (by the JWKS) before it opens a session."""
    issued = int(now)
    claims = {
        "aud": "mail",
        "sub": caller.user,
        "tenant": caller.tenant,
        "amr": [amr],
        "iat": issued,
        "exp": issued + MFA_TOKEN_SECONDS,
        "jti": secrets.token_urlsafe(12),
    }
    if caller.sid is not None:
        claims["sid"] = caller.sid
    return keys.sign(claims)
