"""Third-party client security passwords: the user creates, lists and revokes them; the IMAP/SMTP
gateway checks them."""

from __future__ import annotations

import secrets

from .. import codes, events
from ..errors import Forbidden, NotFound, RateLimited
from ..limits import APP_PASSWORD_FAILURES_PER_MINUTE, MAX_APP_PASSWORDS, minute_left, minute_of
from ..model import AppPassword
from ..storage.outcomes import Full
from ..times import iso
from .kernel import Request

DEFAULT_LABEL = "Mail client"


def create(req: Request, label: str | None) -> dict:
    if not req.policy.app_passwords:
        raise Forbidden("Your administrator has turned third-party client security passwords off.")
    password = codes.new_app_password()
    record = AppPassword(
        password_id=secrets.token_urlsafe(9), label=label or DEFAULT_LABEL, created_at=int(req.now), last_used_at=None
    )
    req.until_settled(
        lambda attempt: req.ports.store.create_app_password(
            req.tenant,
            req.user,
            password_hash=_hash(req, password),
            password=record,
            limit=MAX_APP_PASSWORDS,
            standing=attempt.state.standing,
            event=req.event(events.APP_PASSWORD_CREATED, id=record.password_id, label=record.label),
        )
    )
    req.notify(events.APP_PASSWORD_CREATED)
    return {"id": record.password_id, "label": record.label, "password": password, "created_at": iso(record.created_at)}


def listed(req: Request) -> list[dict]:
    return [
        {
            "id": p.password_id,
            "label": p.label,
            "created_at": iso(p.created_at),
            "last_used_at": iso(p.last_used_at) if p.last_used_at else None,
        }
        for _, p in req.ports.store.list_app_passwords(req.tenant, req.user)
    ]


def revoke(req: Request, password_id: str) -> dict:
    stored = req.ports.store.list_app_passwords(req.tenant, req.user)
    found = [h for h, p in stored if codes.same(p.password_id, password_id)]
    if not found:
        raise NotFound("No such third-party client security password.")
    event = req.event(events.APP_PASSWORD_REVOKED, id=password_id)
    req.until_settled(
        lambda attempt: req.ports.store.delete_app_password(
            req.tenant, req.user, found[0], standing=attempt.state.standing, event=event
        )
    )
    return {"deleted": True}


def check(gateway: Request, user: str, password: str) -> dict:
    """The IMAP/SMTP gateway's question about `user`. An unknown user, a revoked password and a wrong one
    take the same path (one hash, one conditional write), so neither answer nor timing tells them apart."""
    req = gateway.about(user)
    if not req.policy.app_passwords:
        return {"valid": False}
    try:
        valid = req.ports.store.use_app_password(
            req.tenant,
            req.user,
            _hash(req, password),
            minute=minute_of(req.now),
            limit=APP_PASSWORD_FAILURES_PER_MINUTE,
            now=req.now,
            event=req.event(events.APP_PASSWORD_USED, gateway=gateway.caller.user),
        )
    except Full as e:
        raise RateLimited(minute_left(req.now)) from e
    return {"valid": valid}


def _hash(req: Request, password: str) -> str:
    return req.keyed_hash("app-password", codes.normalize_app_password(password))
