"""Trusted devices ("Set as trusted device"): which count, trusting one more, listing and revoking."""

from __future__ import annotations

import hmac
import secrets

from .. import codes, events
from ..limits import MAX_TRUSTED_DEVICES
from ..lockout import DAY
from ..model import Device, Effects, UserState
from ..times import iso
from .kernel import Request


def expires_at(device: Device, req: Request) -> int:
    """A device counts for the policy's trusted_device_days from when it was trusted, as the policy
    says now: lowering the days shortens devices trusted before."""
    return min(device.expires_at, device.created_at + req.policy.trusted_device_days * DAY)


def counts(device: Device, state: UserState, req: Request) -> bool:
    """Not expired (TTL deletes late), not ended by a delete or reset (generation), not issued before
    the tenant last turned trusted devices off."""
    revoked_at = req.policy.devices_revoked_at
    return (
        req.policy.trusted_device_days > 0
        and expires_at(device, req) > req.now
        and device.generation == state.device_gen
        and (revoked_at is None or device.created_at > revoked_at)
    )


def counted(state: UserState, req: Request) -> list[Device]:
    return [d for d in state.devices if counts(d, state, req)]


def presented(req: Request, state: UserState, token: str | None) -> Device | None:
    """The trusted device whose token this is, if it still counts."""
    device_id = codes.device_id_of(token) if token else None
    device = next((d for d in state.devices if d.device_id == device_id), None)
    if device is None or not counts(device, state, req):
        return None
    expected = codes.device_token_hash(req.tenant, req.user, token)
    return device if hmac.compare_digest(device.token_hash, expected) else None


def trust(req: Request, state: UserState, label: str | None) -> tuple[Effects, str]:
    """(the effects that trust this device, its token) in the slot it takes: a free slot, else the
    slot of a dead device, else of the oldest. A user has 10 slots, so at most 10 trusted devices."""
    taken = {d.slot for d in state.devices}
    free = [slot for slot in range(MAX_TRUSTED_DEVICES) if slot not in taken]
    if free:
        # Any free slot: trusts racing from one read then rarely pick the same one and read again.
        slot, replaces = secrets.choice(free), None
    else:
        oldest = min(state.devices, key=lambda d: (counts(d, state, req), d.trusted_ms))
        slot, replaces = oldest.slot, oldest.device_id
    device_id, token = codes.new_device_token(slot)
    device = Device(
        device_id=device_id,
        token_hash=codes.device_token_hash(req.tenant, req.user, token),
        label=(label or req.ctx.user_agent or "Unknown device")[:128],
        created_at=int(req.now),
        expires_at=int(req.now) + req.policy.trusted_device_days * DAY,
        last_used_at=None,
        generation=state.device_gen,
        trusted_ms=int(req.now * 1000),
    )
    return Effects(device=device, replaces=replaces), token


def listed(req: Request) -> list[dict]:
    state = req.load()
    return [
        {
            "id": d.device_id,
            "label": d.label,
            "created_at": iso(d.created_at),
            "expires_at": iso(expires_at(d, req)),
            "last_used_at": iso(d.last_used_at) if d.last_used_at else None,
        }
        for d in counted(state, req)
    ]


def revoke(req: Request, device_id: str) -> dict:
    req.ports.store.delete_device(
        req.tenant, req.user, device_id, event=req.event(events.DEVICE_REVOKED, device=device_id)
    )
    return {"deleted": True}


def revoke_all(req: Request) -> dict:
    state = req.load()
    count = len(counted(state, req))
    event = req.event(events.DEVICE_REVOKED, all=True, count=count)
    req.ports.store.delete_devices(req.tenant, req.user, state.devices, event=event)
    return {"deleted": count}
