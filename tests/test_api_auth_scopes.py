"""Scopes and who the caller is: what each scope reaches, the user's case, the tenant from the token alone."""

import jwt

from tests.conftest import attach, code_for
from tests.helpers_auth import FACTORS, assert_unauthorized, claims, get_factors, reload_settings

pytest_plugins = ["tests.helpers_auth"]  # the `fresh_settings_after` fixture


def assert_forbidden(response):
    assert response.status_code == 403, (response.status_code, response.json)
    assert response.json["error"] == "forbidden"


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
