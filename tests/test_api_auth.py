"""Bearer tokens (API.md "Callers and tokens") and the signed logon result ("The logon result")."""

import base64
import hashlib
import hmac
import json

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mfa_core import runtime
from mfa_core.config import DEV_SECRET
from tests.conftest import attach, code_for, make_token

FACTORS = "/v1/factors"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_made(header: dict, payload: dict, signature: bytes = b"") -> str:
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}"
    return f"{signing_input}.{b64url(signature)}"


def hs256_by_hand(payload: dict, secret: bytes) -> str:
    """An HS256 token PyJWT would refuse to make (it won't use a PEM key as an HMAC secret)."""
    header = {"alg": "HS256", "typ": "JWT"}
    signing_input = hand_made(header, payload).rsplit(".", 1)[0]
    return f"{signing_input}.{b64url(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())}"


def rsa_key_pair() -> tuple[str, str]:
    """(private PEM, public PEM) of a fresh 2048-bit RSA key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def claims(api, **changes) -> dict:
    """A valid caller payload at the service's clock; a change to None drops that claim."""
    now = int(api.clock.now)
    payload = {
        "sub": "alice@example.com",
        "tenant": "demo",
        "scope": "mfa:settings",
        "aud": "mfa",
        "iat": now,
        "exp": now + 600,
    }
    payload.update(changes)
    return {k: v for k, v in payload.items() if v is not None}


def get_factors(api, token):
    return api.call("GET", FACTORS, token=token)


def assert_unauthorized(response):
    assert response.status_code == 401, (response.status_code, response.json)
    assert response.json["error"] == "unauthorized"


def assert_forbidden(response):
    assert response.status_code == 403, (response.status_code, response.json)
    assert response.json["error"] == "forbidden"


def reload_settings(api, monkeypatch, **env):
    """Restart the container's settings with `env` (as a new deployment would read them)."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    runtime.reset()
    runtime.current().clock = api.clock


@pytest.fixture
def fresh_settings_after():
    yield
    runtime.reset()


# --- what a token must be ---------------------------------------------------------------------


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


# --- scopes -----------------------------------------------------------------------------------


def test_scope_that_does_not_cover_the_endpoint_is_forbidden(api):
    cases = [
        ("mfa:logon", "GET", FACTORS, None),
        ("mfa:logon", "PUT", "/v1/policy", {"two_factor": "on"}),
        ("mfa:settings", "POST", "/v1/logon/verify", {"code": "123456"}),
        ("mfa:settings", "POST", "/v1/logon", {}),
        ("mfa:settings", "GET", "/v1/policy", None),
        ("mfa:settings", "PUT", "/v1/policy", {"two_factor": "on"}),
        ("mfa:admin", "GET", FACTORS, None),
        ("mfa:admin", "POST", "/v1/authenticator/enroll", {}),
        ("mfa:everything", "GET", FACTORS, None),
    ]
    gateway = [("mfa:gateway", method, path, body) for _, method, path, body in cases]
    for scope, method, path, body in cases + gateway:
        r = api.as_user(method, path, body, scope=scope)
        assert r.status_code == 403, (scope, method, path, r.json)
        assert r.json["error"] == "forbidden"
    # The refused PUTs changed nothing.
    assert api.as_user("GET", "/v1/policy", scope="mfa:admin").json["two_factor"] == "off"


def test_one_of_several_scopes_is_enough(api):
    r = api.as_user("GET", "/v1/policy", scope="mfa:settings mfa:admin")
    assert r.status_code == 200, r.json
    r = api.as_user("GET", FACTORS, scope="mfa:unknown mfa:settings")
    assert r.status_code == 200, r.json


# --- who the caller is ------------------------------------------------------------------------


def test_user_is_compared_after_ascii_lower_casing(api):
    attach(api, user="Alice@Example.com")
    r = api.as_user("GET", FACTORS, user="alice@example.com")
    assert r.status_code == 200
    assert r.json["authenticator"] is not None and r.json["authenticator"]["attached"] is True
    api.as_user("PUT", "/v1/policy", {"two_factor": "on"}, scope="mfa:admin")
    r = api.as_user("POST", "/v1/logon", {}, user="ALICE@EXAMPLE.COM", scope="mfa:logon")
    assert r.json["next"] == "verify", r.json


def test_only_ascii_letters_are_lower_cased(api):
    attach(api, user="\u00c9ve@example.com")  # É
    assert api.as_user("GET", FACTORS, user="\u00c9ve@example.com").json["authenticator"] is not None
    assert api.as_user("GET", FACTORS, user="\u00e9ve@example.com").json["authenticator"] is None  # é


def test_tenant_comes_only_from_the_token(api):
    att = attach(api, tenant="demo")
    api.as_user("PUT", "/v1/policy", {"two_factor": "on"}, scope="mfa:admin", tenant="demo")
    api.as_user("PUT", "/v1/policy", {"two_factor": "on"}, scope="mfa:admin", tenant="other")
    other = api.token(tenant="other")

    r = api.call("GET", FACTORS + "?tenant=demo", token=other)
    assert r.status_code == 200, r.json
    assert r.json["authenticator"] is None

    r = api.as_user("POST", "/v1/logon", {"tenant": "demo"}, scope="mfa:logon", tenant="other")
    assert r.status_code == 200, r.json
    assert r.json["next"] == "enroll"

    api.clock.advance(30)
    r = api.as_user(
        "POST", "/v1/logon/verify", {"code": code_for(att["uri"], api.clock.now)}, scope="mfa:logon", tenant="other"
    )
    assert r.status_code == 404, r.json
    assert r.json["error"] == "not_found"

    # Demo's own user is untouched and still verifies there.
    r = api.as_user("POST", "/v1/logon/verify", {"code": code_for(att["uri"], api.clock.now)}, scope="mfa:logon")
    assert r.status_code == 200, r.json


def test_pinned_deployment_refuses_other_tenants(api, monkeypatch, fresh_settings_after):
    reload_settings(api, monkeypatch, MFA_TENANT="demo")
    r = get_factors(api, api.token(tenant="other"))
    assert_forbidden(r)
    r = api.as_user("GET", "/v1/policy", scope="mfa:admin", tenant="other")
    assert_forbidden(r)
    r = get_factors(api, api.token(tenant="demo"))
    assert r.status_code == 200, r.json


def test_pinned_deployment_still_refuses_a_bad_token_with_401(api, monkeypatch, fresh_settings_after):
    reload_settings(api, monkeypatch, MFA_TENANT="demo")
    token = jwt.encode(claims(api, tenant="other"), "not-the-deployment-secret-xxxxxxxxx", algorithm="HS256")
    assert_unauthorized(get_factors(api, token))


# --- an RS256 deployment ----------------------------------------------------------------------


@pytest.fixture
def rs256(api, monkeypatch, fresh_settings_after):
    """A deployment that verifies callers with an RSA public key and signs mfa_tokens with its own key."""
    caller_private, caller_public = rsa_key_pair()
    signing_private, signing_public = rsa_key_pair()
    reload_settings(
        api,
        monkeypatch,
        MFA_JWT_ALGORITHM="RS256",
        MFA_JWT_PUBLIC_KEY=caller_public,
        MFA_JWT_SIGNING_KEY=signing_private,
    )
    return {"caller_private": caller_private, "caller_public": caller_public, "signing_public": signing_public}


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


def test_rs256_deployment_signs_the_mfa_token_with_its_signing_key(api, rs256):
    logon = rs_token(api, rs256["caller_private"], scope="mfa:logon")
    # Two-factor is off, so the logon decision is `done` and already carries the logon result.
    r = api.call("POST", "/v1/logon", {}, token=logon)
    assert r.status_code == 200, r.json
    assert r.json["next"] == "done"
    assert jwt.get_unverified_header(r.json["mfa_token"])["alg"] == "RS256"
    decoded = jwt.decode(
        r.json["mfa_token"],
        rs256["signing_public"],
        algorithms=["RS256"],
        audience="mail",
        options={"verify_exp": False, "verify_iat": False},
    )
    assert decoded["sub"] == "alice@example.com" and decoded["amr"] == ["none"]
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(
            r.json["mfa_token"],
            rs256["caller_public"],
            algorithms=["RS256"],
            audience="mail",
            options={"verify_exp": False, "verify_iat": False},
        )


# --- the logon result -------------------------------------------------------------------------


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
    return jwt.decode(
        token, DEV_SECRET, algorithms=["HS256"], audience="mail", options={"verify_exp": False, "verify_iat": False}
    )


def test_mfa_token_after_verify_carries_the_logon_result(api):
    token = verified_mfa_token(api)
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
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
