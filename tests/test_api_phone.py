"""The secure phone by SMS: attach, the number's form, the code's life, send limits and failures, delete."""

import pytest
from botocore.exceptions import ClientError

from mfa_core import runtime
from tests.conftest import attach, code_for
from tests.helpers_logon import LOGON, NUMBER, attach_phone, last_sms, policy, verify


def test_phone_is_attached_with_the_sms_code_and_shown_masked(api):
    r = api.as_user("POST", "/v1/phone", {"number": NUMBER})
    assert r.status_code == 202 and r.json == {"sent": True, "number": "+86*******1234"}
    code, _ = last_sms()
    wrong = "000000" if code != "000000" else "111111"
    r = api.as_user("POST", "/v1/phone/confirm", {"code": wrong})
    assert r.status_code == 400 and r.json["attempts_left"] == 4
    r = api.as_user("POST", "/v1/phone/confirm", {"code": code})
    assert r.status_code == 200 and r.json == {"attached": True, "number": "+86*******1234"}
    assert api.as_user("GET", "/v1/factors").json["phone"]["number"] == "+86*******1234"
    assert api.as_user("POST", "/v1/phone/confirm", {"code": code}).status_code == 404  # nothing pending
    api.clock.advance(31)
    assert api.as_user("POST", "/v1/phone", {"number": NUMBER}).status_code == 409


@pytest.mark.parametrize("number", ["8613800001234", "+0123456789", "+86 138 0000 1234", "+12", "+1" + "2" * 15,
                                    "+８６１３８００００１２３４"])
def test_phone_number_must_be_e164(api, number):
    r = api.as_user("POST", "/v1/phone", {"number": number})
    assert r.status_code == 400 and r.json["error"] == "invalid_request"


def test_phone_needs_phone_in_the_policy_methods(api):
    policy(api, methods=["authenticator"])
    assert api.as_user("POST", "/v1/phone", {"number": NUMBER}).status_code == 403


def test_sms_code_expires_after_five_minutes_and_is_single_use(api):
    attach_phone(api)
    assert api.as_user("POST", "/v1/logon/sms", {}, scope=LOGON).json["expires_at"] == "2027-01-15T08:05:31Z"
    code, _ = last_sms()
    api.clock.advance(300)
    assert verify(api, code, method="phone").status_code == 400
    api.as_user("POST", "/v1/logon/sms", {}, scope=LOGON)
    code, _ = last_sms()
    assert verify(api, code, method="phone").status_code == 200
    assert verify(api, code, method="phone").status_code == 400


def test_sms_sends_are_limited_to_one_per_30_seconds_and_ten_a_day(api):
    attach_phone(api)
    send = lambda: api.as_user("POST", "/v1/logon/sms", {}, scope=LOGON)  # noqa: E731
    assert send().status_code == 202
    r = send()
    assert r.status_code == 429 and r.json["error"] == "rate_limited"
    assert r.headers["Retry-After"] == "30" and r.json["retry_after"] == 30
    for _ in range(8):  # the attach SMS was the first of the day: ten in all
        api.clock.advance(30)
        assert send().status_code == 202
    api.clock.advance(30)
    r = send()
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 3600
    _, sent = last_sms()
    assert sent == 10
    api.clock.advance(86400)
    assert send().status_code == 202


def test_a_failed_sms_send_is_503_and_the_user_can_retry_at_once(api):
    attach_phone(api)
    sns = runtime.current().sns

    def refuse(**_):
        raise ClientError({"Error": {"Code": "InternalError", "Message": "x"}}, "Publish")

    sns.meta.events.register("before-call.sns.Publish", refuse)
    r = api.as_user("POST", "/v1/logon/sms", {}, scope=LOGON)
    sns.meta.events.unregister("before-call.sns.Publish", refuse)
    assert r.status_code == 503 and r.headers["Retry-After"] == "1"
    assert api.as_user("POST", "/v1/logon/sms", {}, scope=LOGON).status_code == 202


def test_delete_phone_with_an_sms_code_or_an_authenticator_code(api):
    attach_phone(api)
    r = api.as_user("POST", "/v1/phone/code", {})
    assert r.status_code == 202 and r.json["number"] == "+86*******1234"
    code, _ = last_sms()
    logon_code_sent = api.as_user("POST", "/v1/logon/sms", {}, scope=LOGON)
    assert logon_code_sent.status_code == 429  # the same limits apply to every send
    assert api.as_user("DELETE", "/v1/phone", {"code": code}).json == {"deleted": True}
    assert api.as_user("GET", "/v1/factors").json["phone"] is None
    assert api.as_user("DELETE", "/v1/phone", {"code": code}).status_code == 404
    att = attach(api)
    api.clock.advance(31)
    attach_phone(api)
    assert api.as_user("DELETE", "/v1/phone", {"code": code_for(att["uri"], api.clock.now)}).status_code == 200


def test_a_logon_sms_code_cannot_delete_the_phone(api):
    attach_phone(api)
    api.as_user("POST", "/v1/logon/sms", {}, scope=LOGON)
    code, _ = last_sms()
    r = api.as_user("DELETE", "/v1/phone", {"code": code})
    assert r.status_code == 400 and r.json["error"] == "invalid_code"


def test_sms_to_a_user_without_a_phone_is_404(api):
    assert api.as_user("POST", "/v1/logon/sms", {}, scope=LOGON).status_code == 404
    assert api.as_user("POST", "/v1/phone/code", {}).status_code == 404
    assert verify(api, "123456", method="phone").status_code == 404


# --- the dev outbox -----------------------------------------------------------------------------


def test_dev_outbox_shows_the_sms_sent_newest_first(api):
    attach_phone(api)
    api.as_user("POST", "/v1/logon/sms", {}, scope=LOGON)
    code, _ = last_sms()
    outbox = api.call("GET", "/v1/dev/outbox").json
    assert outbox["sms"][0]["to"] == NUMBER and code in outbox["sms"][0]["message"]
    assert len(outbox["sms"]) == 2
    assert any('"phone_attached"' in n["message"] for n in outbox["notifications"])
