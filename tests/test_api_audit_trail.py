"""The audit trail (GET /v1/admin/events): a flow's events and their shape, pages, tenants, and never a secret."""

import json
import re
from itertools import groupby

import pytest

from tests.conftest import attach, code_for
from tests.helpers_admin import (
    ADMIN,
    ALICE,
    ALICE_PATH,
    LOGON,
    as_admin,
    events_of,
    events_page,
    lockout_policy,
    names,
    set_policy,
    verify,
    wrong_code,
)


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
