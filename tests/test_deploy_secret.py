"""The token key from Secrets Manager: the settings that name it, one read per refresh, and a rotation
through a current and a previous key without a refused token."""

from __future__ import annotations

import json
import logging
import threading
import time

import boto3
import jwt
import pytest

from mfa_core import runtime, signing
from mfa_core.config import ConfigError, Settings
from tests.conftest import make_token
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


def test_the_secret_is_read_once_per_refresh(api, monkeypatch):
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


OLD, NEW = "o" * 40, "n" * 48


def test_a_json_secret_holds_a_current_and_a_previous_key():
    settings = Settings.from_environ(BASE | {"MFA_JWT_SECRET_ARN": ARN})
    rotating = settings.with_jwt_secret(json.dumps({"current": NEW, "previous": OLD}))
    assert rotating.jwt_verify_key == NEW and rotating.jwt_verify_keys == (NEW, OLD)
    assert settings.with_jwt_secret(json.dumps({"current": NEW})).jwt_verify_keys == (NEW,)
    assert settings.with_jwt_secret(json.dumps({"current": NEW, "previous": ""})).jwt_verify_keys == (NEW,)
    assert settings.with_jwt_secret(NEW).jwt_verify_keys == (NEW,)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ('{"current": "' + "s" * 40 + '",}', "not JSON"),
        (json.dumps({"current": "s" * 40, "next": "t" * 40}), "a key or"),
        (json.dumps({"current": ["s" * 40]}), "both strings"),
        (json.dumps({"previous": "s" * 40}), 'no "current"'),
        (json.dumps({"current": "s" * 31}), "current key is 31 bytes"),
        (json.dumps({"current": "s" * 40, "previous": "t" * 20}), "previous key is 20 bytes"),
        ("short-secret", "secret is 12 bytes: HS256 needs at least 32 bytes"),
    ],
)
def test_a_secret_that_is_no_key_is_refused_by_its_problem_and_never_its_value(value, problem):
    with pytest.raises(ConfigError, match=problem) as refused:
        Settings.from_environ(BASE | {"MFA_JWT_SECRET_ARN": ARN}).with_jwt_secret(value)
    assert not any(part in str(refused.value) for part in ("s" * 12, "t" * 12, "short-secret"))


def caller_token(api, key: str) -> str:
    now = int(api.clock.now)
    claims = {"sub": "alice@example.com", "tenant": "demo", "scope": "mfa:settings", "aud": "mfa", "iat": now,
              "exp": now + 600}
    return jwt.encode(claims, key, algorithm="HS256")


def factors_status(api, key: str) -> int:
    return api.call("GET", "/v1/factors", token=caller_token(api, key)).status_code


@pytest.fixture
def token_secret(api, monkeypatch):
    """A deployment whose token key is the secret MFA_JWT_SECRET_ARN names (the plain OLD key at first)."""
    arn = _secret_in_moto(OLD)
    monkeypatch.setenv("MFA_JWT_SECRET_ARN", arn)
    runtime.reset()
    runtime.current().clock = api.clock
    return arn


def put_token_secret(arn: str, value: str) -> None:
    boto3.client("secretsmanager").put_secret_value(SecretId=arn, SecretString=value)


def test_a_rotation_accepts_both_keys_and_refuses_the_previous_once_it_is_removed(api, token_secret):
    assert (factors_status(api, OLD), factors_status(api, NEW)) == (200, 401)
    put_token_secret(token_secret, json.dumps({"current": NEW, "previous": OLD}))
    assert factors_status(api, NEW) == 401  # running containers see it at their next refresh
    api.clock.advance(signing.REFRESH_SECONDS)
    assert (factors_status(api, OLD), factors_status(api, NEW)) == (200, 200)
    expired = make_token(key=OLD, now=api.clock.now - 700, lifetime=600)  # the other key checks no less
    assert api.call("GET", "/v1/factors", token=expired).status_code == 401
    put_token_secret(token_secret, json.dumps({"current": NEW}))
    assert factors_status(api, OLD) == 200
    api.clock.advance(signing.REFRESH_SECONDS)
    assert (factors_status(api, OLD), factors_status(api, NEW)) == (401, 200)


def test_what_the_service_signs_with_the_token_key_uses_the_current_one(api, token_secret):
    put_token_secret(token_secret, json.dumps({"current": NEW, "previous": OLD}))
    api.clock.advance(signing.REFRESH_SECONDS)
    r = api.call("POST", "/v1/dev/token", {"user": "bob@example.com", "tenant": "demo", "scope": "mfa:settings"})
    assert r.status_code == 200, r.json
    at_our_clock = {"verify_exp": False, "verify_iat": False}
    claims = jwt.decode(r.json["token"], NEW, algorithms=["HS256"], audience="mfa", options=at_our_clock)
    assert claims["sub"] == "bob@example.com"
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(r.json["token"], OLD, algorithms=["HS256"], audience="mfa", options=at_our_clock)


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")  # the caller's short-key token
def test_a_too_short_token_secret_is_a_503_with_one_clear_log_line(api, monkeypatch, all_logs):
    arn = _secret_in_moto("short-secret")
    monkeypatch.setenv("MFA_JWT_SECRET_ARN", arn)
    runtime.reset()
    runtime.current().clock = api.clock
    r = api.call("GET", "/v1/factors", token=caller_token(api, "short-secret"))
    assert r.status_code == 503 and r.json["error"] == "unavailable" and r.headers["Retry-After"] == "1"
    errors = [rec.getMessage() for rec in all_logs.records if rec.levelno >= logging.ERROR]
    assert errors == [
        "callers' tokens cannot be verified: the token secret is 12 bytes: HS256 needs at least 32 bytes "
        f"(secret {arn})"
    ]
    assert "short-secret" not in all_logs.text


def test_a_failed_reread_keeps_the_keys_in_hand(api, token_secret, all_logs):
    assert factors_status(api, OLD) == 200
    put_token_secret(token_secret, "x" * 8)
    api.clock.advance(signing.REFRESH_SECONDS)
    assert factors_status(api, OLD) == 200
    boto3.client("secretsmanager").delete_secret(SecretId=token_secret, ForceDeleteWithoutRecovery=True)
    api.clock.advance(signing.REFRESH_SECONDS)
    assert factors_status(api, OLD) == 200
    kept = [rec.getMessage() for rec in all_logs.records if rec.levelno == logging.WARNING]
    assert kept.count("token keys not re-read: the ones in hand stay until the next try") == 2
    assert "x" * 8 not in all_logs.text


def test_requests_arriving_together_at_a_refresh_read_the_secret_once(api, token_secret):
    """Real threads, held at the read: whoever comes while one thread re-reads waits for its keys."""
    rt = runtime.current()
    assert rt.settings.jwt_verify_keys == (OLD,)
    put_token_secret(token_secret, json.dumps({"current": NEW, "previous": OLD}))
    api.clock.advance(signing.REFRESH_SECONDS)
    reads = []

    def slow_read(**_):
        reads.append(1)
        time.sleep(0.2)  # the window in which the other threads ask

    rt.secretsmanager.meta.events.register("before-call.secrets-manager.GetSecretValue", slow_read)
    start = threading.Barrier(8)
    seen = []

    def ask():
        start.wait()
        seen.append(rt.settings.jwt_verify_keys)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(reads) == 1 and seen == [(NEW, OLD)] * 8
