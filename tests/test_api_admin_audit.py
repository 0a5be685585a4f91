"""The mailbox administrator's tools, the audit trail and the out-of-band notifications, through the
HTTP contract (chalice.test.Client + moto)."""

import json
import logging
import os
import re
from itertools import groupby
from urllib.parse import urlencode

import botocore.exceptions
import pytest
from moto.sns.models import sns_backends

import mfa_core.runtime
from tests.conftest import attach, code_for

ALICE = "alice@example.com"
ALICE_PATH = "alice%40example.com"
ADMIN = "admin@example.com"
LOGON = "mfa:logon"
PHONE = "+8613800001234"
MASKED_PHONE = "+86*******1234"
NOTIFICATION_FIELDS = {"event", "tenant", "user", "at", "ip"}


# --- helpers -----------------------------------------------------------------------------------


def as_admin(api, method, path, body=None, *, tenant="demo"):
    return api.as_user(method, path, body, user=ADMIN, scope="mfa:admin", tenant=tenant)


def set_policy(api, **policy):
    r = as_admin(api, "PUT", "/v1/policy", policy)
    assert r.status_code == 200, r.json


def lockout_policy(api, max_failures=3, lock_seconds=900):
    set_policy(api, two_factor="on", lockout={"max_failures": max_failures, "lock_seconds": lock_seconds})


def verify(api, code, **extra):
    return api.as_user("POST", "/v1/logon/verify", {"code": code, **extra}, scope=LOGON)


def wrong_code(uri, now):
    good = {code_for(uri, now, offset_steps=k) for k in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in good)


def lock(api, uri, failures=3):
    answers = [verify(api, wrong_code(uri, api.clock.now)) for _ in range(failures)]
    assert [a.json.get("attempts_left") for a in answers][-1] == 0, [a.json for a in answers]
    r = verify(api, code_for(uri, api.clock.now))
    assert r.status_code == 429 and r.json["error"] == "locked"  # locked now, even for a right code


def admin_user(api, path_user=ALICE_PATH):
    r = as_admin(api, "GET", f"/v1/admin/users/{path_user}")
    assert r.status_code == 200, r.json
    return r.json


def events_page(api, user=ALICE, *, tenant="demo", **params):
    return as_admin(api, "GET", "/v1/admin/events?" + urlencode({"user": user, **params}), tenant=tenant)


def events_of(api, user=ALICE, *, tenant="demo"):
    r = events_page(api, user, tenant=tenant, limit=100)
    assert r.status_code == 200, r.json
    return r.json


def names(events):
    return [e["event"] for e in events]


def attach_phone(api):
    r = api.as_user("POST", "/v1/phone", {"number": PHONE})
    assert r.status_code == 202, r.json
    number, text = list(sns_backends["123456789012"]["us-east-1"].sms_messages.values())[-1]
    assert number == PHONE
    code = re.search(r"\d{6}", text).group()
    r = api.as_user("POST", "/v1/phone/confirm", {"code": code})
    assert r.status_code == 200, r.json


def create_app_password(api):
    r = api.as_user("POST", "/v1/app-passwords", {"label": "Thunderbird"})
    assert r.status_code == 201, r.json
    return r.json["password"]


def check_app_password(api, password):
    gateway = api.token("imap-gateway", "mfa:gateway")
    return api.call("POST", "/v1/app-passwords/check", {"user": ALICE, "password": password}, token=gateway)


def topic_messages() -> list[dict]:
    topic = sns_backends["123456789012"]["us-east-1"].topics[os.environ["MFA_TOPIC_ARN"]]
    return [json.loads(sent[1]) for sent in topic.sent_notifications]


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


# --- the audit trail ---------------------------------------------------------------------------


def enroll_and_confirm(api):
    """Attach with the enroll and the confirm a second apart, so their events can be ordered."""
    enrolled = api.as_user("POST", "/v1/authenticator/enroll", {})
    assert enrolled.status_code == 200, enrolled.json
    api.clock.advance(1)
    uri = enrolled.json["otpauth_uri"]
    confirmed = api.as_user(
        "POST",
        "/v1/authenticator/confirm",
        {"enrollment_id": enrolled.json["enrollment_id"], "code": code_for(uri, api.clock.now)},
    )
    assert confirmed.status_code == 200, confirmed.json
    return uri


def test_events_of_a_flow_newest_first_with_their_shape(api):
    lockout_policy(api, max_failures=3)
    api.clock.advance(1)
    uri = enroll_and_confirm(api)  # attached, confirmed
    api.clock.advance(30)
    assert verify(api, code_for(uri, api.clock.now)).status_code == 200  # verified
    for _ in range(3):  # failed, failed, failed + locked
        api.clock.advance(1)
        verify(api, wrong_code(uri, api.clock.now))
    api.clock.advance(1)
    assert as_admin(api, "POST", f"/v1/admin/users/{ALICE_PATH}/unlock").status_code == 200
    api.clock.advance(1)
    assert as_admin(api, "POST", f"/v1/admin/users/{ALICE_PATH}/reset").status_code == 200
    api.clock.advance(1)
    uri = enroll_and_confirm(api)  # attached, confirmed
    api.clock.advance(30)
    r = api.as_user("DELETE", "/v1/authenticator", {"code": code_for(uri, api.clock.now)})
    assert r.status_code == 200

    events = events_of(api)
    for event in events:
        assert set(event) == {"at", "user", "event", "ip", "detail"}
        assert event["user"] == ALICE
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", event["at"]), event["at"]
        assert isinstance(event["ip"], str) and isinstance(event["detail"], dict)
    times = [e["at"] for e in events]
    assert times == sorted(times, reverse=True)
    # Events written in the same instant (the failure that locks) may come in either order.
    grouped = [sorted(names(same)) for _, same in groupby(events, key=lambda e: e["at"])]
    assert grouped == [
        ["deleted"],
        ["confirmed"],
        ["attached"],
        ["reset"],
        ["unlocked"],
        ["failed", "locked"],
        ["failed"],
        ["failed"],
        ["verified"],
        ["confirmed"],
        ["attached"],
    ]


def test_a_policy_change_is_in_the_admins_own_trail(api):
    set_policy(api, two_factor="on")
    admin_events = events_of(api, ADMIN)
    assert names(admin_events) == ["policy_changed"]
    assert admin_events[0]["user"] == ADMIN
    assert "policy_changed" not in names(events_of(api, ALICE))


def test_admin_events_accept_an_encoded_or_upper_case_user(api):
    attach(api)
    r = as_admin(api, "GET", "/v1/admin/events?user=ALICE%40example.com")
    assert r.status_code == 200
    assert sorted(names(r.json)) == ["attached", "confirmed"]


def test_events_are_paginated_with_x_next_cursor_without_overlap(api):
    for i in range(5):
        api.as_user("POST", "/v1/app-passwords", {"label": f"Client {i}"})
        api.clock.advance(1)
    everything = events_of(api)
    assert len(everything) == 5

    first = events_page(api, limit=2)
    assert first.status_code == 200 and len(first.json) == 2
    cursor = first.headers.get("X-Next-Cursor")
    assert cursor
    second = events_page(api, limit=2, cursor=cursor)
    assert second.status_code == 200 and len(second.json) == 2
    cursor = second.headers.get("X-Next-Cursor")
    assert cursor
    last = events_page(api, limit=2, cursor=cursor)
    assert last.status_code == 200 and len(last.json) == 1
    assert "X-Next-Cursor" not in last.headers
    assert first.json + second.json + last.json == everything
    labels = [e["detail"].get("label") for e in everything]
    assert labels == [f"Client {i}" for i in reversed(range(5))]


def test_a_short_trail_has_no_next_cursor(api):
    attach(api)
    r = events_page(api)
    assert r.status_code == 200 and len(r.json) == 2
    assert "X-Next-Cursor" not in r.headers


@pytest.mark.parametrize("limit", ["0", "101", "abc", "-1", "1.5", ""])
def test_events_limit_out_of_range_is_400(api, limit):
    r = events_page(api, limit=limit)
    assert r.status_code == 400 and r.json["error"] == "invalid_request"


def test_events_limit_bounds_are_accepted(api):
    assert events_page(api, limit="1").status_code == 200
    assert events_page(api, limit="100").status_code == 200


def test_events_without_user_is_400(api):
    r = as_admin(api, "GET", "/v1/admin/events")
    assert r.status_code == 400 and r.json["error"] == "invalid_request"
    r = as_admin(api, "GET", "/v1/admin/events?limit=10")
    assert r.status_code == 400 and r.json["error"] == "invalid_request"


@pytest.mark.parametrize("cursor", ["garbage", "%%%", "U1RBVEUjTUZB", "__8="])  # last two: "STATE#MFA", b"\xff\xff"
def test_events_with_a_garbage_cursor_is_400(api, cursor):
    attach(api)
    r = events_page(api, limit=1, cursor=cursor)
    assert r.status_code == 400 and r.json["error"] == "invalid_request"


def test_another_tenants_admin_sees_nothing_of_this_tenants_user(api):
    attach(api)
    assert len(events_of(api)) == 2
    r = events_page(api, tenant="other")
    assert r.status_code == 200 and r.json == []
    other = as_admin(api, "GET", f"/v1/admin/users/{ALICE_PATH}", tenant="other").json
    assert other["authenticator"] is None and other["recovery_codes_left"] == 0


def test_events_never_contain_a_secret_code_recovery_code_uri_or_token(api):
    set_policy(api, two_factor="on")
    settings_token, logon_token = api.token(), api.token(scope=LOGON)
    admin_token = api.token(ADMIN, "mfa:admin")
    enrolled = api.call("POST", "/v1/authenticator/enroll", {}, token=settings_token).json
    uri = enrolled["otpauth_uri"]
    confirm_code = code_for(uri, api.clock.now)
    confirmed = api.call(
        "POST",
        "/v1/authenticator/confirm",
        {"enrollment_id": enrolled["enrollment_id"], "code": confirm_code},
        token=settings_token,
    ).json
    recovery_codes = confirmed["recovery_codes"]
    api.clock.advance(30)
    verify_code = code_for(uri, api.clock.now)
    verified = api.call("POST", "/v1/logon/verify", {"code": verify_code, "trust_device": True}, token=logon_token)
    assert verified.status_code == 200, verified.json
    api.call("POST", "/v1/logon", {"device_token": verified.json["device_token"]}, token=logon_token)
    api.call("POST", "/v1/logon/verify", {"code": wrong_code(uri, api.clock.now)}, token=logon_token)
    used = api.call(
        "POST", "/v1/logon/verify", {"method": "recovery_code", "code": recovery_codes[0]}, token=logon_token
    )
    assert used.status_code == 200, used.json
    api.clock.advance(30)
    delete_code = code_for(uri, api.clock.now)
    deleted = api.call("DELETE", "/v1/authenticator", {"code": delete_code}, token=settings_token)
    assert deleted.status_code == 200, deleted.json

    events = events_of(api)
    assert {"attached", "confirmed", "verified", "device_trusted", "recovery_used", "deleted"} <= set(names(events))
    dumped = json.dumps(events)
    secret = enrolled["secret"]
    device_token = verified.json["device_token"]
    secrets_seen = [
        secret,
        secret.replace(" ", ""),
        secret.replace(" ", "").lower(),
        uri,
        confirm_code,
        verify_code,
        delete_code,
        *recovery_codes,
        *(c.replace("-", "") for c in recovery_codes),
        verified.json["mfa_token"],
        used.json["mfa_token"],
        device_token,
        device_token.rsplit(".", 1)[1],
        settings_token,
        logon_token,
        admin_token,
    ]
    for value in secrets_seen:
        assert value not in dumped, value


# --- notifications -----------------------------------------------------------------------------


def test_security_events_are_published_to_the_topic(api):
    lockout_policy(api, max_failures=3)
    att = attach(api)  # confirmed
    api.clock.advance(1)
    r = api.as_user(
        "POST", "/v1/logon/verify", {"method": "recovery_code", "code": att["recovery_codes"][0]}, scope=LOGON
    )
    assert r.status_code == 200  # recovery_used
    api.clock.advance(1)
    lock(api, att["uri"])  # locked
    api.clock.advance(1)
    as_admin(api, "POST", f"/v1/admin/users/{ALICE_PATH}/reset")  # reset
    api.clock.advance(1)
    uri = attach(api)["uri"]  # confirmed
    api.clock.advance(30)
    r = api.as_user("DELETE", "/v1/authenticator", {"code": code_for(uri, api.clock.now)})
    assert r.status_code == 200  # deleted

    messages = topic_messages()
    assert [m["event"] for m in messages] == ["confirmed", "recovery_used", "locked", "reset", "confirmed", "deleted"]
    for message in messages:
        assert set(message) == NOTIFICATION_FIELDS
        assert message["tenant"] == "demo" and message["user"] == ALICE
        assert isinstance(message["ip"], str)
    assert [m["at"] for m in messages] == [
        "2027-01-15T08:00:00Z",
        "2027-01-15T08:00:01Z",
        "2027-01-15T08:00:02Z",
        "2027-01-15T08:00:03Z",
        "2027-01-15T08:00:04Z",
        "2027-01-15T08:00:34Z",
    ]


def test_attaching_a_phone_is_published(api):
    attach_phone(api)
    assert [m["event"] for m in topic_messages()] == ["phone_attached"]


def test_a_failing_publish_never_fails_the_request(api, caplog):
    uri = attach(api)["uri"]
    refused = []

    def raiser(**kwargs):
        refused.append(kwargs["model"].name)
        raise botocore.exceptions.ClientError({"Error": {"Code": "InternalError", "Message": "x"}}, "Publish")

    rt = mfa_core.runtime.current()
    rt.sns.meta.events.register("before-call.sns.Publish", raiser)
    caplog.set_level(logging.WARNING)
    api.clock.advance(30)
    r = api.as_user("DELETE", "/v1/authenticator", {"code": code_for(uri, api.clock.now)})
    assert r.status_code == 200 and r.json == {"deleted": True}
    assert refused == ["Publish"]  # the notification was attempted, and refused
    assert api.as_user("GET", "/v1/factors").json["authenticator"] is None
    assert "deleted" in names(events_of(api))
    assert [m["event"] for m in topic_messages()] == ["confirmed"]  # the refused one never reached the topic
    assert any(r.levelno >= logging.WARNING and "deleted" in r.getMessage() for r in caplog.records)


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
