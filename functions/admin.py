"""The mailbox administrator's tools: look a user up, reset (lost phone), unlock, read the audit trail."""
from chalice import Blueprint, Response

from mfa_core import runtime
from mfa_core.auth import normalize_user
from mfa_core.errors import InvalidRequest

from .http import Call, endpoint

bp = Blueprint(__name__)
ADMIN = ("mfa:admin",)
MAX_EVENTS_PAGE = 100


def _user(value: str | None) -> str:
    user = normalize_user(value)
    if user is None:
        raise InvalidRequest("user must be a mailbox address.")
    return user


@endpoint(bp, "/v1/admin/users/{user}", "GET", scopes=ADMIN)
def lookup(call: Call, user: str) -> dict:
    return runtime.current().service.admin_user(call.caller, _user(user), call.ctx)


@endpoint(bp, "/v1/admin/users/{user}/reset", "POST", scopes=ADMIN)
def reset(call: Call, user: str) -> dict:
    return runtime.current().service.admin_reset(call.caller, _user(user), call.ctx)


@endpoint(bp, "/v1/admin/users/{user}/unlock", "POST", scopes=ADMIN)
def unlock(call: Call, user: str) -> dict:
    return runtime.current().service.admin_unlock(call.caller, _user(user), call.ctx)


@endpoint(bp, "/v1/admin/events", "GET", scopes=ADMIN)
def events(call: Call) -> Response:
    user = _user(call.query.get("user"))
    limit = call.query.get("limit", "50")
    if not (limit.isascii() and limit.isdigit()) or not 1 <= int(limit) <= MAX_EVENTS_PAGE:
        raise InvalidRequest(f"limit must be an integer from 1 to {MAX_EVENTS_PAGE}.")
    page, cursor = runtime.current().service.events(call.caller, user, limit=int(limit),
                                                    cursor=call.query.get("cursor") or None)
    return Response(body=page, status_code=200, headers={"X-Next-Cursor": cursor} if cursor else {})
