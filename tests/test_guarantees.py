"""The rules of API.md's "Guarantees under concurrency" that need no race to show: which caller gets a
logon result for attaching, what a user id may look like, lone surrogates, and trusted devices that a
lowered trusted_device_days shortens. The raced rules are in test_interleavings.py and test_races.py."""

import pytest

from mfa_core.lockout import DAY
from tests.conftest import attach, code_for

pytestmark = pytest.mark.both_engines

NUMBER = "+8613800001234"


def two_factor_on(api, **fields):
    r = api.as_user("PUT", "/v1/policy", {"two_factor": "on", **fields}, user="admin@example.com", scope="mfa:admin")
    assert r.status_code == 200, r.json


def last_sms_code(api):
    sms = api.call("GET", "/v1/dev/outbox").json["sms"]
    return next(word for word in sms[0]["message"].split() if word.rstrip(".").isdigit()).rstrip(".")


def test_a_token_with_logon_and_settings_gets_no_mfa_token_for_a_second_factor(api):
    two_factor_on(api)
    attach(api)
    both = "mfa:logon mfa:settings"
    assert api.as_user("POST", "/v1/phone", {"number": NUMBER}, scope=both).status_code == 202
    r = api.as_user("POST", "/v1/phone/confirm", {"code": last_sms_code(api)}, scope=both)
    assert r.status_code == 200 and r.json["attached"] is True
    assert "mfa_token" not in r.json


def test_a_logon_token_in_the_enroll_step_still_gets_its_mfa_token(api):
    two_factor_on(api)
    assert api.as_user("POST", "/v1/phone", {"number": NUMBER}, scope="mfa:logon").status_code == 202
    r = api.as_user("POST", "/v1/phone/confirm", {"code": last_sms_code(api)}, scope="mfa:logon")
    assert r.status_code == 200 and "mfa_token" in r.json


@pytest.mark.parametrize("sub", [" alice@example.com", "alice@example.com ", "alice@example.com\n", "al\x00ice"])
def test_a_sub_with_whitespace_at_an_end_or_a_control_character_is_401(api, sub):
    attach(api)
    r = api.call("GET", "/v1/factors", token=api.token(user=sub))
    assert r.status_code == 401 and r.json["error"] == "unauthorized"


@pytest.mark.parametrize(
    "path, scope, body",
    [
        ("/v1/app-passwords/check", "mfa:gateway", '{"user": "alice@example.com", "password": "\\ud800"}'),
        ("/v1/logon/verify", "mfa:logon", '{"code": "\\udfff12345"}'),
        ("/v1/app-passwords", "mfa:settings", '{"label": "Thunder\\ud800bird"}'),
    ],
)
def test_a_lone_surrogate_in_a_string_is_400_invalid_request(api, all_logs, path, scope, body):
    attach(api)
    r = api.call("POST", path, token=api.token(scope=scope), raw=body.encode())
    assert r.status_code == 400 and r.json["error"] == "invalid_request", r.json
    assert "Traceback" not in all_logs.text


def test_lowering_trusted_device_days_shortens_devices_already_trusted(api):
    two_factor_on(api, trusted_device_days=30)
    att = attach(api)
    api.clock.advance(30)
    body = {"code": code_for(att["uri"], api.clock.now), "trust_device": True}
    trusted = api.as_user("POST", "/v1/logon/verify", body, scope="mfa:logon").json
    created = api.clock.now
    two_factor_on(api, trusted_device_days=1)
    device = api.as_user("GET", "/v1/devices").json[0]
    assert device["expires_at"] < trusted["device_expires_at"]
    api.clock.advance(DAY - 60)
    logon = {"device_token": trusted["device_token"]}
    assert api.as_user("POST", "/v1/logon", logon, scope="mfa:logon").json["next"] == "done"
    api.clock.now = created + DAY
    assert api.as_user("POST", "/v1/logon", logon, scope="mfa:logon").json["next"] == "verify"
    assert api.as_user("GET", "/v1/devices").json == []
