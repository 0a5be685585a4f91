"""One prover per factor: what it needs attached, how a code is checked against it, and the proof that
the write then accepts once. A prover that finds no match counts the failure (Attempt.fail)."""

from __future__ import annotations

import hmac

from .. import codes, events, totp
from ..errors import NotFound
from ..model import Proof, TotpKey
from .kernel import Attempt, Request

SECRET_PURPOSE = "totp"


class Prover:
    amr: str  # how the mfa_token says the user proved it (RFC 8176's amr values where one fits)
    events: tuple[str, ...] = ()  # what accepting the proof adds to the audit trail

    def require(self, attempt: Attempt) -> None:
        """NotFound when the factor this prover checks is not attached."""

    def match(self, attempt: Attempt, value: str) -> Proof | None:
        raise NotImplementedError

    def prove(self, attempt: Attempt, value: str) -> Proof:
        return self.match(attempt, value) or attempt.fail()

    def check(self, attempt: Attempt, value: str) -> Proof:
        """The proof of `value`, once the factor is found attached and the user not locked."""
        self.require(attempt)
        attempt.refuse_if_locked()
        return self.prove(attempt, value)


def totp_step(attempt: Attempt, key: TotpKey, value: str, *, after_step: int) -> int | None:
    """The step `value` matches for `key`'s secret (later than `after_step`), or None."""
    code = totp.parse_code(value, key.digits)
    if code is None:
        return None
    req = attempt.req
    secret = req.ports.vault.open(req.tenant, req.user, SECRET_PURPOSE, key.secret).decode()
    return totp.match(
        secret,
        code,
        now=req.now,
        algorithm=key.algorithm,
        digits=key.digits,
        period=key.period,
        window=req.policy.totp.window,
        after_step=after_step,
    )


class AuthenticatorCode(Prover):
    amr = "otp"

    def require(self, attempt: Attempt) -> None:
        if attempt.state.authenticator is None:
            raise NotFound("No authenticator is attached.")

    def match(self, attempt: Attempt, value: str) -> Proof | None:
        attached = attempt.state.authenticator
        step = totp_step(attempt, attached.key, value, after_step=attached.last_step)
        return None if step is None else Proof(auth_id=attached.auth_id, step=step)


class RecoveryCode(AuthenticatorCode):
    amr = "recovery"
    events = (events.RECOVERY_USED,)

    def match(self, attempt: Attempt, value: str) -> Proof | None:
        code = codes.normalize_recovery_code(value)
        recovery_hash = recovery_hash_of(attempt.req, code) if code is not None else None
        if recovery_hash is None or recovery_hash not in attempt.state.recovery:
            return None
        return Proof(auth_id=attempt.state.authenticator.auth_id, recovery_hash=recovery_hash)


def recovery_hash_of(req: Request, code: str) -> str:
    return req.keyed_hash("recovery", code)


def sms_hash_of(req: Request, purpose: str, code: str) -> str:
    return req.keyed_hash(f"sms:{purpose}", code)


class SmsCode(Prover):
    """The pending SMS code sent for `purpose`: to log on, to delete the phone, or to attach it."""

    amr = "sms"

    def __init__(self, purpose: str) -> None:
        self.purpose = purpose

    def require(self, attempt: Attempt) -> None:
        if self.purpose != "attach" and attempt.state.phone is None:
            raise NotFound("No secure phone is attached.")

    def match(self, attempt: Attempt, value: str) -> Proof | None:
        pending = attempt.state.sms
        code = totp.parse_code(value, 6)
        if code is None or pending is None or not pending.code_hash:
            return None
        if pending.purpose != self.purpose or pending.expires_at <= attempt.req.now:
            return None
        code_hash = sms_hash_of(attempt.req, self.purpose, code)
        if not hmac.compare_digest(code_hash, pending.code_hash):
            return None
        # Bound to the phone it went to, except when attaching: that phone is not attached yet.
        bound = attempt.state.phone if self.purpose != "attach" else None
        return Proof(sms_hash=code_hash, sms_purpose=self.purpose, phone=bound)


def access_pass_hash_of(req: Request, code: str) -> str:
    return req.keyed_hash("access-pass", code)


class AccessPassCode(Prover):
    """The temporary access pass an admin issued, while it is live. With none live, any value is a failed
    code, as a wrong one is: the answer never tells a used or expired pass from a wrong one."""

    amr = "pass"
    events = (events.ACCESS_PASS_USED,)

    def match(self, attempt: Attempt, value: str) -> Proof | None:
        issued = attempt.state.access_pass
        code = codes.normalize_access_pass(value)
        if code is None or issued is None or not issued.live(attempt.req.now):
            return None
        pass_hash = access_pass_hash_of(attempt.req, code)
        return Proof(pass_hash=pass_hash) if hmac.compare_digest(pass_hash, issued.pass_hash) else None


AUTHENTICATOR = AuthenticatorCode()
RECOVERY_CODE = RecoveryCode()
# What POST /v1/logon/verify's `method` names.
AT_LOGON = {
    "authenticator": AUTHENTICATOR,
    "phone": SmsCode("logon"),
    "recovery_code": RECOVERY_CODE,
    "access_pass": AccessPassCode(),
}
