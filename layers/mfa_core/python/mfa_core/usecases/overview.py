"""The tenant at a glance, for its mailbox administrator: the report (the enrolled share, the locks now, the
days of logons) and the user list with its filters, each from the counters and the UserList index, never a
scan of the table (storage/keys.py)."""

from __future__ import annotations

import base64
import itertools
from collections.abc import Iterator

from .. import events
from ..auth import normalize_user
from ..errors import InvalidRequest
from ..lockout import DAY, Lockout
from ..times import iso
from .kernel import Request

FILTERS = ("all", "no_factor", "locked")
# Users read a Query at a time when a filter drops some: enough that a sparse match costs few calls.
FILTERED_PAGE = 200


def report(req: Request, days: int) -> dict:
    today = int(req.now) // DAY
    first = today - days + 1
    totals, counted = req.ports.store.read_counts(req.tenant, first)
    locked_now = sum(1 for _ in _locked(req, after=None))
    users, enrolled = totals.get("users", 0), totals.get("any", 0)
    return {
        "users": users,
        "enrolled": {
            "authenticator": totals.get("authenticator", 0),
            "phone": totals.get("phone", 0),
            "any": enrolled,
            "none": users - enrolled,
        },
        "locked_now": locked_now,
        "app_passwords": totals.get("app_passwords", 0),
        "days": [
            {"date": iso(day * DAY)[:10], **{name: counted.get(day, {}).get(name, 0) for name in events.DAY_COUNTS}}
            for day in range(first, today + 1)
        ],
    }


def users(req: Request, which: str, *, limit: int, cursor: str | None) -> tuple[list[dict], str | None]:
    """A page of the tenant's users under filter `which`, in user order, and the cursor of the next page
    (None when no row follows)."""
    after = _after(cursor)
    store = req.ports.store
    if which == "locked":
        found: Iterator[str] = _locked(req, after=after)
    else:
        page = limit + 1 if which == "all" else FILTERED_PAGE
        listed = store.listed_users(req.tenant, after=after, page=page)
        found = (user for user, has_factor in listed if which == "all" or not has_factor)
    chosen = list(itertools.islice(found, limit + 1))
    more = len(chosen) > limit
    chosen = chosen[:limit]
    rows = store.user_rows(req.tenant, chosen)
    page_rows = [_row(req, user, *rows[user]) for user in chosen]
    return page_rows, _cursor(chosen[-1]) if more else None


def _locked(req: Request, *, after: str | None) -> Iterator[str]:
    rules = req.policy.lockout
    for user, lockout in req.ports.store.failing_users(req.tenant, after=after, page=FILTERED_PAGE):
        if lockout.retry_after(rules, req.now) is not None:
            yield user


def _row(req: Request, user: str, mfa: dict, lockout: Lockout) -> dict:
    locked_until = lockout.locked_until(req.policy.lockout)
    last_logon_at = mfa.get("last_logon_at", {}).get("N")
    return {
        "user": user,
        "authenticator": "auth_id" in mfa,
        "phone": "phone_number" in mfa,
        "locked_until": iso(locked_until) if locked_until and locked_until > req.now else None,
        "last_logon_at": iso(int(last_logon_at)) if last_logon_at else None,
    }


def _cursor(user: str) -> str:
    return base64.urlsafe_b64encode(user.encode()).decode()


def _after(cursor: str | None) -> str | None:
    """The user a cursor we handed out stands for; InvalidRequest for anything else."""
    if cursor is None:
        return None
    try:
        user = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (ValueError, UnicodeError) as e:
        raise InvalidRequest("cursor is not valid.") from e
    if normalize_user(user) != user:
        raise InvalidRequest("cursor is not valid.")
    return user
