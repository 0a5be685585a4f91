"""The logon decision and a code's verify: once only, newer steps, the code's form, recovery codes."""

import pytest

from tests.conftest import attach, code_for, mfa_claims
from tests.helpers_authenticator import LOGON, turn_on, verify

# --- the logon decision ----------------------------------------------------------------------


def test_logon_with_two_factor_off_is_done_with_an_mfa_token(api):
    r = api.as_user("POST", "/v1/logon", {}, scope=LOGON)
    assert r.status_code == 200
    assert r.json["next"] == "done" and r.json["methods"] == [] and r.json["trusted_device_allowed"] is True
    assert mfa_claims(r.json["mfa_token"])["amr"] == ["none"]


def test_logon_with_an_attached_authenticator_asks_to_verify(api):
    turn_on(api)
    attach(api)
    r = api.as_user("POST", "/v1/logon", {}, scope=LOGON)
    assert r.json == {"next": "verify", "methods": ["authenticator"], "trusted_device_allowed": True}


def test_logon_without_a_factor_asks_to_enroll_with_the_policy_methods(api):
    turn_on(api, methods=["authenticator"], trusted_device_days=0)
    r = api.as_user("POST", "/v1/logon", {}, scope=LOGON)
    assert r.json == {"next": "enroll", "methods": ["authenticator"], "trusted_device_allowed": False}
    r = api.as_user("POST", "/v1/logon/skip", {}, scope=LOGON)
    assert r.status_code == 403


def test_grace_period_lets_a_user_without_a_factor_skip(api):
    turn_on(api, enroll_grace_days=7)
    r = api.as_user("POST", "/v1/logon", {}, scope=LOGON)
    assert r.json["next"] == "enroll" and r.json["skippable"] is True
    assert r.json["grace_until"] == "2027-01-22T08:00:00Z"
    skipped = api.as_user("POST", "/v1/logon/skip", {}, scope=LOGON)
    assert skipped.status_code == 200 and mfa_claims(skipped.json["mfa_token"])["amr"] == ["none"]
    api.clock.advance(7 * 86400)
    assert "skippable" not in api.as_user("POST", "/v1/logon", {}, scope=LOGON).json
    assert api.as_user("POST", "/v1/logon/skip", {}, scope=LOGON).status_code == 403


def test_logon_device_token_must_be_a_string(api):
    r = api.as_user("POST", "/v1/logon", {"device_token": 5}, scope=LOGON)
    assert r.status_code == 400 and r.json["error"] == "invalid_request"


# --- verify ------------------------------------------------------------------------------------


def test_verify_accepts_the_current_code_once(api):
    turn_on(api)
    att = attach(api)
    api.clock.advance(30)
    code = code_for(att["uri"], api.clock.now)
    first = verify(api, code)
    assert first.status_code == 200 and first.json["verified"] is True
    assert first.headers["Cache-Control"] == "no-store"
    claims = mfa_claims(first.json["mfa_token"])
    assert claims["aud"] == "mail" and claims["amr"] == ["otp"] and claims["exp"] - claims["iat"] == 300
    replay = verify(api, code)
    assert replay.status_code == 400 and replay.json["error"] == "invalid_code"


def test_code_with_a_space_in_the_middle_is_accepted(api):
    att = attach(api)
    api.clock.advance(30)
    code = code_for(att["uri"], api.clock.now)
    assert verify(api, f"{code[:3]} {code[3:]}").status_code == 200


def test_an_older_step_is_refused_after_a_newer_one(api):
    att = attach(api)
    api.clock.advance(60)
    newer = code_for(att["uri"], api.clock.now)
    older = code_for(att["uri"], api.clock.now, offset_steps=-1)  # inside the window, but before the accepted step
    assert verify(api, newer).status_code == 200
    r = verify(api, older)
    assert r.status_code == 400 and r.json["error"] == "invalid_code"


def test_wrong_replayed_and_expired_codes_get_the_same_answer(api):
    att = attach(api)
    api.clock.advance(30)
    good = code_for(att["uri"], api.clock.now)
    assert verify(api, good).status_code == 200
    api.clock.advance(30)
    expired = code_for(att["uri"], api.clock.now, offset_steps=-5)
    wrong = next(c for c in ("000000", "111111", "222222") if c not in (good, expired))
    answers = [verify(api, c) for c in (wrong, good, expired)]
    assert [a.status_code for a in answers] == [400, 400, 400]
    assert [a.json["message"] for a in answers] == [answers[0].json["message"]] * 3
    assert [a.json["attempts_left"] for a in answers] == [4, 3, 2]


@pytest.mark.parametrize("code", ["١٢٣٤٥٦", "１２３４５６", "12345", "1234567", "12a456", "123\t456", ""])
def test_codes_of_the_wrong_form_are_invalid_code(api, code):
    attach(api)
    r = verify(api, code)
    assert r.status_code == 400 and r.json["error"] == "invalid_code" and r.json["attempts_left"] == 4


def test_non_ascii_digits_of_the_right_code_are_refused(api):
    att = attach(api)
    api.clock.advance(30)
    code = code_for(att["uri"], api.clock.now)
    fullwidth = "".join(chr(0xFF10 + int(d)) for d in code)
    assert verify(api, fullwidth).status_code == 400
    assert verify(api, code).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"code": 123456},
        {"code": None},
        {},
        {"method": "sms", "code": "123456"},
        {"method": 1, "code": "123456"},
        {"code": "123456", "trust_device": "yes"},
    ],
)
def test_malformed_verify_requests_are_400_invalid_request(api, body):
    attach(api)
    r = api.as_user("POST", "/v1/logon/verify", body, scope=LOGON)
    assert r.status_code == 400 and r.json["error"] == "invalid_request"
    assert "attempts_left" not in r.json


def test_verify_without_an_authenticator_is_404(api):
    r = verify(api, "123456")
    assert r.status_code == 404 and r.json["error"] == "not_found"
    r = verify(api, "123456", method="phone")
    assert r.status_code == 404


def test_recovery_code_completes_the_logon_once(api):
    att = attach(api)
    code = att["recovery_codes"][3]
    r = verify(api, code.upper().replace("-", " "), method="recovery_code")
    assert r.status_code == 200 and mfa_claims(r.json["mfa_token"])["amr"] == ["recovery"]
    assert api.as_user("GET", "/v1/factors").json["recovery_codes_left"] == 9
    again = verify(api, code, method="recovery_code")
    assert again.status_code == 400 and again.json["error"] == "invalid_code"
