"""The secure phone: attach it by an SMS code, send it a code (to log on or to delete it), delete it."""

from __future__ import annotations

from .. import codes, events, phone
from ..errors import AlreadyAttached, InvalidRequest, NotFound, RateLimited, SmsCountryRefused
from ..limits import SMS_MIN_GAP_SECONDS, SMS_PER_DAY, SMS_SECONDS, sms_wait, until_next_day
from ..lockout import DAY
from ..model import Effects, SmsChallenge, UserState
from ..storage.outcomes import Full
from ..times import iso
from . import factors
from .kernel import Attempt, Request, decided
from .provers import AUTHENTICATOR, SmsCode, sms_hash_of

ATTACHING = SmsCode("attach")
DELETING = SmsCode("delete")
TOO_MANY_TODAY = "Too many SMS codes were sent to this number or by your organization today. Try again tomorrow."


def add(req: Request, number: str) -> dict:
    state = req.load()
    factors.may_attach(req, "phone", state)
    if state.phone is not None and not factors.attach_window(req, state):
        raise AlreadyAttached("A secure phone is already attached. Delete it before attaching another.")
    if not phone.is_e164(number):
        raise InvalidRequest("number must be in international format, like +8613800001234.")
    _send(req, state, "attach", number)
    return {"sent": True, "number": phone.mask(number)}


def confirm(req: Request, code: str) -> dict:
    def attach(attempt: Attempt) -> dict:
        state = attempt.state
        factors.may_attach(req, "phone", state)
        logon_step = factors.is_logon_enroll_step(req, state)
        replacing = factors.attach_window(req, state)
        pending = state.sms
        if pending is None or pending.purpose != "attach" or pending.number is None:
            raise NotFound("No phone is waiting to be confirmed. Add the number again.")
        if state.phone is not None and not replacing:
            raise AlreadyAttached("A secure phone is already attached.")
        proof = ATTACHING.check(attempt, code)
        effects = Effects(
            attach_phone=pending.number,
            only_factor=logon_step and not replacing,
            replaces_phone=state.phone if replacing else None,
            attach_window=replacing,
        )
        attempt.commit(proof, effects, events.PHONE_ATTACHED)
        result: dict = {"attached": True, "number": phone.mask(pending.number)}
        if logon_step:
            result["mfa_token"] = req.mfa_token("sms")
        return result

    return req.until_settled(attach)


def send_code(req: Request, *, purpose: str) -> dict:
    """An SMS code to the attached phone: to log on (`logon`) or to delete the phone (`delete`)."""
    state = req.load()
    if state.phone is None:
        raise NotFound("No secure phone is attached.")
    expires_at = _send(req, state, purpose, state.phone.number)
    return {"sent": True, "number": phone.mask(state.phone.number), "expires_at": iso(expires_at)}


def delete(req: Request, code: str) -> dict:
    """A current authenticator code, or the code sent by send_code(purpose="delete")."""

    def remove(attempt: Attempt) -> None:
        DELETING.require(attempt)
        attempt.refuse_if_locked()
        by_app = AUTHENTICATOR.match(attempt, code) if attempt.state.authenticator is not None else None
        attempt.commit(by_app or DELETING.prove(attempt, code), Effects(remove_phone=True), events.PHONE_DELETED)

    req.until_settled(remove)
    return {"deleted": True}


def _send(req: Request, state: UserState, purpose: str, number: str) -> int:
    rules = req.policy.sms
    if not rules.allows(number):
        # Also for a phone attached before its country was taken off the list: the logon needs another factor.
        raise SmsCountryRefused(phone.calling_code(number))
    code = codes.new_sms_code()
    now = int(req.now)
    # The record of this send; its day and day count are the write's to set (guarantees.send_sms).
    sent = SmsChallenge(
        purpose=purpose,
        number=number,
        code_hash=sms_hash_of(req, purpose, code),
        expires_at=now + SMS_SECONDS,
        last_sent_at=now,
        day=now // DAY,
        day_count=1,
        purge_at=now + 2 * DAY,
    )

    def reserve(seen: SmsChallenge | None) -> SmsChallenge | None:
        """The record the send replaced, once it is counted."""
        wait = sms_wait(seen, req.now)
        if wait is not None:
            raise RateLimited(wait)
        try:
            req.ports.store.reserve_sms(
                req.tenant, req.user, sent, seen=seen, min_gap=SMS_MIN_GAP_SECONDS, per_day=SMS_PER_DAY, limits=rules
            )
        except Full as e:
            raise RateLimited(until_next_day(req.now), TOO_MANY_TODAY) from e
        return seen

    replaced = decided(state.sms, reserve)
    try:
        req.ports.messenger.send_sms(number, phone.sms_text(code, SMS_SECONDS // 60), tenant=req.tenant)
    except Exception:
        # Not sent: give the slot and the day's units back so the user can retry now, then answer 503.
        req.ports.store.release_sms(req.tenant, req.user, sent, replaced=replaced)
        raise
    return sent.expires_at
