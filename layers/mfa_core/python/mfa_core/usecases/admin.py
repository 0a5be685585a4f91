"""The mailbox administrator's tools on one user: look up, reset (lost phone), unlock, the audit trail."""

from __future__ import annotations

from .. import events
from ..times import iso
from . import factors
from .kernel import Request


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
    state = target.load()
    req.ports.store.reset(req.tenant, user, devices=state.devices, event=req.event(events.RESET, admin=req.user))
    target.notify(events.RESET)
    return {"reset": True}


def unlock(req: Request, user: str) -> dict:
    req.ports.store.unlock(req.tenant, user, event=req.event(events.UNLOCKED, admin=req.user))
    return {"unlocked": True}


def trail(req: Request, user: str, *, limit: int, cursor: str | None) -> tuple[list[dict], str | None]:
    found, next_cursor = req.ports.store.list_events(req.tenant, user, limit=limit, cursor=cursor)
    page = [{"at": iso(e.at), "user": user, "event": e.event, "ip": e.ip, "detail": e.detail} for e in found]
    return page, next_cursor
