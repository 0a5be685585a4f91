"""Deployment settings, read from the environment once and validated into a frozen dataclass."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from functools import lru_cache

DEV_SECRET = "local-dev-secret-not-for-production"
TENANT_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
ASYMMETRIC_ALGORITHMS = ("RS256", "ES256")


class ConfigError(RuntimeError):
    pass


@dataclass(frozen=True)
class Settings:
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
    # `with_jwt_secret` fills it at the first request.
    jwt_secret_arn: str | None = None
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

    def with_jwt_secret(self, value: str) -> Settings:
        """These settings with the HS256 secret read from the secret MFA_JWT_SECRET_ARN names."""
        secret = value.strip()
        # A shorter HMAC key can be brute-forced offline from one captured token.
        if len(secret.encode()) < 32:
            raise ConfigError("the token secret in Secrets Manager must be at least 32 bytes")
        return replace(self, jwt_verify_key=secret)


def _pem(value: str) -> str:
    # Stage config and env vars cannot hold newlines comfortably: accept "\n" escapes.
    return value.replace("\\n", "\n").strip()


@lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings.from_environ(os.environ)
