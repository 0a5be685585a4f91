"""The mailbox administrator's tools: a user's factor summary and lock, reset, unlock, and the admin scope."""

import pytest

from tests.conftest import attach, code_for
from tests.helpers_admin import (
    ADMIN,
    ALICE,
    ALICE_PATH,
    LOGON,
    as_admin,
    attach_phone,
    lock,
    lockout_policy,
    verify,
    wrong_code,
)

MASKED_PHONE = "+86*******1234"


def admin_user(api, path_user=ALICE_PATH):
    r = as_admin(api, "GET", f"/v1/admin/users/{path_user}")
    assert r.status_code == 200, r.json
    return r.json


def create_app_password(api):
    r = api.as_user("POST", "/v1/app-passwords", {"label": "Thunderbird"})
    assert r.status_code == 201, r.json
    return r.json["password"]


def check_app_password(api, password):
    gateway = api.token("imap-gateway", "mfa:gateway")
    return api.call("POST", "/v1/app-passwords/check", {"user": ALICE, "password": password}, token=gateway)


# --- GET /v1/admin/users/{user} ----------------------------------------------------------------


def test_admin_sees_the_users_factor_summary_and_no_lock(api):
    attach(api)
    attach_phone(api)
    create_app_password(api)
    factors = api.as_user("GET", "/v1/factors").json
    r = as_admin(api, "GET", f"/v1/admin/users/{ALICE_PATH}")
    assert r.status_code == 200
    summary = r.json
    for key, value in factors.items():
        assert summary[key] == value, key
    assert summary["authenticator"]["attached"] is True
    assert summary["recovery_codes_left"] == 10 and summary["app_passwords"] == 1
    assert summary["phone"]["number"] == MASKED_PHONE
    assert "locked_until" in summary and summary["locked_until"] is None


def test_admin_lookup_finds_the_user_whatever_the_case_of_the_address(api):
    attach(api)
    assert admin_user(api, "ALICE%40Example.com")["authenticator"]["attached"] is True


def test_locked_until_is_the_end_of_the_lock(api):
    lockout_policy(api, max_failures=3, lock_seconds=900)
    att = attach(api)
    lock(api, att["uri"])
    assert admin_user(api)["locked_until"] == "2027-01-15T08:15:00Z"  # T0 + 900 s
    api.clock.advance(900)
    assert admin_user(api)["locked_until"] is None  # served


def test_admin_lookup_with_a_settings_token_is_403(api):
    r = api.as_user("GET", f"/v1/admin/users/{ALICE_PATH}")
    assert r.status_code == 403 and r.json["error"] == "forbidden"


@pytest.mark.parametrize("path_user", ["a" * 243 + "%40example.com", "tab%09name%40example.com"])
def test_admin_lookup_of_something_that_is_not_a_mailbox_is_400(api, path_user):
    r = as_admin(api, "GET", f"/v1/admin/users/{path_user}")
    assert r.status_code == 400 and r.json["error"] == "invalid_request"


# --- reset -------------------------------------------------------------------------------------


def test_reset_removes_authenticator_recovery_codes_devices_and_lock_but_keeps_phone_and_app_passwords(api):
    lockout_policy(api, max_failures=3)
    att = attach(api)
    attach_phone(api)
    password = create_app_password(api)
    api.clock.advance(30)
    trusted = verify(api, code_for(att["uri"], api.clock.now), trust_device=True)
    assert trusted.status_code == 200, trusted.json
    device_token = trusted.json["device_token"]
    before = api.as_user("POST", "/v1/logon", {"device_token": device_token}, scope=LOGON)
    assert before.json["next"] == "done"  # the device counts before the reset
    api.clock.advance(30)
    lock(api, att["uri"])
    assert admin_user(api)["locked_until"] is not None

    r = as_admin(api, "POST", f"/v1/admin/users/{ALICE_PATH}/reset")
    assert r.status_code == 200 and r.json == {"reset": True}

    factors = api.as_user("GET", "/v1/factors").json
    assert factors["authenticator"] is None
    assert factors["recovery_codes_left"] == 0
    assert factors["trusted_devices"] == 0
    assert factors["phone"]["number"] == MASKED_PHONE
    assert factors["app_passwords"] == 1
    after = api.as_user("POST", "/v1/logon", {"device_token": device_token}, scope=LOGON)
    assert after.status_code == 200
    assert after.json["next"] != "done" and after.json["methods"] == ["phone"]
    r = api.as_user(
        "POST", "/v1/logon/verify", {"method": "recovery_code", "code": att["recovery_codes"][0]}, scope=LOGON
    )
    assert r.status_code == 404 and r.json["error"] == "not_found"  # no authenticator, no recovery codes
    assert check_app_password(api, password).json == {"valid": True}
    assert admin_user(api)["locked_until"] is None
    assert api.as_user("GET", "/v1/devices").json == []
    # A new authenticator can be attached (the point of a lost-phone reset).
    assert api.as_user("POST", "/v1/authenticator/enroll", {}).status_code == 200


def test_reset_lifts_the_lock_so_codes_are_checked_again(api):
    lockout_policy(api, max_failures=3)
    att = attach(api)
    attach_phone(api)
    lock(api, att["uri"])
    assert as_admin(api, "POST", f"/v1/admin/users/{ALICE_PATH}/reset").json == {"reset": True}
    r = api.as_user("POST", "/v1/logon/verify", {"method": "phone", "code": "000000"}, scope=LOGON)
    assert r.status_code == 400 and r.json["error"] == "invalid_code"
    assert r.json["attempts_left"] == 2  # a fresh count, not 429 locked


def test_reset_by_a_non_admin_changes_nothing(api):
    attach(api)
    r = api.as_user("POST", f"/v1/admin/users/{ALICE_PATH}/reset")
    assert r.status_code == 403
    assert api.as_user("GET", "/v1/factors").json["authenticator"]["attached"] is True


# --- unlock ------------------------------------------------------------------------------------


def test_unlock_lets_a_locked_user_verify_again_and_leaves_the_factors(api):
    lockout_policy(api, max_failures=3)
    att = attach(api)
    api.clock.advance(30)
    lock(api, att["uri"])
    factors_before = api.as_user("GET", "/v1/factors").json

    r = as_admin(api, "POST", f"/v1/admin/users/{ALICE_PATH}/unlock")
    assert r.status_code == 200 and r.json == {"unlocked": True}

    assert admin_user(api)["locked_until"] is None
    assert api.as_user("GET", "/v1/factors").json == factors_before
    assert factors_before["authenticator"]["attached"] is True and factors_before["recovery_codes_left"] == 10
    r = verify(api, code_for(att["uri"], api.clock.now))
    assert r.status_code == 200 and r.json["verified"] is True


def test_unlock_restores_the_full_count_of_attempts(api):
    lockout_policy(api, max_failures=3)
    att = attach(api)
    lock(api, att["uri"])
    as_admin(api, "POST", f"/v1/admin/users/{ALICE_PATH}/unlock")
    r = verify(api, wrong_code(att["uri"], api.clock.now))
    assert r.status_code == 400 and r.json["attempts_left"] == 2


# --- scope -------------------------------------------------------------------------------------

ADMIN_ROUTES = [
    ("GET", f"/v1/admin/users/{ALICE_PATH}"),
    ("POST", f"/v1/admin/users/{ALICE_PATH}/reset"),
    ("POST", f"/v1/admin/users/{ALICE_PATH}/unlock"),
    ("GET", f"/v1/admin/events?user={ALICE_PATH}"),
]


@pytest.mark.parametrize("method,path", ADMIN_ROUTES)
@pytest.mark.parametrize("scope", ["mfa:settings", LOGON, "mfa:gateway"])
def test_admin_routes_need_the_admin_scope(api, method, path, scope):
    r = api.as_user(method, path, user=ADMIN, scope=scope)
    assert r.status_code == 403 and r.json["error"] == "forbidden"


@pytest.mark.parametrize("method,path", ADMIN_ROUTES)
def test_admin_routes_without_a_token_are_401(api, method, path):
    r = api.call(method, path)
    assert r.status_code == 401 and r.json["error"] == "unauthorized"
