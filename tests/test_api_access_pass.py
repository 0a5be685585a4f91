"""The temporary access pass (API.md "Tenant overview and temporary access pass"): issue, log on, re-attach."""

import re

import jwt
import pytest
from moto.sns.models import sns_backends

from tests.conftest import attach, code_for
from tests.helpers_admin import ALICE_PATH, LOGON, as_admin, attach_phone, events_of, lockout_policy, names, verify
from tests.test_api_notifications import topic_messages

PASS = re.compile(r"^[0-9a-hjkmnp-tv-z]{4}(-[0-9a-hjkmnp-tv-z]{4}){3}$")
URL = f"/v1/admin/users/{ALICE_PATH}/access-pass"


def issue(api, **body):
    r = as_admin(api, "POST", URL, body)
    assert r.status_code == 201, r.json
    return r.json


def with_pass(api, code):
    return api.as_user("POST", "/v1/logon/verify", {"method": "access_pass", "code": code}, scope=LOGON)


def logon(api):
    return api.as_user("POST", "/v1/logon", {}, scope=LOGON)


def test_a_pass_is_crockford_base32_and_expires_after_the_hours(api):
    body = issue(api)
    assert PASS.match(body["access_pass"]) and body["expires_at"] == "2027-01-15T16:00:00Z"  # T0 + 8 h
    assert issue(api, hours=72)["expires_at"] == "2027-01-18T08:00:00Z"


@pytest.mark.parametrize("hours", [0, 73, True, 1.5, "8"])
def test_hours_outside_1_to_72_or_not_an_integer_is_400(api, hours):
    r = as_admin(api, "POST", URL, {"hours": hours})
    assert r.status_code == 400 and r.json["error"] == "invalid_request"


def test_a_live_pass_is_offered_at_logon_and_verifies_once_with_amr_pass(api):
    lockout_policy(api)
    attach(api)
    assert logon(api).json["methods"] == ["authenticator"]
    code = issue(api)["access_pass"]
    r = logon(api)
    assert r.json["next"] == "verify" and r.json["methods"][-1] == "access_pass"
    r = with_pass(api, " " + code.upper().replace("-", " ") + " ")  # case, spaces and hyphens ignored
    assert r.status_code == 200 and r.json["verified"] is True, r.json
    assert jwt.decode(r.json["mfa_token"], options={"verify_signature": False})["amr"] == ["pass"]
    r = with_pass(api, code)
    assert r.status_code == 400 and r.json["error"] == "invalid_code" and r.json["attempts_left"] == 2
    assert "access_pass" not in logon(api).json["methods"]
    assert {"access_pass_issued", "access_pass_used"} <= set(names(events_of(api)))
    issued = next(e for e in events_of(api) if e["event"] == "access_pass_issued")
    assert issued["detail"]["admin"] == "admin@example.com"
    sent = [m["event"] for m in topic_messages()]
    assert "access_pass_issued" in sent and "access_pass_used" in sent


def test_wrong_expired_and_replaced_passes_are_failed_codes_then_locked(api):
    lockout_policy(api, max_failures=4)
    attach(api)
    old = issue(api)["access_pass"]
    new = issue(api)["access_pass"]
    assert old != new
    assert with_pass(api, old).json["attempts_left"] == 3  # replaced
    assert with_pass(api, "abcd-efgh-jkmn-pqrs").json["attempts_left"] == 2  # wrong
    api.clock.advance(8 * 3600 + 1)
    assert with_pass(api, new).json["attempts_left"] == 1  # expired
    issue(api)
    assert with_pass(api, "abcd-efgh-jkmn-pqrs").json["attempts_left"] == 0
    r = with_pass(api, "abcd-efgh-jkmn-pqrs")
    assert r.status_code == 429 and r.json["error"] == "locked"


def test_delete_revokes_the_pass_and_is_404_when_none(api):
    lockout_policy(api)
    attach(api)
    r = as_admin(api, "DELETE", URL)
    assert r.status_code == 404 and r.json["error"] == "not_found"
    code = issue(api)["access_pass"]
    r = as_admin(api, "DELETE", URL)
    assert r.status_code == 200 and r.json == {"deleted": True}
    assert "access_pass_revoked" in names(events_of(api))
    assert with_pass(api, code).status_code == 400


def test_lost_phone_end_to_end_the_new_authenticator_replaces_the_old(api):
    lockout_policy(api, max_failures=5)
    old = attach(api)
    api.clock.advance(30)
    trusted = verify(api, code_for(old["uri"], api.clock.now), trust_device=True).json["device_token"]
    assert with_pass(api, issue(api)["access_pass"]).status_code == 200
    enrolled = api.as_user("POST", "/v1/authenticator/enroll", {}, scope=LOGON)
    assert enrolled.status_code == 200, enrolled.json
    new_uri = enrolled.json["otpauth_uri"]
    r = api.as_user("POST", "/v1/authenticator/confirm",
                    {"enrollment_id": enrolled.json["enrollment_id"], "code": code_for(new_uri, api.clock.now)},
                    scope=LOGON)
    assert r.status_code == 200 and r.json["attached"] is True and r.json["mfa_token"], r.json
    assert len(r.json["recovery_codes"]) == 10
    api.clock.advance(30)
    assert verify(api, code_for(old["uri"], api.clock.now)).status_code == 400
    assert verify(api, code_for(new_uri, api.clock.now)).status_code == 200
    r = api.as_user("POST", "/v1/logon/verify", {"method": "recovery_code", "code": old["recovery_codes"][0]},
                    scope=LOGON)
    assert r.status_code == 400
    assert api.as_user("POST", "/v1/logon", {"device_token": trusted}, scope=LOGON).json["next"] == "verify"


def test_the_window_to_attach_closes_after_15_minutes(api):
    lockout_policy(api)
    attach(api)
    assert with_pass(api, issue(api)["access_pass"]).status_code == 200
    api.clock.advance(15 * 60 + 1)
    r = api.as_user("POST", "/v1/authenticator/enroll", {}, scope=LOGON)
    assert r.status_code == 403 and r.json["error"] == "forbidden"


def test_an_admin_delete_of_the_pass_closes_the_window(api):
    lockout_policy(api)
    attach(api)
    assert with_pass(api, issue(api)["access_pass"]).status_code == 200
    assert as_admin(api, "DELETE", URL).status_code == 200
    r = api.as_user("POST", "/v1/authenticator/enroll", {}, scope=LOGON)
    assert r.status_code == 403


def test_without_a_pass_the_logon_token_cannot_enroll_over_an_authenticator(api):
    lockout_policy(api)
    attach(api)
    assert api.as_user("POST", "/v1/authenticator/enroll", {}, scope=LOGON).status_code == 403


def test_a_tenants_first_access_pass_makes_its_data_key(api):
    """The pass is stored as a keyed hash under the tenant's data key: the admin's function may have to make
    that key, when nothing else of the tenant has used it yet (infra/iam-policy.json grants it)."""
    r = as_admin(api, "POST", "/v1/admin/users/dan%40example.com/access-pass", {}, tenant="fresh")
    assert r.status_code == 201, r.json


def test_in_the_window_a_new_phone_replaces_the_lost_one(api):
    lockout_policy(api)
    attach_phone(api)  # the only factor: the SIM went with the phone
    api.clock.advance(31)
    assert with_pass(api, issue(api)["access_pass"]).status_code == 200
    new_number = "+8613900005678"
    r = api.as_user("POST", "/v1/phone", {"number": new_number}, scope=LOGON)
    assert r.status_code == 202, r.json
    number, text = list(sns_backends["123456789012"]["us-east-1"].sms_messages.values())[-1]
    assert number == new_number
    r = api.as_user("POST", "/v1/phone/confirm", {"code": re.search(r"\d{6}", text).group()}, scope=LOGON)
    assert r.status_code == 200 and r.json["mfa_token"] and r.json["number"].endswith("5678"), r.json
    factors = api.as_user("GET", "/v1/factors").json
    assert factors["phone"]["number"].endswith("5678")
    report = as_admin(api, "GET", "/v1/admin/report?days=1").json
    assert report["enrolled"] == {"authenticator": 0, "phone": 1, "any": 1, "none": 0}  # replaced, not added
    assert report["days"][-1]["attached"] == 2
