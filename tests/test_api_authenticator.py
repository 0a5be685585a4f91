"""Attach and delete an authenticator through the HTTP contract: enroll, confirm, delete, factors."""

import pytest

from tests.conftest import attach, code_for, mfa_claims
from tests.helpers_authenticator import LOGON, turn_on, verify

# --- enroll ------------------------------------------------------------------------------------


def test_enroll_returns_uri_grouped_secret_qr_and_expiry(api):
    r = api.as_user("POST", "/v1/authenticator/enroll", {"name": "My phone"})
    assert r.status_code == 200
    body = r.json
    assert body["otpauth_uri"].startswith("otpauth://totp/demo:alice%40example.com?secret=")
    secret = body["secret"].replace(" ", "")
    assert f"secret={secret}&" in body["otpauth_uri"]
    assert [len(g) for g in body["secret"].split(" ")] == [4] * 8
    assert body["qr_png"].startswith("data:image/png;base64,")
    assert body["expires_at"] == "2027-01-15T08:10:00Z"  # T0 + 10 minutes
    assert r.headers["Cache-Control"] == "no-store"


def test_enroll_while_attached_is_409(api):
    attach(api)
    r = api.as_user("POST", "/v1/authenticator/enroll", {})
    assert r.status_code == 409 and r.json["error"] == "already_attached"


def test_new_enrollment_replaces_the_earlier_one(api):
    first = api.as_user("POST", "/v1/authenticator/enroll", {}).json
    second = api.as_user("POST", "/v1/authenticator/enroll", {}).json
    r = api.as_user(
        "POST",
        "/v1/authenticator/confirm",
        {"enrollment_id": first["enrollment_id"], "code": code_for(first["otpauth_uri"], api.clock.now)},
    )
    assert r.status_code == 404 and r.json["error"] == "not_found"
    r = api.as_user(
        "POST",
        "/v1/authenticator/confirm",
        {"enrollment_id": second["enrollment_id"], "code": code_for(second["otpauth_uri"], api.clock.now)},
    )
    assert r.status_code == 200


@pytest.mark.parametrize("name", [5, "", " " * 3, "x" * 65, "tab\tname"])
def test_enroll_with_a_bad_name_is_400(api, name):
    r = api.as_user("POST", "/v1/authenticator/enroll", {"name": name})
    assert r.status_code == 400 and r.json["error"] == "invalid_request"


def test_enroll_is_forbidden_when_the_policy_has_no_authenticator_method(api):
    turn_on(api, methods=["phone"])
    r = api.as_user("POST", "/v1/authenticator/enroll", {})
    assert r.status_code == 403 and r.json["error"] == "forbidden"


def test_logon_token_may_enroll_only_while_the_logon_decision_is_enroll(api):
    r = api.as_user("POST", "/v1/authenticator/enroll", {}, scope=LOGON)
    assert r.status_code == 403  # two-factor is off: nothing to attach during logon
    turn_on(api)
    enrolled = api.as_user("POST", "/v1/authenticator/enroll", {}, scope=LOGON)
    assert enrolled.status_code == 200
    confirmed = api.as_user(
        "POST",
        "/v1/authenticator/confirm",
        {
            "enrollment_id": enrolled.json["enrollment_id"],
            "code": code_for(enrolled.json["otpauth_uri"], api.clock.now),
        },
        scope=LOGON,
    )
    assert confirmed.status_code == 200
    claims = mfa_claims(confirmed.json["mfa_token"])  # Method 1 completes the logon
    assert claims["amr"] == ["otp"] and claims["sub"] == "alice@example.com" and claims["tenant"] == "demo"
    r = api.as_user("POST", "/v1/authenticator/enroll", {}, scope=LOGON)
    assert r.status_code in (403, 409)


# --- the pending enrollment, read back (a reloaded Attach page, a second tab) --------------------


def test_the_pending_enrollment_reads_back_as_enroll_answered_it_and_its_code_attaches(api):
    enrolled = api.as_user("POST", "/v1/authenticator/enroll", {"name": "My phone"}).json
    api.clock.advance(300)
    r = api.as_user("GET", "/v1/authenticator/enrollment")
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    assert r.json == enrolled  # same id, secret, QR code and expiry: reading neither renews nor extends it
    confirmed = api.as_user(
        "POST",
        "/v1/authenticator/confirm",
        {"enrollment_id": r.json["enrollment_id"], "code": code_for(r.json["otpauth_uri"], api.clock.now)},
    )
    assert confirmed.status_code == 200
    assert api.as_user("GET", "/v1/factors").json["authenticator"]["name"] == "My phone"
    again = api.as_user("GET", "/v1/authenticator/enrollment")
    assert again.status_code == 409 and again.json["error"] == "already_attached"


def test_reading_back_shows_the_newest_enrollment_only_to_its_own_user(api):
    api.as_user("POST", "/v1/authenticator/enroll", {})
    newer = api.as_user("POST", "/v1/authenticator/enroll", {}).json
    assert api.as_user("GET", "/v1/authenticator/enrollment").json["enrollment_id"] == newer["enrollment_id"]
    bob = api.as_user("GET", "/v1/authenticator/enrollment", user="bob@example.com")
    assert bob.status_code == 404 and bob.json["error"] == "not_found"
    other_tenant = api.as_user("GET", "/v1/authenticator/enrollment", tenant="other")
    assert other_tenant.status_code == 404


def test_no_pending_enrollment_or_an_expired_one_is_404(api):
    assert api.as_user("GET", "/v1/authenticator/enrollment").status_code == 404
    api.as_user("POST", "/v1/authenticator/enroll", {})
    api.clock.advance(599)
    assert api.as_user("GET", "/v1/authenticator/enrollment").status_code == 200
    api.clock.advance(1)
    r = api.as_user("GET", "/v1/authenticator/enrollment")
    assert r.status_code == 404 and r.json["error"] == "not_found"


def test_reading_back_is_allowed_as_enroll_is(api):
    enrolled = api.as_user("POST", "/v1/authenticator/enroll", {}).json
    assert api.as_user("GET", "/v1/authenticator/enrollment", scope=LOGON).status_code == 403  # two-factor off
    assert api.as_user("GET", "/v1/authenticator/enrollment", scope="mfa:admin").status_code == 403
    turn_on(api)
    assert api.as_user("GET", "/v1/authenticator/enrollment", scope=LOGON).json == enrolled  # Method 1
    turn_on(api, methods=["phone"])
    assert api.as_user("GET", "/v1/authenticator/enrollment").status_code == 403


# --- confirm -----------------------------------------------------------------------------------


def test_confirm_attaches_and_returns_ten_recovery_codes(api):
    att = attach(api)
    assert att["attached"] is True and "mfa_token" not in att
    codes = att["recovery_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(len(c) == 9 and c[4] == "-" for c in codes)
    factors = api.as_user("GET", "/v1/factors").json
    assert factors["authenticator"]["attached"] is True
    assert factors["authenticator"]["attached_at"] == "2027-01-15T08:00:00Z"
    assert factors["recovery_codes_left"] == 10


def test_wrong_confirm_code_is_400_with_attempts_left(api):
    enrolled = api.as_user("POST", "/v1/authenticator/enroll", {}).json
    good = code_for(enrolled["otpauth_uri"], api.clock.now)
    wrong = "000000" if good != "000000" else "111111"
    r = api.as_user("POST", "/v1/authenticator/confirm", {"enrollment_id": enrolled["enrollment_id"], "code": wrong})
    assert r.status_code == 400
    assert r.json == {"error": "invalid_code", "message": r.json["message"], "attempts_left": 4}
    assert api.as_user("GET", "/v1/factors").json["authenticator"] is None


def test_confirm_after_ten_minutes_is_410(api):
    enrolled = api.as_user("POST", "/v1/authenticator/enroll", {}).json
    api.clock.advance(601)
    r = api.as_user(
        "POST",
        "/v1/authenticator/confirm",
        {"enrollment_id": enrolled["enrollment_id"], "code": code_for(enrolled["otpauth_uri"], api.clock.now)},
    )
    assert r.status_code == 410 and r.json["error"] == "enrollment_expired"


def test_confirm_unknown_enrollment_is_404(api):
    r = api.as_user("POST", "/v1/authenticator/confirm", {"enrollment_id": "nope", "code": "123456"})
    assert r.status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"enrollment_id": "x"},
        {"code": "123456"},
        {"enrollment_id": 1, "code": "1"},
        {"enrollment_id": "x", "code": 123456},
        {"enrollment_id": "x", "code": None},
    ],
)
def test_confirm_with_missing_or_non_string_fields_is_400_invalid_request(api, body):
    r = api.as_user("POST", "/v1/authenticator/confirm", body)
    assert r.status_code == 400 and r.json["error"] == "invalid_request"


def test_confirm_code_cannot_be_used_again_at_logon(api):
    turn_on(api)
    att = attach(api)
    used = code_for(att["uri"], api.clock.now)
    r = verify(api, used)
    assert r.status_code == 400 and r.json["error"] == "invalid_code"


# --- delete ------------------------------------------------------------------------------------


def test_delete_with_a_current_code_removes_the_authenticator_and_its_recovery_codes(api):
    turn_on(api)
    att = attach(api)
    api.clock.advance(30)
    r = api.as_user("DELETE", "/v1/authenticator", {"code": code_for(att["uri"], api.clock.now)})
    assert r.status_code == 200 and r.json == {"deleted": True}
    factors = api.as_user("GET", "/v1/factors").json
    assert factors["authenticator"] is None and factors["recovery_codes_left"] == 0
    assert api.as_user("POST", "/v1/logon", {}, scope=LOGON).json["next"] == "enroll"
    again = api.as_user("DELETE", "/v1/authenticator", {"code": code_for(att["uri"], api.clock.now + 30)})
    assert again.status_code == 404


def test_delete_with_a_recovery_code_when_the_phone_is_lost(api):
    att = attach(api)
    r = api.as_user("DELETE", "/v1/authenticator", {"recovery_code": att["recovery_codes"][0]})
    assert r.status_code == 200
    assert api.as_user("GET", "/v1/factors").json["authenticator"] is None


def test_delete_with_a_wrong_code_keeps_the_authenticator(api):
    att = attach(api)
    api.clock.advance(30)
    good = code_for(att["uri"], api.clock.now)
    r = api.as_user("DELETE", "/v1/authenticator", {"code": "000000" if good != "000000" else "111111"})
    assert r.status_code == 400 and r.json["attempts_left"] == 4
    assert api.as_user("GET", "/v1/factors").json["authenticator"] is not None


@pytest.mark.parametrize("body", [{}, {"code": "123456", "recovery_code": "abcd-efgh"}, {"code": 123456}])
def test_delete_needs_exactly_one_proof(api, body):
    attach(api)
    r = api.as_user("DELETE", "/v1/authenticator", body)
    assert r.status_code == 400 and r.json["error"] == "invalid_request"


def test_delete_is_settings_scope_only(api):
    attach(api)
    r = api.as_user("DELETE", "/v1/authenticator", {"code": "123456"}, scope=LOGON)
    assert r.status_code == 403


def test_reattach_after_delete_works_with_a_new_secret(api):
    first = attach(api)
    api.clock.advance(30)
    assert (
        api.as_user("DELETE", "/v1/authenticator", {"code": code_for(first["uri"], api.clock.now)}).status_code == 200
    )
    second = attach(api)
    assert second["secret"] != first["secret"]
    api.clock.advance(30)
    assert verify(api, code_for(first["uri"], api.clock.now)).status_code == 400
    assert verify(api, code_for(second["uri"], api.clock.now)).status_code == 200


# --- factors -----------------------------------------------------------------------------------


def test_factors_of_a_new_user(api):
    r = api.as_user("GET", "/v1/factors")
    assert r.status_code == 200
    assert r.json == {
        "authenticator": None,
        "phone": None,
        "recovery_codes_left": 0,
        "trusted_devices": 0,
        "app_passwords": 0,
        "allowed": {"methods": ["authenticator", "phone"], "trusted_device_days": 30, "app_passwords": True},
    }
