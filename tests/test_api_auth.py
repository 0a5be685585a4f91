"""Bearer tokens (API.md "Callers and tokens"): what a caller's token must be."""

import jwt
import pytest

from mfa_core.config import DEV_SECRET
from tests.conftest import make_token
from tests.helpers_auth import FACTORS, assert_unauthorized, claims, get_factors, hand_made, rsa_key_pair


def test_valid_token_is_accepted(api):
    r = get_factors(api, jwt.encode(claims(api), DEV_SECRET, algorithm="HS256"))
    assert r.status_code == 200, r.json
    assert r.json["authenticator"] is None


def test_missing_authorization_header_is_refused(api):
    assert_unauthorized(api.call("GET", FACTORS))


def test_non_bearer_scheme_is_refused(api):
    token = api.token()
    for value in (f"Basic {token}", f"Token {token}", token, "Bearer", "Bearer ", f"Bearer{token}"):
        r = api.call("GET", FACTORS, headers={"Authorization": value})
        assert r.status_code == 401, (value[:20], r.json)


def test_garbage_token_is_refused(api):
    for token in ("garbage", "a.b.c", "e30.e30.", api.token()[:-4], api.token() + "x"):
        assert_unauthorized(get_factors(api, token))


def test_alg_none_token_is_refused(api):
    assert_unauthorized(get_factors(api, jwt.encode(claims(api), None, algorithm="none")))
    for alg in ("none", "None", "NONE"):
        assert_unauthorized(get_factors(api, hand_made({"alg": alg, "typ": "JWT"}, claims(api))))
        forged = hand_made({"alg": alg, "typ": "JWT"}, claims(api), b"signature")
        assert_unauthorized(get_factors(api, forged))


def test_token_signed_with_a_wrong_key_is_refused(api):
    token = jwt.encode(claims(api), "another-secret-of-the-same-length-xx", algorithm="HS256")
    assert_unauthorized(get_factors(api, token))


def test_rs256_token_is_refused_by_an_hs256_deployment(api):
    private, _ = rsa_key_pair()
    assert_unauthorized(get_factors(api, jwt.encode(claims(api), private, algorithm="RS256")))


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_hs512_token_with_the_right_secret_is_refused(api):
    assert_unauthorized(get_factors(api, jwt.encode(claims(api), DEV_SECRET, algorithm="HS512")))


def test_expired_token_is_refused(api):
    now = int(api.clock.now)
    assert_unauthorized(get_factors(api, make_token(now=now - 700, lifetime=600)))
    # Judged by the service's clock: a token the wall clock would still accept is expired here.
    api.clock.advance(3600)
    assert_unauthorized(get_factors(api, make_token(now=now, lifetime=600)))


def test_expiry_has_30_seconds_of_leeway(api):
    now = int(api.clock.now)
    within = jwt.encode(claims(api, iat=now - 600, exp=now - 25), DEV_SECRET, algorithm="HS256")
    assert get_factors(api, within).status_code == 200
    beyond = jwt.encode(claims(api, iat=now - 600, exp=now - 31), DEV_SECRET, algorithm="HS256")
    assert_unauthorized(get_factors(api, beyond))


def test_token_issued_in_the_future_is_refused(api):
    now = int(api.clock.now)
    beyond = jwt.encode(claims(api, iat=now + 31, exp=now + 600), DEV_SECRET, algorithm="HS256")
    assert_unauthorized(get_factors(api, beyond))
    far = jwt.encode(claims(api, iat=now + 86400, exp=now + 87000), DEV_SECRET, algorithm="HS256")
    assert_unauthorized(get_factors(api, far))
    within = jwt.encode(claims(api, iat=now + 25, exp=now + 600), DEV_SECRET, algorithm="HS256")
    assert get_factors(api, within).status_code == 200


def test_wrong_audience_is_refused(api):
    for aud in ("mail", "MFA", "mfa-admin", ["mail"], ""):
        token = jwt.encode(claims(api, aud=aud), DEV_SECRET, algorithm="HS256")
        r = get_factors(api, token)
        assert r.status_code == 401, (aud, r.json)


def test_token_missing_a_claim_is_refused(api):
    for claim in ("sub", "tenant", "scope", "aud", "exp", "iat"):
        token = jwt.encode(claims(api, **{claim: None}), DEV_SECRET, algorithm="HS256")
        r = get_factors(api, token)
        assert r.status_code == 401, (claim, r.json)
        assert r.json["error"] == "unauthorized"


def test_token_with_a_claim_of_the_wrong_form_is_refused(api):
    now = int(api.clock.now)
    bad = [
        {"sub": ""},
        {"sub": "a" * 245 + "@example.com"},
        {"sub": 42},
        {"tenant": 42},
        {"scope": ["mfa:settings"]},
        {"exp": str(now + 600)},
        {"iat": True},
    ]
    for change in bad:
        token = jwt.encode(claims(api, **change), DEV_SECRET, algorithm="HS256")
        r = get_factors(api, token)
        assert r.status_code == 401, (change, r.json)


def test_invalid_tenant_id_is_refused(api):
    for tenant in ("Acme!", "Demo", "-demo", "de mo", "demo.example.com", "a" * 64, ""):
        r = get_factors(api, make_token(tenant=tenant, now=api.clock.now))
        assert r.status_code == 401, (tenant, r.json)
