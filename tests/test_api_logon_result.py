"""The signed logon result (API.md "The logon result"): the mfa_token a verified logon gets."""

import jwt

from tests.conftest import attach, code_for, mfa_claims
from tests.helpers_auth import assert_unauthorized, get_factors


def verified_mfa_token(api, user="alice@example.com") -> str:
    att = attach(api, user=user)
    api.clock.advance(30)
    r = api.as_user(
        "POST", "/v1/logon/verify", {"code": code_for(att["uri"], api.clock.now)}, user=user, scope="mfa:logon"
    )
    assert r.status_code == 200, r.json
    assert r.json["verified"] is True
    return r.json["mfa_token"]


def decode_mfa_token(token: str) -> dict:
    return mfa_claims(token)


def test_mfa_token_after_verify_carries_the_logon_result(api):
    token = verified_mfa_token(api)
    assert jwt.get_unverified_header(token)["alg"] == "ES256"
    decoded = decode_mfa_token(token)
    assert decoded["aud"] == "mail"
    assert decoded["sub"] == "alice@example.com"
    assert decoded["tenant"] == "demo"
    assert decoded["amr"] == ["otp"]
    assert decoded["iat"] == int(api.clock.now)
    assert decoded["exp"] == decoded["iat"] + 300


def test_mfa_token_names_the_user_lower_cased(api):
    decoded = decode_mfa_token(verified_mfa_token(api, user="Alice@Example.COM"))
    assert decoded["sub"] == "alice@example.com"


def test_mfa_token_is_refused_as_a_caller_token(api):
    token = verified_mfa_token(api)
    assert_unauthorized(get_factors(api, token))
    assert_unauthorized(api.call("POST", "/v1/logon", {}, token=token))
