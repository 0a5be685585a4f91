"""An RS256 deployment: callers verified with a public key, mfa_tokens signed with the deployment's own key."""

import hashlib
import hmac

import jwt
import pytest

from mfa_core.config import DEV_SECRET
from tests.conftest import make_token, mfa_claims
from tests.helpers_auth import (
    assert_unauthorized,
    b64url,
    claims,
    get_factors,
    hand_made,
    reload_settings,
    rsa_key_pair,
)

pytest_plugins = ["tests.helpers_auth"]  # the `fresh_settings_after` fixture


def hs256_by_hand(payload: dict, secret: bytes) -> str:
    """An HS256 token PyJWT would refuse to make (it won't use a PEM key as an HMAC secret)."""
    header = {"alg": "HS256", "typ": "JWT"}
    signing_input = hand_made(header, payload).rsplit(".", 1)[0]
    return f"{signing_input}.{b64url(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())}"


@pytest.fixture
def rs256(api, monkeypatch, fresh_settings_after):
    """A deployment that verifies callers with an RSA public key and signs mfa_tokens with its own key."""
    caller_private, caller_public = rsa_key_pair()
    reload_settings(api, monkeypatch, MFA_JWT_ALGORITHM="RS256", MFA_JWT_PUBLIC_KEY=caller_public)
    return {"caller_private": caller_private, "caller_public": caller_public}


def rs_token(api, private, scope="mfa:settings", **claims_):
    return make_token("alice@example.com", "demo", scope, key=private, algorithm="RS256", now=api.clock.now, **claims_)


def test_rs256_deployment_accepts_a_token_of_its_key(api, rs256):
    r = get_factors(api, rs_token(api, rs256["caller_private"]))
    assert r.status_code == 200, r.json


def test_rs256_deployment_refuses_a_token_of_another_key(api, rs256):
    other_private, _ = rsa_key_pair()
    assert_unauthorized(get_factors(api, rs_token(api, other_private)))


def test_rs256_deployment_refuses_hs256_signed_with_its_public_key(api, rs256):
    token = hs256_by_hand(claims(api), rs256["caller_public"].encode())
    assert_unauthorized(get_factors(api, token))
    assert_unauthorized(get_factors(api, jwt.encode(claims(api), DEV_SECRET, algorithm="HS256")))


def test_rs256_deployment_signs_the_mfa_token_with_its_own_es256_key(api, rs256):
    logon = rs_token(api, rs256["caller_private"], scope="mfa:logon")
    # Two-factor is off, so the logon decision is `done` and already carries the logon result.
    r = api.call("POST", "/v1/logon", {}, token=logon)
    assert r.status_code == 200, r.json
    assert r.json["next"] == "done"
    assert jwt.get_unverified_header(r.json["mfa_token"])["alg"] == "ES256"
    decoded = mfa_claims(r.json["mfa_token"])
    assert decoded["sub"] == "alice@example.com" and decoded["amr"] == ["none"]
    with pytest.raises(jwt.InvalidTokenError):
        jwt.decode(r.json["mfa_token"], rs256["caller_public"], algorithms=["RS256"], audience="mail")
