"""The logon result, verifiable by anyone (API.md): mfa_tokens signed ES256 by the deployment's keys, the
JWKS that publishes them, a rotation without a refused token, and the reference verifier of the mail
logon service (integrations/mfa_token/verifier.py) against the live server."""

import json
import logging
import time

import boto3
import jwt
import pytest
import requests

from infra.signing_key import next_state
from integrations.mfa_token.verifier import MfaTokenRejected, MfaTokenVerifier
from mfa_core import runtime, signing
from tests.conftest import make_token, mfa_claims
from tests.helpers_auth import reload_settings

pytest_plugins = ["tests.helpers_auth"]  # the `fresh_settings_after` fixture

LOGON = "mfa:logon"


def logon_result(api, **claims) -> str:
    """Two-factor is off, so the logon decision is `done` and already carries the logon result."""
    r = api.call("POST", "/v1/logon", {}, token=api.token(scope=LOGON, **claims))
    assert r.status_code == 200, r.json
    return r.json["mfa_token"]


def test_the_jwks_is_public_cacheable_and_names_the_key_that_signs(api):
    r = api.call("GET", "/v1/jwks.json")
    assert r.status_code == 200 and r.headers["Cache-Control"] == "public, max-age=300"
    (key,) = r.json["keys"]
    assert {key["kty"], key["crv"], key["alg"], key["use"]} == {"EC", "P-256", "ES256", "sig"}
    token = logon_result(api)
    assert jwt.get_unverified_header(token) == {"alg": "ES256", "kid": key["kid"], "typ": "JWT"}
    assert "d" not in key  # the public half only


def test_the_mfa_token_carries_the_callers_sid_and_a_jti(api):
    claims = mfa_claims(logon_result(api, sid="logon-attempt-7"))
    assert claims["sid"] == "logon-attempt-7" and len(claims["jti"]) >= 16
    assert "sid" not in mfa_claims(logon_result(api))
    r = api.call("POST", "/v1/logon", {}, token=api.token(scope=LOGON, sid=["not", "a", "string"]))
    assert r.status_code == 401


def put_keys(arn: str, value: str) -> None:
    boto3.client("secretsmanager").put_secret_value(SecretId=arn, SecretString=value)


@pytest.fixture
def deployed_keys(api, monkeypatch, fresh_settings_after):
    """A deployment whose signing keys come from Secrets Manager, as a stage's do."""
    arn = boto3.client("secretsmanager").create_secret(Name="mfa-signing", SecretString=next_state("new"))["ARN"]
    reload_settings(api, monkeypatch, MFA_SIGNING_KEY_ARN=arn)
    return arn


def jwks_kids(api) -> list[str]:
    return [k["kid"] for k in api.call("GET", "/v1/jwks.json").json["keys"]]


def test_a_rotation_refuses_no_token_and_a_token_of_the_previous_key_still_verifies(api, deployed_keys):
    value = boto3.client("secretsmanager").get_secret_value(SecretId=deployed_keys)["SecretString"]
    old = logon_result(api)
    (first,) = jwks_kids(api)
    # 1. Announce: the new key is published before anything is signed with it.
    put_keys(deployed_keys, value := next_state("announce", value))
    api.clock.advance(signing.REFRESH_SECONDS)
    first_again, announced = jwks_kids(api)
    assert first_again == first and jwt.get_unverified_header(logon_result(api))["kid"] == first
    # 2. Promote: the new key signs; the previous one still verifies the tokens it signed.
    put_keys(deployed_keys, value := next_state("promote", value))
    api.clock.advance(signing.REFRESH_SECONDS)
    assert jwks_kids(api) == [announced, first]
    new = logon_result(api)
    assert jwt.get_unverified_header(new)["kid"] == announced
    assert mfa_claims(old)["sub"] == mfa_claims(new)["sub"] == "alice@example.com"
    # 3. Retire: the old key is gone, and so is every token it could still verify.
    put_keys(deployed_keys, next_state("retire", value))
    api.clock.advance(signing.REFRESH_SECONDS)
    assert jwks_kids(api) == [announced]
    with pytest.raises(StopIteration):
        mfa_claims(old)


def test_keys_are_read_once_per_refresh_and_kept_when_secrets_manager_fails(api, deployed_keys, monkeypatch):
    reads = []
    client = runtime.current().secretsmanager
    client.meta.events.register("before-call.secrets-manager.GetSecretValue", lambda **kw: reads.append(1))
    logon_result(api)
    logon_result(api)
    assert len(reads) == 1
    boto3.client("secretsmanager").delete_secret(SecretId=deployed_keys, ForceDeleteWithoutRecovery=True)
    api.clock.advance(signing.REFRESH_SECONDS)
    assert mfa_claims(logon_result(api))["sub"] == "alice@example.com"  # the keys in hand still sign
    assert len(reads) == 2


def test_a_secret_that_holds_no_signing_key_is_a_503_with_a_clear_log_line(api, deployed_keys, all_logs):
    put_keys(deployed_keys, "x" * 32)  # what the stack's placeholder holds before the first key is put
    runtime.reset()
    runtime.current().clock = api.clock
    r = api.call("POST", "/v1/logon", {}, token=api.token(scope=LOGON))
    assert r.status_code == 503 and r.json["error"] == "unavailable"
    lines = [rec.getMessage() for rec in all_logs.records if rec.levelno >= logging.ERROR]
    assert any("no mfa_token can be signed" in line and "infra.signing_key new" in line for line in lines), lines
    assert "x" * 32 not in all_logs.text


def test_the_next_states_of_a_rotation_are_refused_out_of_order():
    first = next_state("new")
    with pytest.raises(Exception, match="announce one first"):
        next_state("promote", first)
    announced = next_state("announce", first)
    with pytest.raises(Exception, match="promote it first"):
        next_state("announce", announced)
    with pytest.raises(Exception, match="promote the announced key"):
        next_state("retire", announced)
    assert set(json.loads(next_state("promote", announced))) == {"current", "previous"}


# --- the mail logon service's reference verifier, over HTTP ----------------------------------------


def live_logon_result(live: str, user: str, **claims) -> str:
    token = make_token(user, "demo", LOGON, now=time.time(), **claims)
    r = requests.post(f"{live}/v1/logon", json={}, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["mfa_token"]


def test_the_reference_verifier_accepts_a_token_only_through_the_jwks_and_only_once(live):
    verifier = MfaTokenVerifier(f"{live}/v1/jwks.json")
    token = live_logon_result(live, "bob@example.com", sid="attempt-1")
    claims = verifier.verify(token, tenant="demo", user="bob@example.com", sid="attempt-1")
    assert claims["amr"] == ["none"]
    with pytest.raises(MfaTokenRejected, match="already used"):
        verifier.verify(token, tenant="demo", user="bob@example.com", sid="attempt-1")


@pytest.mark.parametrize(
    ("tenant", "user", "sid", "reason"),
    [
        ("acme", "bob@example.com", "attempt-1", "another tenant or user"),
        ("demo", "eve@example.com", "attempt-1", "another tenant or user"),
        ("demo", "bob@example.com", "attempt-2", "another logon attempt"),
    ],
)
def test_the_reference_verifier_refuses_a_token_of_another_logon(live, tenant, user, sid, reason):
    token = live_logon_result(live, "bob@example.com", sid="attempt-1")
    with pytest.raises(MfaTokenRejected, match=reason):
        MfaTokenVerifier(f"{live}/v1/jwks.json").verify(token, tenant=tenant, user=user, sid=sid)


def test_the_reference_verifier_refuses_an_expired_forged_or_foreign_token(live):
    token = live_logon_result(live, "bob@example.com")
    later = MfaTokenVerifier(f"{live}/v1/jwks.json", clock=lambda: time.time() + 301 + 30)
    with pytest.raises(MfaTokenRejected, match="expired"):
        later.verify(token, tenant="demo", user="bob@example.com")
    header = jwt.get_unverified_header(token)
    stranger = signing.KeyRing(signing.new_key())
    forged = jwt.encode(jwt.decode(token, options={"verify_signature": False}), stranger.current.private,
                        algorithm="ES256", headers={"kid": header["kid"]})
    with pytest.raises(MfaTokenRejected, match="InvalidSignatureError"):
        MfaTokenVerifier(f"{live}/v1/jwks.json").verify(forged, tenant="demo", user="bob@example.com")
    with pytest.raises(MfaTokenRejected, match="not a valid mfa_token"):
        MfaTokenVerifier(f"{live}/v1/jwks.json").verify(stranger.sign({"aud": "mail"}), tenant="demo", user="bob")
    hs256 = make_token("bob@example.com", "demo", LOGON, now=time.time())  # a caller token is no logon result
    with pytest.raises(MfaTokenRejected):
        MfaTokenVerifier(f"{live}/v1/jwks.json").verify(hs256, tenant="demo", user="bob@example.com")
