"""The mailbox administrator's tools on one user: look up, reset (lost phone), unlock, the audit trail, and a
temporary access pass (lost phone, without turning anything off)."""

from __future__ import annotations

from .. import codes, events
from ..model import AccessPass
from ..times import iso
from . import factors
from .kernel import Request
from .provers import access_pass_hash_of


def lookup(req: Request, user: str) -> dict:
    target = req.about(user)
    state = target.load()
    locked_until = state.lockout.locked_until(req.policy.lockout)
    return factors.summary(target, state) | {
        "user": user,
        "locked_until": iso(locked_until) if locked_until and locked_until > req.now else None,
    }


def reset(req: Request, user: str) -> dict:
    target = req.about(user)
    event = req.event(events.RESET, admin=req.user)
    target.until_settled(
        lambda attempt: req.ports.store.reset(
            req.tenant, user, devices=attempt.state.devices, standing=attempt.state.standing, event=event
        )
    )
    target.notify(events.RESET)
    return {"reset": True}


def unlock(req: Request, user: str) -> dict:
    req.ports.store.unlock(req.tenant, user, event=req.event(events.UNLOCKED, admin=req.user))
    return {"unlocked": True}


def trail(req: Request, user: str, *, limit: int, cursor: str | None) -> tuple[list[dict], str | None]:
    found, next_cursor = req.ports.store.list_events(req.tenant, user, limit=limit, cursor=cursor)
    page = [{"at": iso(e.at), "user": user, "event": e.event, "ip": e.ip, "detail": e.detail} for e in found]
    return page, next_cursor


def issue_access_pass(req: Request, user: str, *, hours: int) -> dict:
    """A one-time logon factor for `user`, live for `hours`, in place of any earlier one. Shown only here:
    stored as a keyed hash, like a recovery code."""
    target = req.about(user)
    code = codes.new_access_pass()
    expires_at = int(req.now) + hours * 3600
    issued = AccessPass(access_pass_hash_of(target, codes.normalize_access_pass(code)), expires_at, None, None)
    event = req.event(events.ACCESS_PASS_ISSUED, admin=req.user, expires_at=iso(expires_at))
    req.ports.store.issue_access_pass(req.tenant, user, issued, event=event)
    target.notify(events.ACCESS_PASS_ISSUED)
    return {"access_pass": code, "expires_at": iso(expires_at)}


def delete_access_pass(req: Request, user: str) -> dict:
    req.ports.store.delete_access_pass(req.tenant, user, event=req.event(events.ACCESS_PASS_REVOKED, admin=req.user))
    return {"deleted": True}
