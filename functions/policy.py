"""The tenant's mailbox administrator: the two-factor policy, the tenant at a glance (report, user list and
its CSV), and the tools on one user (look up, reset for a lost phone, unlock, the audit trail, a temporary
access pass)."""

import csv
import io

from chalice import Blueprint, Response

from mfa_core.auth import ADMIN, normalize_user
from mfa_core.errors import InvalidRequest
from mfa_core.limits import ACCESS_PASS_HOURS, STATS_DAYS
from mfa_core.usecases import admin, overview, policies

from .http import Call, endpoint

bp = Blueprint(__name__)
MAX_EVENTS_PAGE = 100
MAX_USERS_PAGE = 100
MAX_CSV_PAGE = 1000
CSV_COLUMNS = ("user", "authenticator", "phone", "locked_until", "last_logon_at")
# A cell a spreadsheet would run as a formula (OWASP's CSV injection): kept as text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _user(value: str | None) -> str:
    user = normalize_user(value)
    if user is None:
        raise InvalidRequest("user must be a mailbox address.")
    return user


@endpoint(bp, "/v1/policy", "GET", scopes=(ADMIN,))
def get_policy(call: Call) -> dict:
    return policies.read(call.request)


@endpoint(bp, "/v1/policy", "PUT", scopes=(ADMIN,))
def put_policy(call: Call) -> dict:
    return policies.save(call.request, call.body)


@endpoint(bp, "/v1/admin/users/{user}", "GET", scopes=(ADMIN,))
def lookup(call: Call, user: str) -> dict:
    return admin.lookup(call.request, _user(user))


@endpoint(bp, "/v1/admin/users/{user}/reset", "POST", scopes=(ADMIN,))
def reset(call: Call, user: str) -> dict:
    return admin.reset(call.request, _user(user))


@endpoint(bp, "/v1/admin/users/{user}/unlock", "POST", scopes=(ADMIN,))
def unlock(call: Call, user: str) -> dict:
    return admin.unlock(call.request, _user(user))


@endpoint(bp, "/v1/admin/users/{user}/access-pass", "POST", scopes=(ADMIN,), status=201)
def issue_access_pass(call: Call, user: str) -> dict:
    return admin.issue_access_pass(call.request, _user(user), hours=_hours(call.body))


@endpoint(bp, "/v1/admin/users/{user}/access-pass", "DELETE", scopes=(ADMIN,))
def delete_access_pass(call: Call, user: str) -> dict:
    return admin.delete_access_pass(call.request, _user(user))


@endpoint(bp, "/v1/admin/events", "GET", scopes=(ADMIN,))
def events(call: Call) -> Response:
    user = _user(call.query.get("user"))
    limit = _int_query(call, "limit", 50, MAX_EVENTS_PAGE)
    page, cursor = admin.trail(call.request, user, limit=limit, cursor=call.query.get("cursor") or None)
    return _paged(page, cursor)


@endpoint(bp, "/v1/admin/report", "GET", scopes=(ADMIN,))
def report(call: Call) -> dict:
    return overview.report(call.request, _int_query(call, "days", 30, STATS_DAYS))


@endpoint(bp, "/v1/admin/users", "GET", scopes=(ADMIN,))
def users(call: Call) -> Response:
    """The user list as JSON, or as CSV for a spreadsheet (Accept: text/csv), a page at a time."""
    which = call.query.get("filter", "all")
    if which not in overview.FILTERS:
        raise InvalidRequest(f"filter must be one of: {', '.join(overview.FILTERS)}.")
    as_csv = "text/csv" in call.accept
    limit = _int_query(call, "limit", MAX_CSV_PAGE if as_csv else 50, MAX_CSV_PAGE if as_csv else MAX_USERS_PAGE)
    rows, cursor = overview.users(call.request, which, limit=limit, cursor=call.query.get("cursor") or None)
    if not as_csv:
        return _paged(rows, cursor)
    response = _paged(_csv(rows), cursor)
    response.headers |= {
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": 'attachment; filename="users.csv"',
    }
    return response


def _int_query(call: Call, name: str, default: int, largest: int) -> int:
    value = call.query.get(name, str(default))
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= largest:
        raise InvalidRequest(f"{name} must be an integer from 1 to {largest}.")
    return int(value)


def _hours(body: dict) -> int:
    low, high = ACCESS_PASS_HOURS
    hours = body.get("hours", 8)
    if not isinstance(hours, int) or isinstance(hours, bool) or not low <= hours <= high:
        raise InvalidRequest(f"hours must be an integer from {low} to {high}.")
    return hours


def _paged(body, cursor: str | None) -> Response:
    return Response(body=body, status_code=200, headers={"X-Next-Cursor": cursor} if cursor else {})


def _csv(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow([_cell(row[name]) for name in CSV_COLUMNS])
    return out.getvalue()


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "'" + value if value.startswith(FORMULA_STARTS) else value
