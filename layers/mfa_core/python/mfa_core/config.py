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
    # HS256: the shared secret both verifies callers' tokens and signs mfa_tokens.
    # RS256/ES256: the public key verifies callers' tokens; the private key signs mfa_tokens.
    jwt_verify_key: str
    jwt_signing_key: str
    pinned_tenant: str | None
    cors_origins: tuple[str, ...]
    topic_arn: str | None
    # MFA_JWT_SECRET_ARN: Secrets Manager holds the token key (the HS256 secret, or the private PEM that
    # signs mfa_tokens); the keys above stay empty until `with_jwt_secret` fills them at the first request.
    jwt_secret_arn: str | None = None

    @classmethod
    def from_environ(cls, environ: os._Environ | dict) -> Settings:
        dev_mode = environ.get("MFA_DEV_MODE") == "1"
        secret_arn = environ.get("MFA_JWT_SECRET_ARN", "").strip() or None
        public_key = _pem(environ.get("MFA_JWT_PUBLIC_KEY", ""))
        if public_key:
            algorithm = environ.get("MFA_JWT_ALGORITHM", "RS256")
            if algorithm not in ASYMMETRIC_ALGORITHMS:
                raise ConfigError(f"MFA_JWT_ALGORITHM must be one of {ASYMMETRIC_ALGORITHMS}")
            signing_key = _pem(environ.get("MFA_JWT_SIGNING_KEY", ""))
            if signing_key and secret_arn:
                raise ConfigError("set MFA_JWT_SIGNING_KEY or MFA_JWT_SECRET_ARN, not both")
            if not signing_key and not secret_arn:
                raise ConfigError(
                    "MFA_JWT_SIGNING_KEY (private PEM) or MFA_JWT_SECRET_ARN is required with MFA_JWT_PUBLIC_KEY"
                )
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
            verify_key = signing_key = secret
        pinned = environ.get("MFA_TENANT", "").strip() or None
        if pinned is not None and not TENANT_RE.fullmatch(pinned):
            raise ConfigError("MFA_TENANT is not a valid tenant id")
        table = environ.get("MFA_TABLE", "")
        kms_key_id = environ.get("MFA_KMS_KEY_ID", "")
        if not table or not kms_key_id:
            raise ConfigError("MFA_TABLE and MFA_KMS_KEY_ID are required")
        origins = tuple(o.strip() for o in environ.get("MFA_CORS_ORIGINS", "").split(",") if o.strip())
        return cls(
            table=table,
            kms_key_id=kms_key_id,
            dev_mode=dev_mode,
            jwt_algorithm=algorithm,
            jwt_verify_key=verify_key,
            jwt_signing_key=signing_key,
            pinned_tenant=pinned,
            cors_origins=origins,
            topic_arn=environ.get("MFA_TOPIC_ARN") or None,
            jwt_secret_arn=secret_arn,
        )

    def with_jwt_secret(self, value: str) -> Settings:
        """These settings with the token key read from the secret MFA_JWT_SECRET_ARN names."""
        if self.jwt_algorithm == "HS256":
            secret = value.strip()
            # A shorter HMAC key can be brute-forced offline from one captured token.
            if len(secret.encode()) < 32:
                raise ConfigError("the token secret in Secrets Manager must be at least 32 bytes")
            return replace(self, jwt_verify_key=secret, jwt_signing_key=secret)
        signing_key = _pem(value)
        if "PRIVATE KEY-----" not in signing_key:
            raise ConfigError("with MFA_JWT_PUBLIC_KEY the secret must hold the private PEM that signs mfa_tokens")
        return replace(self, jwt_signing_key=signing_key)


def _pem(value: str) -> str:
    # Stage config and env vars cannot hold newlines comfortably: accept "\n" escapes.
    return value.replace("\\n", "\n").strip()


@lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings.from_environ(os.environ)
