"""The user's factors: what is attached (Account Security), and whether another may be attached now."""

from __future__ import annotations

from .. import phone
from ..auth import LOGON, SETTINGS
from ..errors import Forbidden
from ..lockout import DAY
from ..model import UserState
from ..policy import Policy
from ..times import iso
from . import devices
from .kernel import Request


def may_attach(req: Request, method: str, state: UserState | None = None) -> None:
    if method not in req.policy.methods:
        raise Forbidden(f"Your administrator has not enabled this verification method ({method}).")
    if req.caller.has(SETTINGS):
        return
    # With only a logon token, attaching is the logon's enroll step (Method 1), or the new factor of a user
    # who logged on with a temporary access pass minutes ago: allowed only then.
    state = state if state is not None else req.load()
    if attach_window(req, state):
        return
    if not req.policy.two_factor_on or state.factors:
        raise Forbidden("Attach it from Settings > Account and Security.")


def attach_window(req: Request, state: UserState) -> bool:
    """Whether a logon token may attach a factor in place of a lost one: its user logged on with a temporary
    access pass minutes ago. The new factor replaces an attached one of its kind."""
    return req.caller.has(LOGON) and not req.caller.has(SETTINGS) and state.attach_window(req.now)


def is_logon_enroll_step(req: Request, state: UserState) -> bool:
    """Whether attaching now completes a logon (Method 1, or after a temporary access pass): a logon
    token whose logon decision is `enroll`. A token that also carries mfa:settings attaching a second
    factor completes nothing."""
    return req.caller.has(LOGON) and (
        (req.policy.two_factor_on and not state.factors) or attach_window(req, state)
    )


def grace_until(policy: Policy) -> int | None:
    """Until when a user without a factor may still skip attaching one at logon."""
    if policy.two_factor_since is None or policy.enroll_grace_days == 0:
        return None
    return policy.two_factor_since + policy.enroll_grace_days * DAY


def summary(req: Request, state: UserState) -> dict:
    attached = state.authenticator
    policy = req.policy
    return {
        "authenticator": None
        if attached is None
        else {
            "attached": True,
            "name": attached.label,
            "attached_at": iso(attached.attached_at),
            "algorithm": attached.key.algorithm,
            "digits": attached.key.digits,
            "period": attached.key.period,
        },
        "phone": None
        if state.phone is None
        else {"number": phone.mask(state.phone.number), "attached_at": iso(state.phone.attached_at)},
        "recovery_codes_left": len(state.recovery),
        "trusted_devices": len(devices.counted(state, req)),
        "app_passwords": state.app_password_count,
        "allowed": {
            "methods": list(policy.methods),
            "trusted_device_days": policy.trusted_device_days,
            "app_passwords": policy.app_passwords,
        },
    }


def listed(req: Request) -> dict:
    return summary(req, req.load())
