"""GET /v1/admin/users (API.md "Tenant overview and temporary access pass"): rows, filters, pages, CSV."""

import pytest

from tests.conftest import attach, code_for
from tests.helpers_admin import ADMIN, ALICE_PATH, as_admin, lockout_policy, verify, wrong_code

pytestmark = pytest.mark.both_engines  # pages come from an index: moto, then DynamoDB Local

HEADER = "user,authenticator,phone,locked_until,last_logon_at"


def rows(api, query=""):
    r = as_admin(api, "GET", "/v1/admin/users" + query)
    assert r.status_code == 200, r.json
    return r


def csv_call(api, query=""):
    token = api.token(ADMIN, "mfa:admin")
    return api.call("GET", "/v1/admin/users" + query, token=token, headers={"Accept": "text/csv"})


def walk(api, limit, filter_="all"):
    seen, cursor, pages = [], None, 0
    while True:
        q = f"?filter={filter_}&limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        r = rows(api, q)
        seen += [row["user"] for row in r.json]
        pages += 1
        cursor = r.headers.get("X-Next-Cursor")
        if not cursor:
            return seen, pages


def test_rows_are_in_lower_cased_user_order_with_the_factor_columns(api):
    attach(api, user="Bob@Example.com")
    api.as_user("POST", "/v1/authenticator/enroll", {}, user="alice@example.com")
    body = rows(api).json
    assert [r["user"] for r in body] == ["alice@example.com", "bob@example.com"]
    assert body[0] == {"user": "alice@example.com", "authenticator": False, "phone": False,
                       "locked_until": None, "last_logon_at": None}
    assert body[1]["authenticator"] is True


def test_cursors_walk_every_row_exactly_once(api):
    users = [f"user{i:02d}@example.com" for i in range(7)]
    for u in reversed(users):
        api.as_user("POST", "/v1/authenticator/enroll", {}, user=u)
    seen, pages = walk(api, 3)
    assert seen == users and pages == 3
    r = rows(api, "?limit=7")
    assert "X-Next-Cursor" not in r.headers


def test_filters_no_factor_and_locked(api):
    lockout_policy(api, max_failures=1)
    alice = attach(api)
    bob = attach(api, user="bob@example.com")
    api.as_user("POST", "/v1/authenticator/enroll", {}, user="carol@example.com")  # started only
    api.clock.advance(30)
    bob_code = {"code": code_for(bob["uri"], api.clock.now)}
    r = api.as_user("DELETE", "/v1/authenticator", bob_code, user="bob@example.com")
    assert r.status_code == 200
    assert [r["user"] for r in rows(api, "?filter=no_factor").json] == ["bob@example.com", "carol@example.com"]
    assert rows(api, "?filter=locked").json == []
    assert verify(api, wrong_code(alice["uri"], api.clock.now)).json["attempts_left"] == 0
    locked = rows(api, "?filter=locked").json
    assert [r["user"] for r in locked] == ["alice@example.com"]
    summary = as_admin(api, "GET", f"/v1/admin/users/{ALICE_PATH}").json
    assert locked[0]["locked_until"] == summary["locked_until"] is not None


def test_last_logon_at_is_the_last_completed_mfa_step(api):
    lockout_policy(api)
    alice = attach(api)
    assert rows(api).json[0]["last_logon_at"] is None
    api.clock.advance(30)
    assert verify(api, code_for(alice["uri"], api.clock.now)).status_code == 200
    assert rows(api).json[0]["last_logon_at"] == "2027-01-15T08:00:30Z"


@pytest.mark.parametrize("query", ["?cursor=garbage", "?filter=some", "?limit=0", "?limit=101", "?limit=x"])
def test_a_bad_cursor_filter_or_limit_is_400(api, query):
    r = as_admin(api, "GET", "/v1/admin/users" + query)
    assert r.status_code == 400 and r.json["error"] == "invalid_request"


def test_the_csv_answer(api):
    attach(api)
    api.as_user("POST", "/v1/authenticator/enroll", {}, user="=cmd@example.com")
    r = csv_call(api)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert r.headers["Content-Disposition"] == 'attachment; filename="users.csv"'
    lines = r.body.decode().splitlines()
    assert lines[0] == HEADER
    assert lines[1] == "'=cmd@example.com,false,false,,"
    assert lines[2] == "alice@example.com,true,false,,"
    assert csv_call(api, "?limit=1000").status_code == 200
    assert csv_call(api, "?limit=1001").status_code == 400


def test_csv_pages_follow_the_same_cursor(api):
    for i in range(3):
        api.as_user("POST", "/v1/authenticator/enroll", {}, user=f"u{i}@example.com")
    first = csv_call(api, "?limit=2")
    cursor = first.headers["X-Next-Cursor"]
    second = csv_call(api, f"?limit=2&cursor={cursor}")
    assert "X-Next-Cursor" not in second.headers
    got = first.body.decode().splitlines()[1:] + second.body.decode().splitlines()[1:]
    assert [line.split(",")[0] for line in got] == ["u0@example.com", "u1@example.com", "u2@example.com"]
