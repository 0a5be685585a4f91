"""Each rule of API.md's "Guarantees under concurrency", forced: one request is held between its read
and its write while another runs to the end, then it goes on. The real service and store, on moto and
on DynamoDB Local; the hold is a botocore event hook on the service's own DynamoDB client, so nothing
of ours is replaced."""

from __future__ import annotations

import re
import threading

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.sns.models import sns_backends

from mfa_core import runtime
from mfa_core.auth import Caller
from mfa_core.errors import (
    Conflict,
    Forbidden,
    InvalidCode,
    LimitReached,
    Locked,
    MfaError,
    NotFound,
    RateLimited,
    Unavailable,
)
from mfa_core.usecases import admin, app_passwords, authenticator, devices, logon, overview, policies, secure_phone
from mfa_core.usecases.kernel import Context, Request
from tests.conftest import attach, code_for

pytestmark = pytest.mark.both_engines

USER = "alice@example.com"
NUMBER = "+8613800001234"
LOGON = Caller("demo", USER, frozenset({"mfa:logon"}))
SETTINGS = Caller("demo", USER, frozenset({"mfa:settings"}))
ADMIN = Caller("demo", "admin@example.com", frozenset({"mfa:admin"}))
GATEWAY = Caller("demo", "imap-gateway", frozenset({"mfa:gateway"}))


class Held:
    """`call()` in a thread of its own, stopped right after (or before) its first DynamoDB `operation`
    until finish(): what another request does meanwhile happens between that read and the write after."""

    def __init__(self, call, operation: str = "Query", when: str = "after") -> None:
        self._call = call
        self._event = f"{when}-call.dynamodb.{operation}"
        self._reached, self._released = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._run)
        self.result: object = None
        runtime.current().dynamodb.meta.events.register(self._event, self._hold)
        self._thread.start()
        assert self._reached.wait(20), f"the held request never made its {operation}"

    def _hold(self, **_) -> None:
        if threading.current_thread() is self._thread and not self._reached.is_set():
            self._reached.set()
            self._released.wait(20)

    def _run(self) -> None:
        self.result = outcome(self._call)

    def finish(self) -> object:
        self._released.set()
        self._thread.join(20)
        runtime.current().dynamodb.meta.events.unregister(self._event, self._hold)
        return self.result


def outcome(call) -> object:
    """What a use case answered: its result, or the domain error it raised."""
    try:
        return call()
    except MfaError as e:
        return e


def req(caller: Caller, api) -> Request:
    return Request(runtime.current(), caller, Context(now=api.clock.now, ip="192.0.2.1"))


def policy(api, **fields):
    r = api.as_user("PUT", "/v1/policy", {"two_factor": "on", **fields}, user=ADMIN.user, scope="mfa:admin")
    assert r.status_code == 200, r.json


def next_code(api, att) -> str:
    api.clock.advance(30)
    return code_for(att["uri"], api.clock.now)


def fails_stored() -> int:
    key = {"PK": {"S": f"T#demo#U#{USER}"}, "SK": {"S": "STATE#LOCKOUT"}}
    item = boto3.client("dynamodb").get_item(TableName="mfa", Key=key, ConsistentRead=True).get("Item")
    return int(item["fails"]["N"]) if item else 0


def last_sms_code() -> str:
    texts = [t for number, t in sns_backends["123456789012"]["us-east-1"].sms_messages.values() if number == NUMBER]
    return re.search(r"\d{6}", texts[-1]).group()


def with_phone(api) -> None:
    assert api.as_user("POST", "/v1/phone", {"number": NUMBER}).status_code == 202
    assert api.as_user("POST", "/v1/phone/confirm", {"code": last_sms_code()}).status_code == 200
    api.clock.advance(31)


# --- failed codes and the lock ---------------------------------------------------------------------


def test_a_failure_held_after_its_read_and_one_counted_meanwhile_are_each_counted_once(api):
    attach(api)
    api.clock.advance(30)
    held = Held(lambda: logon.verify(req(LOGON, api), "authenticator", "000000"))
    meanwhile = outcome(lambda: logon.verify(req(LOGON, api), "authenticator", "111111"))
    first = held.finish()
    assert isinstance(meanwhile, InvalidCode) and isinstance(first, InvalidCode)
    assert sorted([meanwhile.attempts_left, first.attempts_left]) == [3, 4]
    assert fails_stored() == 2


def test_a_right_code_read_before_the_lock_is_refused_after_it_and_does_not_lift_it(api):
    policy(api, lockout={"max_failures": 2, "lock_seconds": 900})
    att = attach(api)
    code = next_code(api, att)
    assert isinstance(outcome(lambda: logon.verify(req(LOGON, api), "authenticator", "000000")), InvalidCode)
    held = Held(lambda: logon.verify(req(LOGON, api), "authenticator", code))
    locking = outcome(lambda: logon.verify(req(LOGON, api), "authenticator", "111111"))
    assert isinstance(locking, InvalidCode) and locking.attempts_left == 0
    assert isinstance(held.finish(), Locked)
    # Still locked: the right code of the next step is refused too, and the count is as the lock left it.
    assert isinstance(outcome(lambda: logon.verify(req(LOGON, api), "authenticator", next_code(api, att))), Locked)
    assert fails_stored() == 2


def test_a_right_code_that_loses_its_write_to_sign_out_everywhere_is_accepted_on_a_fresh_read(api):
    att = attach(api)
    code = next_code(api, att)
    held = Held(lambda: logon.verify(req(LOGON, api), "authenticator", code, trust_device=True))
    assert outcome(lambda: devices.revoke_all(req(SETTINGS, api))) == {"deleted": 0}
    result = held.finish()
    assert isinstance(result, dict) and result["verified"] is True, result
    assert fails_stored() == 0
    policy(api)
    decision = outcome(lambda: logon.decide(req(LOGON, api), result["device_token"]))
    assert decision["next"] == "done"  # the device was trusted under the generation that is current now


def test_a_right_code_that_loses_its_write_to_an_admin_reset_is_not_counted_as_a_failure(api):
    att = attach(api)
    code = next_code(api, att)
    held = Held(lambda: logon.verify(req(LOGON, api), "authenticator", code))
    assert admin.reset(req(ADMIN, api), USER) == {"reset": True}
    assert isinstance(held.finish(), NotFound)  # read again: no authenticator any more
    assert fails_stored() == 0


# --- the tenant's policy ---------------------------------------------------------------------------


@pytest.mark.parametrize("saved_before", [False, True], ids=["first save", "over a saved one"])
def test_a_policy_save_of_a_version_held_after_its_read_while_another_saves_it_is_a_conflict(api, saved_before):
    if saved_before:  # the first save of a tenant's policy has a condition of its own
        policy(api)
    version = policies.read(req(ADMIN, api))["version"]
    held = Held(lambda: policies.save(req(ADMIN, api), {"two_factor": "on", "version": version}), "GetItem")
    assert policies.save(req(ADMIN, api), {"trusted_device_days": 7, "version": version})["version"] == version + 1
    assert isinstance(held.finish(), Conflict)  # its version is not the stored one any more
    stored = policies.read(req(ADMIN, api))
    assert (stored["version"], stored["two_factor"], stored["trusted_device_days"]) == (version + 1, "off", 7), stored


@pytest.mark.parametrize("saved_before", [False, True], ids=["first save", "over a saved one"])
def test_a_policy_save_without_a_version_held_while_another_saves_is_saved_on_top_of_it(api, saved_before):
    if saved_before:  # the first save of a tenant's policy has a condition of its own
        policy(api)
    version = policies.read(req(ADMIN, api))["version"]
    held = Held(lambda: policies.save(req(ADMIN, api), {"two_factor": "on"}), "GetItem")
    assert policies.save(req(ADMIN, api), {"trusted_device_days": 7})["version"] == version + 1
    assert held.finish()["version"] == version + 2  # read again and saved over the newer one, never beside it
    assert policies.read(req(ADMIN, api))["version"] == version + 2


# --- single use --------------------------------------------------------------------------------------


def used_meanwhile_is_refused(api, method: str, code: str) -> None:
    """A logon with `code` held after its read while the same code logs on: read again, the code is used, so
    the held logon is refused and counted as a failed code."""
    held = Held(lambda: logon.verify(req(LOGON, api), method, code))
    assert logon.verify(req(LOGON, api), method, code)["verified"] is True
    refused = held.finish()
    assert isinstance(refused, InvalidCode), refused
    assert fails_stored() == 1


def test_a_code_held_after_its_read_while_the_same_code_logs_on_is_a_counted_replay(api):
    att = attach(api)
    used_meanwhile_is_refused(api, "authenticator", next_code(api, att))  # its step is used now


def test_a_recovery_code_held_after_its_read_while_it_logs_on_elsewhere_is_refused(api):
    att = attach(api)
    used_meanwhile_is_refused(api, "recovery_code", att["recovery_codes"][0])


def test_an_sms_code_held_after_its_read_while_it_logs_on_elsewhere_is_refused(api):
    attach(api)
    with_phone(api)
    secure_phone.send_code(req(LOGON, api), purpose="logon")
    used_meanwhile_is_refused(api, "phone", last_sms_code())


# --- revocations win over logons in flight ---------------------------------------------------------


def test_a_device_logon_read_before_the_authenticator_was_deleted_does_not_complete(api):
    policy(api)
    att = attach(api)
    trusted = logon.verify(req(LOGON, api), "authenticator", next_code(api, att), trust_device=True)
    delete_code = next_code(api, att)
    held = Held(lambda: logon.decide(req(LOGON, api), trusted["device_token"]))
    assert authenticator.delete(req(SETTINGS, api), code=delete_code, recovery_code=None) == {
        "deleted": True
    }
    result = held.finish()
    assert result["next"] != "done" and "mfa_token" not in result, result


def test_an_sms_logon_read_before_the_phone_was_deleted_does_not_complete(api):
    att = attach(api)
    with_phone(api)
    secure_phone.send_code(req(LOGON, api), purpose="logon")
    sms_code = last_sms_code()
    delete_code = next_code(api, att)
    held = Held(lambda: logon.verify(req(LOGON, api), "phone", sms_code))
    assert secure_phone.delete(req(SETTINGS, api), delete_code) == {"deleted": True}
    assert isinstance(held.finish(), NotFound)


def test_a_recovery_code_read_before_the_authenticator_was_deleted_does_not_complete(api):
    att = attach(api)
    delete_code = next_code(api, att)
    held = Held(lambda: logon.verify(req(LOGON, api), "recovery_code", att["recovery_codes"][0]))
    authenticator.delete(req(SETTINGS, api), code=delete_code, recovery_code=None)
    assert isinstance(held.finish(), NotFound)
    assert fails_stored() == 0


# --- caps and throttles ----------------------------------------------------------------------------


def test_a_device_trusted_while_another_trust_was_held_keeps_the_user_at_ten(api):
    att = attach(api)
    for _ in range(9):
        logon.verify(req(LOGON, api), "authenticator", next_code(api, att), trust_device=True)
    last_code = next_code(api, att)
    recovery = att["recovery_codes"][0]
    held = Held(lambda: logon.verify(req(LOGON, api), "recovery_code", recovery, trust_device=True))
    meanwhile = logon.verify(req(LOGON, api), "authenticator", last_code, trust_device=True)
    result = held.finish()
    assert "device_token" in result and "device_token" in meanwhile, result
    assert len(devices.listed(req(SETTINGS, api))) == 10
    policy(api)
    assert logon.decide(req(LOGON, api), result["device_token"])["next"] == "done"


def test_app_password_checks_cannot_pass_the_throttle_while_one_is_held(api):
    app_passwords.create(req(SETTINGS, api), "Thunderbird")
    # Held after its transaction found the password wrong, before it counts the failure.
    held = Held(lambda: app_passwords.check(req(GATEWAY, api), USER, "wrong"), "TransactWriteItems")
    for _ in range(10):
        assert app_passwords.check(req(GATEWAY, api), USER, "wrong") == {"valid": False}
    assert isinstance(held.finish(), RateLimited)


def test_a_right_app_password_held_before_its_write_while_ten_wrong_ones_throttle_is_refused(api):
    password = app_passwords.create(req(SETTINGS, api), "Thunderbird")["password"]
    # Held before its one write: the throttle it must respect is filled meanwhile.
    held = Held(lambda: app_passwords.check(req(GATEWAY, api), USER, password), "TransactWriteItems", when="before")
    for _ in range(10):
        assert app_passwords.check(req(GATEWAY, api), USER, "wrong") == {"valid": False}
    assert isinstance(held.finish(), RateLimited)


def test_an_app_password_created_while_another_create_was_held_keeps_the_limit_of_forty(api):
    for n in range(39):
        app_passwords.create(req(SETTINGS, api), f"client {n}")
    held = Held(lambda: app_passwords.create(req(SETTINGS, api), "late"), "TransactWriteItems", "before")
    assert app_passwords.create(req(SETTINGS, api), "first")["label"] == "first"
    assert isinstance(held.finish(), LimitReached)
    assert len(app_passwords.listed(req(SETTINGS, api))) == 40


def test_two_sms_sends_while_one_is_held_send_once(api):
    held = Held(lambda: secure_phone.add(req(SETTINGS, api), NUMBER))
    assert secure_phone.add(req(SETTINGS, api), NUMBER)["sent"] is True
    assert isinstance(held.finish(), RateLimited)


@pytest.mark.parametrize("limit", ["per_tenant_per_day", "per_number_per_day"])
def test_an_sms_send_held_after_its_read_while_another_takes_the_days_last_unit_is_refused(api, limit):
    policy(api, sms={limit: 1})
    bob = Caller("demo", "bob@example.com", frozenset({"mfa:settings"}))
    # Under the tenant's limit Bob's number is another; under the number's it is the same one.
    bobs_number = "+8613900002222" if limit == "per_tenant_per_day" else NUMBER
    held = Held(lambda: secure_phone.add(Request(runtime.current(), bob, Context(now=api.clock.now)), bobs_number))
    assert secure_phone.add(req(SETTINGS, api), NUMBER)["sent"] is True
    refused = held.finish()
    assert isinstance(refused, RateLimited) and refused.retry_after == 57600, refused  # until UTC midnight
    sent = [to for to, _ in sns_backends["123456789012"]["us-east-1"].sms_messages.values()]
    assert sent == [NUMBER]



def test_a_failed_sms_send_held_while_the_code_it_replaced_was_used_does_not_bring_that_code_back(api):
    with_phone(api)
    secure_phone.send_code(req(LOGON, api), purpose="logon")
    used = last_sms_code()
    api.clock.advance(30)
    held = Held(lambda: secure_phone.send_code(req(LOGON, api), purpose="logon"))
    assert logon.verify(req(LOGON, api), "phone", used)["verified"] is True
    sns = runtime.current().sns

    def refuse(**_):
        raise ClientError({"Error": {"Code": "InternalError", "Message": "x"}}, "Publish")

    sns.meta.events.register("before-call.sns.Publish", refuse)
    failed = held.finish()
    sns.meta.events.unregister("before-call.sns.Publish", refuse)
    assert isinstance(failed, Unavailable), failed
    # The undo of the failed send puts back the record as it was when the send was written: the code used.
    assert isinstance(outcome(lambda: logon.verify(req(LOGON, api), "phone", used)), InvalidCode)

# --- the logon result of attaching -----------------------------------------------------------------


def test_attaching_with_a_logon_token_after_another_factor_was_attached_meanwhile_gets_no_mfa_token(api):
    policy(api)
    enrolled = authenticator.enroll(req(LOGON, api), None)
    code = code_for(enrolled["otpauth_uri"], api.clock.now)
    held = Held(lambda: authenticator.confirm(req(LOGON, api), enrolled["enrollment_id"], code))
    secure_phone.add(req(LOGON, api), NUMBER)
    assert "mfa_token" in secure_phone.confirm(req(LOGON, api), last_sms_code())
    assert isinstance(held.finish(), Forbidden)  # the logon's decision is `verify` now: nothing to attach


# --- the tenant's counts and the temporary access pass ----------------------------------------------


def report(api) -> dict:
    return overview.report(req(ADMIN, api), 1)


def test_an_authenticator_attached_while_a_phone_attach_was_held_counts_the_user_enrolled_once(api):
    policy(api)
    enrolled = authenticator.enroll(req(SETTINGS, api), None)
    secure_phone.add(req(SETTINGS, api), NUMBER)
    held = Held(lambda: secure_phone.confirm(req(SETTINGS, api), last_sms_code()))
    code = code_for(enrolled["otpauth_uri"], api.clock.now)
    assert authenticator.confirm(req(SETTINGS, api), enrolled["enrollment_id"], code)["attached"] is True
    assert held.finish()["attached"] is True  # read again: the phone adds no enrolled user
    counts = report(api)
    assert counts["users"] == 1 and counts["enrolled"] == {"authenticator": 1, "phone": 1, "any": 1, "none": 0}
    assert counts["days"][-1]["attached"] == 2


def test_a_phone_deleted_while_an_authenticator_delete_was_held_leaves_no_user_enrolled(api):
    policy(api)
    att = attach(api)
    with_phone(api)
    code = next_code(api, att)
    secure_phone.send_code(req(SETTINGS, api), purpose="delete")
    held = Held(lambda: authenticator.delete(req(SETTINGS, api), code=code, recovery_code=None))
    assert secure_phone.delete(req(SETTINGS, api), last_sms_code()) == {"deleted": True}
    assert held.finish() == {"deleted": True}
    assert report(api)["enrolled"] == {"authenticator": 0, "phone": 0, "any": 0, "none": 1}


def test_an_access_pass_logon_read_before_the_admin_deleted_the_pass_does_not_complete(api):
    policy(api)
    attach(api)
    issued = admin.issue_access_pass(req(ADMIN, api), USER, hours=8)
    held = Held(lambda: logon.verify(req(LOGON, api), "access_pass", issued["access_pass"]))
    assert admin.delete_access_pass(req(ADMIN, api), USER) == {"deleted": True}
    refused = held.finish()
    assert isinstance(refused, InvalidCode), refused  # read again: no pass; a failed code like any wrong one
    assert fails_stored() == 1


def test_an_access_pass_logon_read_before_another_logon_used_the_pass_does_not_complete(api):
    policy(api)
    attach(api)
    issued = admin.issue_access_pass(req(ADMIN, api), USER, hours=8)
    used_meanwhile_is_refused(api, "access_pass", issued["access_pass"])


def test_an_attach_read_in_the_access_pass_window_is_refused_once_the_admin_deleted_the_pass(api):
    policy(api)
    attach(api)
    issued = admin.issue_access_pass(req(ADMIN, api), USER, hours=8)
    assert logon.verify(req(LOGON, api), "access_pass", issued["access_pass"])["verified"] is True
    enrolled = authenticator.enroll(req(LOGON, api), None)
    code = code_for(enrolled["otpauth_uri"], api.clock.now)
    held = Held(lambda: authenticator.confirm(req(LOGON, api), enrolled["enrollment_id"], code))
    assert admin.delete_access_pass(req(ADMIN, api), USER) == {"deleted": True}
    assert isinstance(held.finish(), Forbidden)  # read again: the window is closed, the old authenticator stays


def test_a_users_first_two_writes_racing_count_the_user_once(api):
    policy(api)
    held = Held(lambda: authenticator.enroll(req(SETTINGS, api), None))
    assert "enrollment_id" in authenticator.enroll(req(SETTINGS, api), "Second tab")
    assert "enrollment_id" in held.finish()  # read again: listed meanwhile, so it adds no user
    assert app_passwords.create(req(SETTINGS, api), "Thunderbird")["password"]
    counts = report(api)
    assert counts["users"] == 1 and counts["app_passwords"] == 1 and counts["enrolled"]["none"] == 1
