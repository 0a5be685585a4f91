"""The seed's logon rules (issue 3): the factors a logon asks for, and a phone attached during logon."""

from tests.conftest import attach, code_for
from tests.helpers_logon import LOGON, NUMBER, amr, attach_phone, last_sms, logon, policy, verify


def test_an_attached_phone_always_counts_even_when_the_policy_lists_only_authenticators(api):
    attach_phone(api)
    policy(api, methods=["authenticator"])
    assert logon(api).json == {"next": "verify", "methods": ["phone"], "trusted_device_allowed": True}


def test_with_both_factors_either_one_is_enough_authenticator_listed_first(api):
    policy(api)
    att = attach(api)
    attach_phone(api)
    assert logon(api).json["methods"] == ["authenticator", "phone"]
    api.clock.advance(30)
    assert verify(api, code_for(att["uri"], api.clock.now)).status_code == 200
    assert api.as_user("POST", "/v1/logon/sms", {}, scope=LOGON).status_code == 202
    code, _ = last_sms()
    r = verify(api, code, method="phone")
    assert r.status_code == 200 and amr(r.json["mfa_token"]) == ["sms"]


def test_method_1_user_without_factors_attaches_a_phone_during_logon(api):
    policy(api, methods=["phone"])
    decision = logon(api).json
    assert decision["next"] == "enroll" and decision["methods"] == ["phone"]
    assert api.as_user("POST", "/v1/authenticator/enroll", {}, scope=LOGON).status_code == 403  # not in methods
    r = api.as_user("POST", "/v1/phone", {"number": NUMBER}, scope=LOGON)
    assert r.status_code == 202 and r.json == {"sent": True, "number": "+86*******1234"}
    code, _ = last_sms()
    r = api.as_user("POST", "/v1/phone/confirm", {"code": code}, scope=LOGON)
    assert r.status_code == 200 and r.json["number"] == "+86*******1234" and amr(r.json["mfa_token"]) == ["sms"]
    assert logon(api).json["next"] == "verify"
    api.clock.advance(31)
    assert api.as_user("POST", "/v1/phone", {"number": NUMBER}, scope=LOGON).status_code == 403


def test_a_user_with_a_secure_phone_is_not_made_to_attach_an_authenticator_at_logon(api):
    attach_phone(api)
    policy(api, methods=["authenticator"])
    assert logon(api).json["next"] == "verify"
    assert api.as_user("POST", "/v1/authenticator/enroll", {}, scope=LOGON).status_code == 403
    assert api.as_user("POST", "/v1/authenticator/enroll", {}).status_code == 200  # Method 2, from Settings
