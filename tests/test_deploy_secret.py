"""The token key from Secrets Manager: the settings that name it, and one read per container."""

from __future__ import annotations

import boto3
import jwt
import pytest

from mfa_core import runtime
from mfa_core.config import ConfigError, Settings
from tests.helpers_deploy import _secret_in_moto

ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:mfa-jwt-AbCdEf"
BASE = {"MFA_TABLE": "t", "MFA_KMS_KEY_ID": "k", "MFA_SIGNING_KEY_ARN": ARN + "-signing"}


def test_secret_arn_is_a_key_source_that_is_read_later():
    settings = Settings.from_environ(BASE | {"MFA_JWT_SECRET_ARN": ARN})
    assert settings.jwt_secret_arn == ARN and settings.jwt_verify_key == "" and settings.jwt_algorithm == "HS256"
    resolved = settings.with_jwt_secret("s" * 64 + "\n")
    assert resolved.jwt_verify_key == "s" * 64


def test_secret_arn_wins_over_the_dev_default_and_never_mixes_with_a_literal():
    assert Settings.from_environ(BASE | {"MFA_JWT_SECRET_ARN": ARN, "MFA_DEV_MODE": "1"}).jwt_verify_key == ""
    with pytest.raises(ConfigError, match="not both"):
        Settings.from_environ(BASE | {"MFA_JWT_SECRET_ARN": ARN, "MFA_JWT_SECRET": "x" * 40})


def test_a_short_secret_is_refused():
    with pytest.raises(ConfigError, match="32 bytes"):
        Settings.from_environ(BASE | {"MFA_JWT_SECRET_ARN": ARN}).with_jwt_secret("short")


def test_with_a_public_key_no_token_secret_is_read():
    env = BASE | {"MFA_JWT_PUBLIC_KEY": "-----BEGIN PUBLIC KEY-----\\nAAAA\\n-----END PUBLIC KEY-----",
                  "MFA_JWT_ALGORITHM": "ES256"}
    settings = Settings.from_environ(env)
    assert settings.jwt_algorithm == "ES256" and settings.jwt_verify_key.startswith("-----BEGIN PUBLIC KEY-----\nAAAA")
    with pytest.raises(ConfigError, match="unset MFA_JWT_SECRET_ARN"):
        Settings.from_environ(env | {"MFA_JWT_SECRET_ARN": ARN})


def test_a_deployment_without_signing_keys_does_not_start():
    with pytest.raises(ConfigError, match="MFA_SIGNING_KEY_ARN"):
        Settings.from_environ({"MFA_TABLE": "t", "MFA_KMS_KEY_ID": "k", "MFA_JWT_SECRET": "s" * 40})


def test_the_secret_is_read_once_per_container(api, monkeypatch):
    monkeypatch.setenv("MFA_JWT_SECRET_ARN", _secret_in_moto())
    runtime.reset()
    reads = []
    session = boto3._get_default_session()
    session.events.register("before-call.secrets-manager.GetSecretValue", lambda **_: reads.append(1), unique_id="r")
    try:
        runtime.current().clock = api.clock
        for _ in range(3):
            assert api.as_user("GET", "/v1/factors").status_code == 200
        assert api.as_user("GET", "/v1/factors", tenant="demo").status_code == 200
    finally:
        session.events.unregister("before-call.secrets-manager.GetSecretValue", unique_id="r")
    assert len(reads) == 1


def test_a_token_signed_with_another_key_is_refused_under_the_secret(api, monkeypatch):
    monkeypatch.setenv("MFA_JWT_SECRET_ARN", _secret_in_moto("k" * 64))
    runtime.reset()
    runtime.current().clock = api.clock
    assert api.as_user("GET", "/v1/factors").status_code == 401  # signed with the dev secret
    now = int(api.clock.now)
    good = jwt.encode(
        {"sub": "alice@example.com", "tenant": "demo", "scope": "mfa:settings", "aud": "mfa", "iat": now,
         "exp": now + 60},
        "k" * 64,
        algorithm="HS256",
    )
    assert api.call("GET", "/v1/factors", token=good).status_code == 200
