"""The whole logon story (issue 3): the seed's logon rules, trusted devices, the secure phone by SMS and
recovery codes, through the HTTP contract (chalice.test.Client + moto, SMS read back from moto's SNS)."""
import re

import jwt
import pytest
from botocore.exceptions import ClientError
from moto.sns.models import sns_backends

from mfa_core import runtime
from mfa_core.config import DEV_SECRET
from tests.conftest import attach, code_for

LOGON = "mfa:logon"
NUMBER = "+8613800001234"


def policy(api, **fields):
    r = api.as_user("PUT", "/v1/policy", {"two_factor": "on", **fields}, user="admin@example.com", scope="mfa:admin")
    assert r.status_code == 200, r.json
    return r.json


def logon(api, device_token=None, user="alice@example.com", tenant="demo"):
    body = {} if device_token is None else {"device_token": device_token}
    return api.as_user("POST", "/v1/logon", body, user=user, tenant=tenant, scope=LOGON)


def verify(api, code, user="alice@example.com", **extra):
    return api.as_user("POST", "/v1/logon/verify", {"code": code, **extra}, user=user, scope=LOGON)


def amr(token):
    return jwt.decode(token, DEV_SECRET, algorithms=["HS256"], audience="mail",
                      options={"verify_exp": False, "verify_iat": False})["amr"]


def last_sms(number=NUMBER):
    sent = [text for to, text in sns_backends["123456789012"]["us-east-1"].sms_messages.values() if to == number]
    assert sent, "no SMS was sent"
    return re.search(r"\b(\d{6})\b", sent[-1]).group(1), len(sent)


def attach_phone(api, user="alice@example.com", scope="mfa:settings", number=NUMBER):
    r = api.as_user("POST", "/v1/phone", {"number": number}, user=user, scope=scope)
    assert r.status_code == 202, r.json
    code, _ = last_sms(number)
    r = api.as_user("POST", "/v1/phone/confirm", {"code": code}, user=user, scope=scope)
    assert r.status_code == 200, r.json
    api.clock.advance(31)  # past the one-SMS-per-30-s limit
    return r.json


def trusted(api, att, **extra):
    api.clock.advance(30)
    r = verify(api, code_for(att["uri"], api.clock.now), trust_device=True, **extra)
    assert r.status_code == 200, r.json
    return r.json


# --- the seed's logon rules ---------------------------------------------------------------------


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


# --- trusted devices ----------------------------------------------------------------------------


def test_trusted_device_skips_the_code_on_that_device(api):
    policy(api, trusted_device_days=30)
    att = attach(api)
    r = trusted(api, att, device_label="Alice's laptop")
    token = r["device_token"]
    assert len(token) > 40 and r["device_expires_at"] == "2027-02-14T08:00:30Z"
    decision = logon(api, token)
    assert decision.json["next"] == "done" and amr(decision.json["mfa_token"]) == ["device"]
    devices = api.as_user("GET", "/v1/devices").json
    assert [(d["label"], d["last_used_at"]) for d in devices] == [("Alice's laptop", "2027-01-15T08:00:30Z")]
    assert api.as_user("GET", "/v1/factors").json["trusted_devices"] == 1


def test_device_label_defaults_to_the_user_agent(api):
    policy(api)
    att = attach(api)
    api.clock.advance(30)
    r = api.call("POST", "/v1/logon/verify", {"code": code_for(att["uri"], api.clock.now), "trust_device": True},
                 token=api.token(scope=LOGON), headers={"User-Agent": "Thunderbird/128"})
    assert r.status_code == 200
    assert api.as_user("GET", "/v1/devices").json[0]["label"] == "Thunderbird/128"


def test_device_tokens_of_others_modified_or_expired_are_not_trusted(api):
    policy(api, trusted_device_days=1)
    att = attach(api)
    token = trusted(api, att)["device_token"]
    bob = attach(api, user="bob@example.com")
    assert bob
    assert logon(api, token, user="bob@example.com").json["next"] == "verify"  # another user
    api.as_user("PUT", "/v1/policy", {"two_factor": "on"}, tenant="other", scope="mfa:admin")
    assert logon(api, token, tenant="other").json["next"] == "enroll"  # another tenant
    modified = token[:-1] + ("A" if token[-1] != "A" else "B")
    for bad in (modified, "dt1.x.y", "garbage", ""):
        assert logon(api, bad).json["next"] == "verify"
    api.clock.advance(86400)  # expired; moto never deletes it, so the item lingers
    assert logon(api, token).json["next"] == "verify"
    assert api.as_user("GET", "/v1/devices").json == []


def test_a_lock_does_not_stop_a_valid_device_token(api):
    policy(api, lockout={"max_failures": 3, "lock_seconds": 900})
    att = attach(api)
    token = trusted(api, att)["device_token"]
    for _ in range(3):
        verify(api, "000000" if code_for(att["uri"], api.clock.now) != "000000" else "111111")
    assert verify(api, "123456").status_code == 429
    r = logon(api, token)
    assert r.json["next"] == "done" and amr(r.json["mfa_token"]) == ["device"]


@pytest.mark.parametrize("ending", ["delete_authenticator", "admin_reset", "devices_off", "revoke_all"])
def test_every_existing_device_token_stops_counting(api, ending):
    policy(api)
    att = attach(api)
    token = trusted(api, att)["device_token"]
    assert logon(api, token).json["next"] == "done"
    api.clock.advance(30)
    if ending == "delete_authenticator":
        r = api.as_user("DELETE", "/v1/authenticator", {"code": code_for(att["uri"], api.clock.now)})
        att = attach(api)
    elif ending == "admin_reset":
        r = api.as_user("POST", "/v1/admin/users/alice%40example.com/reset", {}, user="admin@example.com",
                        scope="mfa:admin")
        att = attach(api)
    elif ending == "devices_off":
        r = api.as_user("PUT", "/v1/policy", {"two_factor": "on", "trusted_device_days": 0},
                        user="admin@example.com", scope="mfa:admin")
        assert logon(api, token).json["next"] == "verify"
        api.clock.advance(1)
        r = api.as_user("PUT", "/v1/policy", {"two_factor": "on", "trusted_device_days": 30},
                        user="admin@example.com", scope="mfa:admin")  # on again: old tokens stay dead
    else:
        r = api.as_user("DELETE", "/v1/devices")
        assert r.json == {"deleted": 1}
    assert r.status_code == 200
    assert logon(api, token).json["next"] == "verify"
    assert api.as_user("GET", "/v1/devices").json == []
    assert trusted(api, att)["device_token"]  # a new device can be trusted afterwards
    assert len(api.as_user("GET", "/v1/devices").json) == 1


def test_trust_device_is_ignored_while_the_policy_has_it_off(api):
    policy(api, trusted_device_days=0)
    att = attach(api)
    r = trusted(api, att)
    assert "device_token" not in r and r["verified"] is True
    assert logon(api).json["trusted_device_allowed"] is False


def test_a_user_keeps_at_most_ten_devices_the_oldest_goes(api):
    policy(api)
    att = attach(api)
    tokens = [trusted(api, att, device_label=f"device {i}")["device_token"] for i in range(11)]
    labels = [d["label"] for d in api.as_user("GET", "/v1/devices").json]
    assert labels == [f"device {i}" for i in range(1, 11)]
    assert logon(api, tokens[0]).json["next"] == "verify"
    assert logon(api, tokens[10]).json["next"] == "done"


def test_revoke_one_device(api):
    policy(api)
    att = attach(api)
    first = trusted(api, att)["device_token"]
    second = trusted(api, att)["device_token"]
    device_id = api.as_user("GET", "/v1/devices").json[0]["id"]
    assert api.as_user("DELETE", f"/v1/devices/{device_id}").json == {"deleted": True}
    assert api.as_user("DELETE", f"/v1/devices/{device_id}").status_code == 404
    assert logon(api, first).json["next"] == "verify"
    assert logon(api, second).json["next"] == "done"


def test_logon_with_a_device_token_is_one_read_and_one_write(api):
    from tests.test_storage_crypto import CallCounter

    policy(api)
    att = attach(api)
    token = trusted(api, att)["device_token"]
    counter = CallCounter(runtime.current().dynamodb, runtime.current().kms)
    assert logon(api, token).json["next"] == "done"
    assert counter.take() == {"dynamodb:Query": 1, "dynamodb:TransactWriteItems": 1}


def test_warm_verify_with_its_audit_write_is_two_calls(api):
    from tests.test_storage_crypto import CallCounter

    policy(api)
    att = attach(api)
    api.clock.advance(30)
    verify(api, code_for(att["uri"], api.clock.now))
    counter = CallCounter(runtime.current().dynamodb, runtime.current().kms)
    api.clock.advance(30)
    assert verify(api, code_for(att["uri"], api.clock.now)).status_code == 200
    assert counter.take() == {"dynamodb:Query": 1, "dynamodb:TransactWriteItems": 1}


# --- the secure phone ---------------------------------------------------------------------------


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


# --- recovery codes -----------------------------------------------------------------------------


def test_renewed_recovery_codes_replace_the_old_ones(api):
    att = attach(api)
    api.clock.advance(30)
    r = api.as_user("POST", "/v1/recovery-codes", {"code": code_for(att["uri"], api.clock.now)})
    assert r.status_code == 200 and len(r.json["recovery_codes"]) == 10
    assert r.headers["Cache-Control"] == "no-store"
    assert verify(api, att["recovery_codes"][0], method="recovery_code").status_code == 400
    assert verify(api, r.json["recovery_codes"][0], method="recovery_code").status_code == 200
    assert api.as_user("GET", "/v1/factors").json["recovery_codes_left"] == 9


def test_renewal_needs_a_fresh_code_that_counts_toward_the_lock(api):
    att = attach(api)
    r = api.as_user("POST", "/v1/recovery-codes", {"code": code_for(att["uri"], api.clock.now)})  # confirm's code
    assert r.status_code == 400 and r.json["attempts_left"] == 4
    assert api.as_user("POST", "/v1/recovery-codes", {"code": 123456}).status_code == 400
    assert api.as_user("POST", "/v1/recovery-codes", {"code": "123456"}, scope=LOGON).status_code == 403


def test_recovery_codes_are_not_usable_by_another_user(api):
    alice = attach(api)
    attach(api, user="bob@example.com")
    r = verify(api, alice["recovery_codes"][0], user="bob@example.com", method="recovery_code")
    assert r.status_code == 400


# --- the dev outbox -----------------------------------------------------------------------------


def test_dev_outbox_shows_the_sms_sent_newest_first(api):
    attach_phone(api)
    api.as_user("POST", "/v1/logon/sms", {}, scope=LOGON)
    code, _ = last_sms()
    outbox = api.call("GET", "/v1/dev/outbox").json
    assert outbox["sms"][0]["to"] == NUMBER and code in outbox["sms"][0]["message"]
    assert len(outbox["sms"]) == 2
    assert any('"phone_attached"' in n["message"] for n in outbox["notifications"])
