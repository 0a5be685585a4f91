"""The logon's MFA step: what comes next (done by a trusted device, verify, or enroll), checking a code,
and skipping within the enrollment grace period. Each way to pass ends in the signed mfa_token."""

from __future__ import annotations

from .. import events
from ..errors import Forbidden
from ..model import Effects
from ..times import iso
from . import devices, factors
from .kernel import Attempt, Request
from .provers import AT_LOGON


def decide(req: Request, device_token: str | None) -> dict:
    policy = req.policy
    trusted = policy.trusted_device_days > 0
    if not policy.two_factor_on:
        return {"next": "done", "methods": [], "trusted_device_allowed": trusted, "mfa_token": req.mfa_token("none")}
    return req.until_settled(lambda attempt: _decide(attempt, device_token))


def _decide(attempt: Attempt, device_token: str | None) -> dict:
    req, state, policy = attempt.req, attempt.state, attempt.req.policy
    trusted = policy.trusted_device_days > 0
    # A valid trusted-device token passes even while the user is locked: a stranger who knows the
    # password must not be able to lock the user out of their own trusted device.
    device = devices.presented(req, state, device_token)
    if device is not None and req.ports.store.touch_device(
        req.tenant,
        req.user,
        device,
        device_gen=state.device_gen,
        standing=state.standing,
        now=req.now,
        event=req.event(events.VERIFIED, method="device", device=device.device_id),
    ):
        return {"next": "done", "methods": [], "trusted_device_allowed": trusted, "mfa_token": req.mfa_token("device")}
    if state.factors:
        live_pass = state.access_pass is not None and state.access_pass.live(req.now)
        methods = state.factors + (["access_pass"] if live_pass else [])
        return {"next": "verify", "methods": methods, "trusted_device_allowed": trusted}
    decision: dict = {"next": "enroll", "methods": list(policy.methods), "trusted_device_allowed": trusted}
    grace_until = factors.grace_until(policy)
    if grace_until is not None and grace_until > req.now:
        decision |= {"skippable": True, "grace_until": iso(grace_until)}
    return decision


def skip(req: Request) -> dict:
    decision = decide(req, None)
    if decision["next"] != "enroll" or not decision.get("skippable"):
        raise Forbidden("Attaching a verification method can't be skipped now.")
    return {"mfa_token": req.mfa_token("none")}


def verify(
    req: Request, method: str, code: str, *, trust_device: bool = False, device_label: str | None = None
) -> dict:
    prover = AT_LOGON[method]

    def check(attempt: Attempt) -> dict:
        proof = prover.check(attempt, code)
        effects, also, result = Effects(), [], {"verified": True}
        if trust_device and req.policy.trusted_device_days > 0:
            effects, token = devices.trust(req, attempt.state, device_label)
            also.append(req.event(events.DEVICE_TRUSTED, device=effects.device.device_id))
            result |= {"device_token": token, "device_expires_at": iso(effects.device.expires_at)}
        attempt.commit(proof, effects, events.VERIFIED, *also, *prover.events, method=method)
        return result | {"mfa_token": req.mfa_token(prover.amr)}

    return req.until_settled(check)
