"""What every use case shares: the request (who asks, about whom, when, through which ports), and the
steps of a code-taking use case on one read of the user: refuse while locked, count a failure, or
accept the proof and its effects in one write, reading again when that write finds the state changed."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, NamedTuple, NoReturn, TypeVar

from .. import events
from ..auth import Caller, mfa_token
from ..errors import InvalidCode, Locked, Unavailable
from ..model import Effects, Event, Proof, UserState
from ..notify import log_event
from ..policy import Policy
from ..retry import pauses
from ..storage.outcomes import Changed, LockedMeanwhile, Stale

if TYPE_CHECKING:
    from ..runtime import Runtime
    from ..storage.store import Store

T = TypeVar("T")
S = TypeVar("S")
# A single-item write whose condition failed is decided again on the item it hands back. Each such
# round follows a real change of the item (a served lock restarted, a success ended the streak, a
# new day of SMS sends), so a handful is plenty; beyond that something is wrong: 503.
DECIDE_AGAIN_ROUNDS = 8


class Context(NamedTuple):
    """The request facts a use case records: when, from where, with what."""

    now: float
    ip: str = ""
    user_agent: str = ""


class AuditedStore:
    """The store as a request's use cases write through it: each audit event a write carries (an Event among
    its arguments) is logged once that write has returned (notify.log_event), so a write refused by its
    condition, or failed, logs none. The audit events of a failed code (record_events) come after the write
    that counted it: their lines stand for that count, as the answer does."""

    def __init__(self, store: Store, tenant: str) -> None:
        self._store = store
        self._tenant = tenant

    def __getattr__(self, name: str):
        method = getattr(self._store, name)

        def logged(*args, **kwargs):
            result = method(*args, **kwargs)
            for value in (*args, *kwargs.values()):
                # Records are tuples too (NamedTuple): only a list or a plain tuple carries several.
                for carried in value if type(value) in (list, tuple) else (value,):
                    if isinstance(carried, Event):
                        log_event(carried.event, self._tenant)
            return result

        return logged


class Ports:
    """The container's ports (Runtime: store, vault, messenger, settings, policies) as one request reaches
    them: the same, its store an AuditedStore."""

    def __init__(self, runtime: Runtime, tenant: str) -> None:
        self.runtime = runtime
        self.store = AuditedStore(runtime.store, tenant)

    def __getattr__(self, name: str):
        return getattr(self.runtime, name)


class Request:
    """One request to a use case: the caller, the user it is about (the caller's own, or the one an
    admin names), its facts, and the ports."""

    def __init__(self, runtime: Runtime, caller: Caller, ctx: Context, user: str | None = None) -> None:
        self.ports = Ports(runtime, caller.tenant)
        self.caller = caller
        self.ctx = ctx
        self.tenant = caller.tenant
        self.user = caller.user if user is None else user

    def about(self, user: str) -> Request:
        """The same request, about another user of the tenant (an admin's)."""
        return Request(self.ports.runtime, self.caller, self.ctx, user)

    @cached_property
    def policy(self) -> Policy:
        return self.ports.policies.get(self.tenant)

    @property
    def now(self) -> float:
        return self.ctx.now

    def load(self) -> UserState:
        return self.ports.store.load_user(self.tenant, self.user)

    def event(self, name: str, **detail) -> Event:
        return Event(at=self.now, event=name, ip=self.ctx.ip, detail=detail)

    def notify(self, name: str) -> None:
        self.ports.messenger.notify(event=name, tenant=self.tenant, user=self.user, at=self.now, ip=self.ctx.ip)

    def mfa_token(self, amr: str) -> str:
        return mfa_token(self.ports.keyring(), self.caller, amr, self.now)

    def keyed_hash(self, purpose: str, value: str) -> str:
        """A code we only need to recognise, keyed for this tenant and bound to the user and purpose."""
        return self.ports.vault.keyed_hash(self.tenant, f"{purpose}:{self.user}", value)

    def until_settled(self, attempt: Callable[[Attempt], T]) -> T:
        """`attempt` on a fresh read of the user, again on a new read whenever its write finds the state
        changed since (Stale): a proof that another request used meanwhile then fails as a replay and
        is counted; one that still holds (it lost only to an unrelated change) is accepted."""
        for _ in pauses():
            try:
                return attempt(Attempt(self, self.load()))
            except Stale:
                continue
        raise Unavailable()


class Attempt(NamedTuple):
    """A code-taking use case on one read of the user."""

    req: Request
    state: UserState

    def refuse_if_locked(self) -> None:
        retry_after = self.state.lockout.retry_after(self.req.policy.lockout, self.req.now)
        if retry_after is not None:
            raise Locked(retry_after)

    def fail(self) -> NoReturn:
        """Count the failed code (decided again on the record as stored if it changed since the read),
        record its events, and answer invalid_code with the attempts left, or Locked."""
        req, rules = self.req, self.req.policy.lockout

        def count(seen):
            retry_after = seen.retry_after(rules, req.now)
            if retry_after is not None:
                raise Locked(retry_after)
            return req.ports.store.record_failure(req.tenant, req.user, seen=seen, rules=rules, now=req.now)

        left = decided(self.state.lockout, count).attempts_left(rules)
        failure = [req.event(events.FAILED, attempts_left=left)]
        locked = [req.event(events.LOCKED)] if not left else []
        req.ports.store.record_events(req.tenant, req.user, failure + locked, now=req.now)
        if left == 0:
            req.notify(events.LOCKED)
        raise InvalidCode(left)

    def commit(self, proof: Proof, effects: Effects, event: str, *also: str | Event, **detail) -> None:
        """Accept `proof` once and apply `effects` in one write with the audit events (`event` with
        `detail`, then `also`); then tell the user of those that are notified."""
        req = self.req
        recorded = [req.event(event, **detail), *(e if isinstance(e, Event) else req.event(e) for e in also)]
        try:
            req.ports.store.commit(
                req.tenant,
                req.user,
                proof=proof,
                effects=effects,
                seen=self.state.lockout,
                rules=req.policy.lockout,
                events=recorded,
                device_gen=self.state.device_gen,
                standing=self.state.standing,
                now=req.now,
            )
        except LockedMeanwhile as e:
            raise Locked(e.lockout.retry_after(req.policy.lockout, req.now) or 1) from e
        for name in dict.fromkeys(e.event for e in recorded):
            if name in events.NOTIFIED:
                req.notify(name)


def decided(seen: S, write: Callable[[S], T]) -> T:
    """`write(seen)`, decided again on the record as stored each time its write finds it changed."""
    for _ in range(DECIDE_AGAIN_ROUNDS):
        try:
            return write(seen)
        except Changed as e:
            seen = e.stored
    raise Unavailable()
