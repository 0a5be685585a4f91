"""The mail logon service's side of the logon result: verify an mfa_token by the deployment's JWKS before
opening a session. Reference code to copy or import; it needs only PyJWT (with `cryptography`).

    verifier = MfaTokenVerifier("https://mfa.acme.example/api/v1/jwks.json")
    claims = verifier.verify(token, tenant="acme", user="alice@acme.example", sid=logon_attempt_id)

It checks the signature (ES256, by the key the token's `kid` names; an unknown `kid` fetches the JWKS
again, so a key announced by a rotation is found), `aud` = "mail", the tenant, the user, `exp` (30 s of
clock skew) and the logon attempt (`sid`, when the caller's token carried one), and accepts each `jti`
once. The used `jti`s are kept in this process until their token expires: a logon service on several
hosts keeps them in a shared store instead (e.g. Redis `SET jti 1 NX EX <seconds left>`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import jwt

LEEWAY_SECONDS = 30
JWKS_CACHE_SECONDS = 300


class MfaTokenRejected(Exception):
    """The token does not prove a completed logon of this user; `reason` says why (for the log)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MfaTokenVerifier:
    def __init__(self, jwks_url: str, *, clock: Callable[[], float] = time.time) -> None:
        self._keys = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=JWKS_CACHE_SECONDS, timeout=5)
        self._clock = clock
        self._used: dict[str, float] = {}  # jti -> when its token expires
        self._lock = threading.Lock()

    def verify(self, token: str, *, tenant: str, user: str, sid: str | None = None) -> dict:
        try:
            key = self._keys.get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token,
                key.key,
                algorithms=["ES256"],
                audience="mail",
                leeway=LEEWAY_SECONDS,
                options={"require": ["aud", "exp", "iat", "sub", "tenant", "amr", "jti"], "verify_exp": False},
            )
        except jwt.PyJWKClientConnectionError as e:
            raise MfaTokenRejected("the JWKS could not be fetched") from e
        except jwt.PyJWTError as e:
            raise MfaTokenRejected(f"not a valid mfa_token: {type(e).__name__}") from e
        now = self._clock()
        if not claims["exp"] + LEEWAY_SECONDS > now:
            raise MfaTokenRejected("expired")
        if claims["tenant"] != tenant or claims["sub"] != user:
            raise MfaTokenRejected("issued for another tenant or user")
        if sid is not None and claims.get("sid") != sid:
            raise MfaTokenRejected("issued for another logon attempt")
        self._use_once(claims["jti"], claims["exp"] + LEEWAY_SECONDS, now)
        return claims

    def _use_once(self, jti: str, until: float, now: float) -> None:
        with self._lock:
            for old in [j for j, expiry in self._used.items() if expiry <= now]:
                del self._used[old]
            if jti in self._used:
                raise MfaTokenRejected("already used")
            self._used[jti] = until
