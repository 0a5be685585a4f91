"""GET /v1/admin/report (API.md "Tenant overview and temporary access pass"): the tenant's counts and days."""

import pytest

from mfa_core import runtime
from tests.conftest import attach, code_for
from tests.helpers_admin import ALICE_PATH, LOGON, as_admin, lockout_policy, verify, wrong_code

pytestmark = pytest.mark.both_engines  # counters and the locked index are storage: moto, then DynamoDB Local

DAY_START = 1_800_057_600  # 2027-01-16T00:00:00Z, the midnight after T0
ZERO = {"verified": 0, "failed": 0, "locked": 0, "attached": 0}


def report(api, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    r = as_admin(api, "GET", "/v1/admin/report" + (f"?{query}" if query else ""))
    assert r.status_code == 200, r.json
    return r.json


def test_days_has_n_entries_oldest_first_ending_today(api):
    body = report(api, days=3)
    assert [d["date"] for d in body["days"]] == ["2027-01-13", "2027-01-14", "2027-01-15"]
    assert all({k: d[k] for k in ZERO} == ZERO for d in body["days"])
    assert len(report(api)["days"]) == 30
    assert body["users"] == 0 and body["locked_now"] == 0 and body["app_passwords"] == 0


@pytest.mark.parametrize("days", ["0", "91", "x", "1.5", "true"])
def test_days_outside_1_to_90_or_not_an_integer_is_400(api, days):
    r = as_admin(api, "GET", f"/v1/admin/report?days={days}")
    assert r.status_code == 400 and r.json["error"] == "invalid_request"


def test_a_known_history_across_midnight_counts_every_number_of_both_days(api):
    api.clock.now = DAY_START - 30  # 23:59:30 on the 15th
    lockout_policy(api, max_failures=2)
    alice = attach(api)  # attached 1 (alice)
    bob = attach(api, user="bob@example.com")  # attached 2
    api.as_user("POST", "/v1/authenticator/enroll", {}, user="carol@example.com")  # a user, no factor
    assert verify(api, wrong_code(alice["uri"], api.clock.now)).status_code == 400  # failed 1
    api.clock.advance(31)  # 00:00:01 on the 16th
    assert verify(api, wrong_code(alice["uri"], api.clock.now)).json["attempts_left"] == 0  # failed 1, locked 1
    r = api.as_user("POST", "/v1/logon/verify", {"code": code_for(bob["uri"], api.clock.now)},
                    user="bob@example.com", scope=LOGON)
    assert r.status_code == 200, r.json  # verified 1
    assert api.as_user("POST", "/v1/app-passwords", {"label": "T"}, user="bob@example.com").status_code == 201
    body = report(api, days=2)
    assert body["days"] == [
        {"date": "2027-01-15", "verified": 0, "failed": 1, "locked": 0, "attached": 2},
        {"date": "2027-01-16", "verified": 1, "failed": 1, "locked": 1, "attached": 0},
    ]
    assert body["users"] == 3
    assert body["enrolled"] == {"authenticator": 2, "phone": 0, "any": 2, "none": 1}
    assert body["locked_now"] == 1 and body["app_passwords"] == 1

    assert as_admin(api, "POST", f"/v1/admin/users/{ALICE_PATH}/reset").status_code == 200  # ends lock, factor
    body = report(api, days=2)
    assert body["enrolled"] == {"authenticator": 1, "phone": 0, "any": 1, "none": 2}
    assert body["locked_now"] == 0 and body["users"] == 3


def test_a_served_lock_and_an_unlock_no_longer_count_as_locked_now(api):
    lockout_policy(api, max_failures=1, lock_seconds=60)
    alice = attach(api)
    assert verify(api, wrong_code(alice["uri"], api.clock.now)).json["attempts_left"] == 0
    assert report(api, days=1)["locked_now"] == 1
    api.clock.advance(61)
    assert report(api, days=1)["locked_now"] == 0
    assert verify(api, wrong_code(alice["uri"], api.clock.now)).json["attempts_left"] == 0
    assert report(api, days=1)["locked_now"] == 1
    as_admin(api, "POST", f"/v1/admin/users/{ALICE_PATH}/unlock")
    assert report(api, days=1)["locked_now"] == 0


def test_deleting_the_authenticator_lowers_enrolled_and_revoked_app_passwords_leave(api):
    alice = attach(api)
    pw = api.as_user("POST", "/v1/app-passwords", {"label": "T"}).json
    assert report(api)["enrolled"]["authenticator"] == 1 and report(api)["app_passwords"] == 1
    api.clock.advance(30)
    r = api.as_user("DELETE", "/v1/authenticator", {"code": code_for(alice["uri"], api.clock.now)})
    assert r.status_code == 200, r.json
    assert api.as_user("DELETE", f"/v1/app-passwords/{pw['id']}").status_code == 200
    body = report(api)
    assert body["enrolled"] == {"authenticator": 0, "phone": 0, "any": 0, "none": 1} and body["app_passwords"] == 0


def test_other_tenants_never_count(api):
    attach(api, tenant="other")
    body = report(api, days=1)
    assert body["users"] == 0 and body["days"][0]["attached"] == 0


def test_the_report_and_the_user_list_never_scan_and_the_report_is_at_most_9_queries(api):
    for i in range(12):
        api.as_user("POST", "/v1/authenticator/enroll", {}, user=f"u{i}@example.com")
    calls = []
    rt = runtime.current()
    rt.dynamodb.meta.events.register("before-call", lambda model, **_: calls.append(model.name))
    report(api)
    assert "Scan" not in calls and calls.count("Query") <= 9, calls
    calls.clear()
    r = as_admin(api, "GET", "/v1/admin/users?limit=5")
    assert r.status_code == 200 and "Scan" not in calls, calls
