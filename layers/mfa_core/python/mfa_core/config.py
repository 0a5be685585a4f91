"""Deployment settings, read from the environment once and validated into an immutable record."""

from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from typing import NamedTuple

DEV_SECRET = "local-dev-secret-not-for-production"
TENANT_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
ASYMMETRIC_ALGORITHMS = ("RS256", "ES256")
# A shorter HMAC key can be brute-forced offline from one captured token (PyJWT warns under it too).
MIN_SECRET_BYTES = 32
TOKEN_KEY_STAGES = ("current", "previous")


class ConfigError(RuntimeError):
    pass


class Settings(NamedTuple):
    table: str
    kms_key_id: str
    dev_mode: bool
    jwt_algorithm: str
    # What verifies callers' tokens: the secret shared with the mail platform (HS256), or its public key
    # (RS256/ES256). mfa_tokens are signed apart, by the deployment's own keys (signing_key_arn).
    jwt_verify_key: str
    pinned_tenant: str | None
    cors_origins: tuple[str, ...]
    topic_arn: str | None
    # MFA_JWT_SECRET_ARN: Secrets Manager holds the HS256 secret; jwt_verify_key stays empty until
    # `with_jwt_secret` fills it (runtime.Runtime.settings, read again every few minutes).
    jwt_secret_arn: str | None = None
    # During a rotation of that secret, the key it replaces: tokens signed with it still verify, nothing
    # is signed with it (what this service signs, e.g. dev tokens, uses jwt_verify_key, the current one).
    jwt_previous_key: str | None = None
    # MFA_SIGNING_KEY_ARN: Secrets Manager holds the P-256 keys that sign mfa_tokens (mfa_core/signing.py).
    # Without it (the local run only) a key is made when the container starts.
    signing_key_arn: str | None = None

    @classmethod
    def from_environ(cls, environ: os._Environ | dict) -> Settings:
        dev_mode = environ.get("MFA_DEV_MODE") == "1"
        secret_arn = environ.get("MFA_JWT_SECRET_ARN", "").strip() or None
        public_key = _pem(environ.get("MFA_JWT_PUBLIC_KEY", ""))
        if public_key:
            algorithm = environ.get("MFA_JWT_ALGORITHM", "RS256")
            if algorithm not in ASYMMETRIC_ALGORITHMS:
                raise ConfigError(f"MFA_JWT_ALGORITHM must be one of {ASYMMETRIC_ALGORITHMS}")
            if secret_arn:
                raise ConfigError("with MFA_JWT_PUBLIC_KEY no token secret is read: unset MFA_JWT_SECRET_ARN")
            verify_key = public_key
        else:
            algorithm = "HS256"
            secret = environ.get("MFA_JWT_SECRET", "")
            if secret and secret_arn:
                raise ConfigError("set MFA_JWT_SECRET or MFA_JWT_SECRET_ARN, not both")
            if not secret and not secret_arn:
                if not dev_mode:
                    raise ConfigError("no token key: set MFA_JWT_SECRET_ARN, MFA_JWT_SECRET or MFA_JWT_PUBLIC_KEY")
                secret = DEV_SECRET
            verify_key = secret
        pinned = environ.get("MFA_TENANT", "").strip() or None
        if pinned is not None and not TENANT_RE.fullmatch(pinned):
            raise ConfigError("MFA_TENANT is not a valid tenant id")
        table = environ.get("MFA_TABLE", "")
        kms_key_id = environ.get("MFA_KMS_KEY_ID", "")
        if not table or not kms_key_id:
            raise ConfigError("MFA_TABLE and MFA_KMS_KEY_ID are required")
        signing_key_arn = environ.get("MFA_SIGNING_KEY_ARN", "").strip() or None
        if signing_key_arn is None and not dev_mode:
            raise ConfigError("MFA_SIGNING_KEY_ARN is required: the secret holding the keys that sign mfa_tokens")
        origins = tuple(o.strip() for o in environ.get("MFA_CORS_ORIGINS", "").split(",") if o.strip())
        return cls(
            table=table,
            kms_key_id=kms_key_id,
            dev_mode=dev_mode,
            jwt_algorithm=algorithm,
            jwt_verify_key=verify_key,
            pinned_tenant=pinned,
            cors_origins=origins,
            topic_arn=environ.get("MFA_TOPIC_ARN") or None,
            jwt_secret_arn=secret_arn,
            signing_key_arn=signing_key_arn,
        )

    @property
    def jwt_verify_keys(self) -> tuple[str, ...]:
        """Every key a caller's token may be signed with: the current one first."""
        return (self.jwt_verify_key,) if self.jwt_previous_key is None else (self.jwt_verify_key, self.jwt_previous_key)

    def with_jwt_secret(self, value: str) -> Settings:
        """These settings with the HS256 keys of the secret MFA_JWT_SECRET_ARN names: the plain key, or
        JSON {"current": key, "previous": key} while a rotation lets tokens of the old key still verify.
        ConfigError, naming what is wrong and never a key, for anything else."""
        current, previous = token_keys(value)
        return self._replace(jwt_verify_key=current, jwt_previous_key=previous)


def token_keys(value: str) -> tuple[str, str | None]:
    """The current and the previous (or None) HS256 key of a token secret."""
    text = value.strip()
    # A generated secret is letters and digits only (infra/tenant-stack.yaml): a "{" can only mean JSON.
    if not text.startswith("{"):
        return _long_enough(text, "the token secret"), None
    try:
        stages = json.loads(text)
    except ValueError as e:
        raise ConfigError('the token secret starts with "{" but is not JSON: {"current": ..., "previous": ...}') from e
    if (
        not isinstance(stages, dict)
        or set(stages) - set(TOKEN_KEY_STAGES)
        or not all(isinstance(v, str) for v in stages.values())
    ):
        raise ConfigError('the token secret must be a key or {"current": key, "previous": key}, both strings')
    if not stages.get("current", "").strip():
        raise ConfigError('the token secret\'s JSON has no "current" key')
    current, previous = stages["current"].strip(), stages.get("previous", "").strip()
    return (
        _long_enough(current, "the token secret's current key"),
        _long_enough(previous, "the token secret's previous key") if previous else None,
    )


def _long_enough(key: str, what: str) -> str:
    size = len(key.encode())
    if size < MIN_SECRET_BYTES:
        raise ConfigError(f"{what} is {size} bytes: HS256 needs at least {MIN_SECRET_BYTES} bytes")
    return key


def _pem(value: str) -> str:
    # Stage config and env vars cannot hold newlines comfortably: accept "\n" escapes.
    return value.replace("\\n", "\n").strip()


@lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings.from_environ(os.environ)
