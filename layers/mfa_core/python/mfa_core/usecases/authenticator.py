"""The authenticator app: attach it (QR code, then "Attach Now"), renew its recovery codes, delete it."""

from __future__ import annotations

import secrets

from .. import codes, events, totp
from ..errors import AlreadyAttached, EnrollmentExpired, NotFound
from ..lockout import DAY
from ..model import Authenticator, Effects, Enrollment, Proof, TotpKey
from ..times import iso
from . import factors
from .kernel import Attempt, Request
from .provers import AUTHENTICATOR, RECOVERY_CODE, SECRET_PURPOSE, recovery_hash_of, totp_step

ENROLLMENT_SECONDS = 600
RECOVERY_CODES = 10
DEFAULT_LABEL = "Authenticator app"


def enroll(req: Request, label: str | None) -> dict:
    return req.until_settled(lambda attempt: _enroll(attempt, label))


def _enroll(attempt: Attempt, label: str | None) -> dict:
    req, state = attempt.req, attempt.state
    factors.may_attach(req, "authenticator", state)
    replacing = factors.attach_window(req, state)
    if state.authenticator is not None and not replacing:
        raise AlreadyAttached()
    secret = totp.new_secret()
    rules = req.policy.totp
    expires_at = int(req.now) + ENROLLMENT_SECONDS
    sealed = req.ports.vault.seal(req.tenant, req.user, SECRET_PURPOSE, secret.encode())
    pending = Enrollment(
        enrollment_id=secrets.token_urlsafe(16),
        key=TotpKey(sealed, rules.algorithm, rules.digits, rules.period),
        label=label or DEFAULT_LABEL,
        expires_at=expires_at,
    )
    # The item outlives its expiry by a day so a late confirm hears "expired", not "no such enrollment".
    req.ports.store.save_enrollment(
        req.tenant,
        req.user,
        pending,
        purge_at=expires_at + DAY,
        event=req.event(events.ATTACHED, factor="authenticator", pending=True),
        standing=state.standing,
        replacing=replacing,
    )
    return _shown(req, pending, secret)


def pending_enrollment(req: Request) -> dict:
    """The caller's own enrollment still waiting for its code, as enroll showed it: a reloaded page or a
    second tab shows the QR code already scanned again, instead of a new secret that would make the
    app's code a failed attempt."""
    state = req.load()
    factors.may_attach(req, "authenticator", state)
    if state.authenticator is not None and not factors.attach_window(req, state):
        raise AlreadyAttached()
    pending = state.enrollment
    if pending is None or pending.expires_at <= req.now:
        raise NotFound("No enrollment is waiting for its code.")
    return _shown(req, pending, req.ports.vault.open(req.tenant, req.user, SECRET_PURPOSE, pending.key.secret).decode())


def _shown(req: Request, pending: Enrollment, secret: str) -> dict:
    key, issuer = pending.key, req.policy.totp.issuer
    uri = totp.otpauth_uri(
        secret, account=req.user, issuer=issuer, algorithm=key.algorithm, digits=key.digits, period=key.period
    )
    from ..qr import png_data_uri  # only enrolling draws QR codes: keep qrcode off verify's import path

    return {
        "enrollment_id": pending.enrollment_id,
        "otpauth_uri": uri,
        "secret": totp.grouped(secret),
        "qr_png": png_data_uri(uri),
        "expires_at": iso(pending.expires_at),
        "issuer": issuer,
        "account": req.user,
        "algorithm": key.algorithm,
        "digits": key.digits,
        "period": key.period,
    }


def confirm(req: Request, enrollment_id: str, code: str) -> dict:
    return req.until_settled(lambda attempt: _confirm(attempt, enrollment_id, code))


def _confirm(attempt: Attempt, enrollment_id: str, code: str) -> dict:
    req, state = attempt.req, attempt.state
    factors.may_attach(req, "authenticator", state)
    logon_step = factors.is_logon_enroll_step(req, state)
    replacing = factors.attach_window(req, state)
    pending = state.enrollment
    if pending is None or not codes.same(pending.enrollment_id, enrollment_id):
        raise NotFound("No such enrollment. Get a new QR code and scan it again.")
    if state.authenticator is not None and not replacing:
        raise AlreadyAttached()
    if pending.expires_at <= req.now:
        raise EnrollmentExpired()
    attempt.refuse_if_locked()
    step = totp_step(attempt, pending.key, code, after_step=-1)
    if step is None:
        attempt.fail()
    recovery_codes, hashes = _new_recovery_codes(req)
    attached = Authenticator(
        auth_id=secrets.token_urlsafe(12),
        key=pending.key,  # sealed for this tenant, user and purpose already
        label=pending.label,
        attached_at=int(req.now),
        last_step=step,  # the code used to attach can't be used again, not at logon either
    )
    effects = Effects(
        attach=attached,
        enrollment_id=pending.enrollment_id,
        recovery=tuple(hashes),
        only_factor=logon_step and not replacing,
        replaces_auth=state.authenticator.auth_id if replacing and state.authenticator is not None else None,
        attach_window=replacing,
    )
    attempt.commit(Proof(), effects, events.CONFIRMED, factor="authenticator")
    result: dict = {"attached": True, "recovery_codes": recovery_codes}
    if logon_step:
        result["mfa_token"] = req.mfa_token("otp")
    return result


def delete(req: Request, *, code: str | None, recovery_code: str | None) -> dict:
    """With a current code, or a recovery code when the phone is lost."""
    prover, value = (RECOVERY_CODE, recovery_code) if recovery_code is not None else (AUTHENTICATOR, code)

    def detach(attempt: Attempt) -> None:
        attempt.commit(prover.check(attempt, value), Effects(detach=True), events.DELETED, *prover.events)

    req.until_settled(detach)
    return {"deleted": True}


def renew_recovery_codes(req: Request, code: str) -> dict:
    def renew(attempt: Attempt) -> dict:
        proof = AUTHENTICATOR.check(attempt, code)
        recovery_codes, hashes = _new_recovery_codes(req)
        attempt.commit(proof, Effects(recovery=tuple(hashes)), events.RECOVERY_RENEWED)
        return {"recovery_codes": recovery_codes}

    return req.until_settled(renew)


def _new_recovery_codes(req: Request) -> tuple[list[str], list[str]]:
    recovery_codes = [codes.new_recovery_code() for _ in range(RECOVERY_CODES)]
    return recovery_codes, [recovery_hash_of(req, codes.normalize_recovery_code(c)) for c in recovery_codes]
