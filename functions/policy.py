"""The tenant's mailbox administrator: the two-factor policy, and the tools on one user (look up, reset
for a lost phone, unlock, the audit trail)."""

from chalice import Blueprint, Response

from mfa_core.auth import ADMIN, normalize_user
from mfa_core.errors import InvalidRequest
from mfa_core.usecases import admin, policies

from .http import Call, endpoint

bp = Blueprint(__name__)
MAX_EVENTS_PAGE = 100


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


@endpoint(bp, "/v1/admin/events", "GET", scopes=(ADMIN,))
def events(call: Call) -> Response:
    user = _user(call.query.get("user"))
    limit = call.query.get("limit", "50")
    if not (limit.isascii() and limit.isdigit()) or not 1 <= int(limit) <= MAX_EVENTS_PAGE:
        raise InvalidRequest(f"limit must be an integer from 1 to {MAX_EVENTS_PAGE}.")
    page, cursor = admin.trail(call.request, user, limit=int(limit), cursor=call.query.get("cursor") or None)
    return Response(body=page, status_code=200, headers={"X-Next-Cursor": cursor} if cursor else {})
