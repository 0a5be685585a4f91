"""The tenant's policy: read (cached per container for up to a minute) and saved by its admin."""

from __future__ import annotations

import time

from .. import events
from ..errors import Conflict, Unavailable
from ..model import StoredPolicy
from ..policy import Policy, validate
from ..retry import pauses
from ..storage.store import Store
from .kernel import Request

CACHE_SECONDS = 60


class Policies:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._cached: dict[str, tuple[float, Policy]] = {}

    def get(self, tenant: str, *, fresh: bool = False) -> Policy:
        """The tenant's policy; from the container's cache (up to a minute old) unless `fresh`."""
        cached = self._cached.get(tenant)
        if cached and not fresh and cached[0] > time.monotonic():
            return cached[1]
        stored = self._store.get_policy(tenant)
        policy = Policy.default(tenant)
        if stored is not None:
            policy = Policy.from_dict(
                stored.doc
                | {
                    "version": stored.version,
                    "two_factor_since": stored.two_factor_since,
                    "devices_revoked_at": stored.devices_revoked_at,
                }
            )
        self.remember(tenant, policy)
        return policy

    def remember(self, tenant: str, policy: Policy) -> None:
        self._cached[tenant] = (time.monotonic() + CACHE_SECONDS, policy)

    def clear(self) -> None:
        self._cached.clear()


def read(req: Request) -> dict:
    return req.ports.policies.get(req.tenant, fresh=True).to_dict()


def save(req: Request, body: dict) -> dict:
    """Save the whole policy. With `version`, only over that version (else Conflict); without it, over
    whatever is stored (a save that raced another is tried again on the new one)."""
    policies = req.ports.policies
    for _ in pauses():
        current = policies.get(req.tenant, fresh=True)
        wanted, expected_version = validate(body, current)
        if expected_version is not None and expected_version != current.version:
            raise Conflict()
        # The grace period counts from when two-factor went on; devices trusted before trusted devices
        # were turned off never count again.
        since = (current.two_factor_since or int(req.now)) if wanted.two_factor_on else None
        revoked = int(req.now) if wanted.trusted_device_days == 0 else current.devices_revoked_at
        doc = wanted.to_dict()
        for derived in ("version", "two_factor_since"):
            del doc[derived]
        try:
            req.ports.store.save_policy(
                req.tenant,
                StoredPolicy(doc, current.version + 1, since, revoked),
                replaces=current.version,
                admin=req.user,
                event=req.event(events.POLICY_CHANGED, two_factor=wanted.two_factor),
            )
        except Conflict:
            if expected_version is not None:
                raise
            continue
        policy = wanted._replace(version=current.version + 1, two_factor_since=since, devices_revoked_at=revoked)
        policies.remember(req.tenant, policy)
        return policy.to_dict()
    raise Unavailable()
