"""The use cases: policy, attaching an authenticator or a phone, the logon step, trusted devices,
recovery codes, app passwords, admin. Each takes the caller and the request's Context, and talks to
the world only through its ports: Store (DynamoDB), Vault (KMS + AES-GCM), Messenger (SNS)."""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import NoReturn, TypeVar

from . import codes, phone, totp
from .auth import Caller, mfa_token
from .config import Settings
from .crypto import Vault
from .errors import (
    AlreadyAttached,
    Conflict,
    EnrollmentExpired,
    Forbidden,
    InvalidCode,
    InvalidRequest,
    Locked,
    NotFound,
    Unavailable,
)
from .lockout import DAY, Lockout
from .notify import Messenger
from .policy import Policy, validate
from .retry import pauses
from .storage import (
    AppPassword,
    Authenticator,
    Device,
    Effects,
    Enrollment,
    Event,
    LockedMeanwhile,
    Proof,
    Stale,
    Store,
    UserState,
)
from .times import iso

T = TypeVar("T")

ENROLLMENT_SECONDS = 600
POLICY_CACHE_SECONDS = 60
RECOVERY_CODES = 10
SMS_SECONDS = 300
SMS_MIN_GAP_SECONDS = 30
SMS_PER_DAY = 10
MAX_TRUSTED_DEVICES = 10
MAX_APP_PASSWORDS = 40
APP_PASSWORD_FAILURES_PER_MINUTE = 10
SECRET_PURPOSE = "totp"
DEFAULT_LABEL = "Authenticator app"
# Events the user hears about out of band (SNS -> the mail system's email), besides the audit trail.
NOTIFIED = frozenset(
    {
        "confirmed",
        "deleted",
        "locked",
        "reset",
        "app_password_created",
        "recovery_used",
        "phone_attached",
        "phone_deleted",
    }
)


@dataclass(frozen=True)
class Context:
    """The request facts a use case records: when, from where, with what."""

    now: float
    ip: str = ""
    user_agent: str = ""


class MfaService:
    def __init__(self, store: Store, vault: Vault, messenger: Messenger, settings: Settings) -> None:
        self._store = store
        self._vault = vault
        self._messenger = messenger
        self._settings = settings
        self._policies: dict[str, tuple[float, Policy]] = {}

    # --- policy -----------------------------------------------------------------------------

    def policy(self, tenant: str, *, fresh: bool = False) -> Policy:
        """The tenant's policy; cached per container for up to a minute unless `fresh`."""
        cached = self._policies.get(tenant)
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
        self._policies[tenant] = (time.monotonic() + POLICY_CACHE_SECONDS, policy)
        return policy

    def save_policy(self, caller: Caller, body: dict, ctx: Context) -> Policy:
        """Save the whole policy. With `version`, only over that version (else Conflict); without it,
        over whatever is stored (a save that raced another is tried again on the new one)."""
        for _ in pauses():
            current = self.policy(caller.tenant, fresh=True)
            wanted, expected_version = validate(body, current)
            if expected_version is not None and expected_version != current.version:
                raise Conflict()
            # The grace period counts from when two-factor went on; devices trusted before trusted
            # devices were turned off never count again.
            since = (current.two_factor_since or int(ctx.now)) if wanted.two_factor_on else None
            revoked = int(ctx.now) if wanted.trusted_device_days == 0 else current.devices_revoked_at
            doc = wanted.to_dict()
            for derived in ("version", "two_factor_since"):
                del doc[derived]
            try:
                stored = self._store.save_policy(
                    caller.tenant,
                    doc,
                    replaces=current.version,
                    two_factor_since=since,
                    devices_revoked_at=revoked,
                    admin=caller.user,
                    event=self._event("policy_changed", ctx, two_factor=wanted.two_factor),
                )
            except Conflict:
                if expected_version is not None:
                    raise
                continue
            policy = replace(wanted, version=stored.version, two_factor_since=since, devices_revoked_at=revoked)
            self._policies[caller.tenant] = (time.monotonic() + POLICY_CACHE_SECONDS, policy)
            return policy
        raise Unavailable()

    # --- attach an authenticator --------------------------------------------------------------

    def enroll(self, caller: Caller, label: str | None, ctx: Context) -> dict:
        policy = self.policy(caller.tenant)
        self._may_attach(caller, policy, "authenticator")
        secret = totp.new_secret()
        rules = policy.totp
        uri = totp.otpauth_uri(
            secret,
            account=caller.user,
            issuer=rules.issuer,
            algorithm=rules.algorithm,
            digits=rules.digits,
            period=rules.period,
        )
        expires_at = int(ctx.now) + ENROLLMENT_SECONDS
        enrollment = Enrollment(
            enrollment_id=secrets.token_urlsafe(16),
            secret=self._vault.seal(caller.tenant, caller.user, SECRET_PURPOSE, secret.encode()),
            algorithm=rules.algorithm,
            digits=rules.digits,
            period=rules.period,
            label=label or DEFAULT_LABEL,
            expires_at=expires_at,
        )
        # The item outlives its expiry by a day so a late confirm hears "expired", not "no such enrollment".
        self._store.save_enrollment(
            caller.tenant,
            caller.user,
            enrollment,
            purge_at=expires_at + DAY,
            event=self._event("attached", ctx, factor="authenticator", pending=True),
        )
        from .qr import png_data_uri  # only enroll draws QR codes: keep qrcode off verify's import path

        return {
            "enrollment_id": enrollment.enrollment_id,
            "otpauth_uri": uri,
            "secret": totp.grouped(secret),
            "qr_png": png_data_uri(uri),
            "expires_at": iso(expires_at),
            "issuer": rules.issuer,
            "account": caller.user,
            "algorithm": rules.algorithm,
            "digits": rules.digits,
            "period": rules.period,
        }

    def confirm(self, caller: Caller, enrollment_id: str, code: str, ctx: Context) -> dict:
        policy = self.policy(caller.tenant)
        return self._until_settled(caller, lambda state: self._confirm(caller, policy, state, enrollment_id, code, ctx))

    def _confirm(
        self, caller: Caller, policy: Policy, state: UserState, enrollment_id: str, code: str, ctx: Context
    ) -> dict:
        self._may_attach(caller, policy, "authenticator", state)
        logon_step = self._is_logon_enroll_step(caller, policy, state)
        enrollment = state.enrollment
        if enrollment is None or not codes.same(enrollment.enrollment_id, enrollment_id):
            raise NotFound("No such enrollment. Get a new QR code and scan it again.")
        if state.authenticator is not None:
            raise AlreadyAttached()
        if enrollment.expires_at <= ctx.now:
            raise EnrollmentExpired()
        self._refuse_if_locked(state, policy, ctx)
        step = self._match_totp(caller, state, policy, ctx, code, enrollment, after_step=-1)
        if step is None:
            self._fail(caller, state, policy, ctx)
        recovery_codes, hashes = self._new_recovery_codes(caller)
        authenticator = Authenticator(
            auth_id=secrets.token_urlsafe(12),
            secret=enrollment.secret,  # sealed for this tenant, user and purpose already
            algorithm=enrollment.algorithm,
            digits=enrollment.digits,
            period=enrollment.period,
            label=enrollment.label,
            attached_at=int(ctx.now),
            last_step=step,  # the code used to attach can't be used again, not at logon either
        )
        try:
            self._store.attach(
                caller.tenant,
                caller.user,
                enrollment_id=enrollment.enrollment_id,
                authenticator=authenticator,
                recovery=hashes,
                only_factor=logon_step,
                seen=state.lockout,
                rules=policy.lockout,
                now=ctx.now,
                event=self._event("confirmed", ctx, factor="authenticator"),
            )
        except LockedMeanwhile as e:
            raise Locked(e.lockout.retry_after(policy.lockout, ctx.now) or 1) from e
        self._notify("confirmed", caller, ctx)
        result: dict = {"attached": True, "recovery_codes": recovery_codes}
        if logon_step:
            result["mfa_token"] = mfa_token(self._settings, caller, "otp", ctx.now)
        return result

    def _may_attach(self, caller: Caller, policy: Policy, method: str, state: UserState | None = None) -> None:
        if method not in policy.methods:
            raise Forbidden(f"Your administrator has not enabled this verification method ({method}).")
        if caller.has("mfa:settings"):
            return
        # With only a logon token, attaching is the logon's enroll step (Method 1): allowed only then.
        if state is None:
            state = self._store.load_user(caller.tenant, caller.user)
        if not policy.two_factor_on or self._factors_of(state):
            raise Forbidden("Attach it from Settings > Account and Security.")

    def _is_logon_enroll_step(self, caller: Caller, policy: Policy, state: UserState) -> bool:
        """Whether attaching now completes a logon (Method 1): a logon token whose logon decision is
        `enroll`. A token that also carries mfa:settings attaching a second factor completes nothing."""
        return caller.has("mfa:logon") and policy.two_factor_on and not self._factors_of(state)

    # --- secure phone -----------------------------------------------------------------------

    def add_phone(self, caller: Caller, number: str, ctx: Context) -> dict:
        policy = self.policy(caller.tenant)
        state = self._store.load_user(caller.tenant, caller.user)
        self._may_attach(caller, policy, "phone", state)
        if state.phone is not None:
            raise AlreadyAttached("A secure phone is already attached. Delete it before attaching another.")
        if not phone.is_e164(number):
            raise InvalidRequest("number must be in international format, like +8613800001234.")
        self._send_sms(caller, state, "attach", number, ctx)
        return {"sent": True, "number": phone.mask(number)}

    def confirm_phone(self, caller: Caller, code: str, ctx: Context) -> dict:
        policy = self.policy(caller.tenant)
        return self._until_settled(caller, lambda state: self._confirm_phone(caller, policy, state, code, ctx))

    def _confirm_phone(self, caller: Caller, policy: Policy, state: UserState, code: str, ctx: Context) -> dict:
        self._may_attach(caller, policy, "phone", state)
        logon_step = self._is_logon_enroll_step(caller, policy, state)
        pending = state.sms
        if pending is None or pending.purpose != "attach" or pending.number is None:
            raise NotFound("No phone is waiting to be confirmed. Add the number again.")
        if state.phone is not None:
            raise AlreadyAttached("A secure phone is already attached.")
        self._refuse_if_locked(state, policy, ctx)
        proof = self._sms_proof(caller, state, policy, ctx, code, "attach")
        effects = Effects(attach_phone=pending.number, only_factor=logon_step)
        self._commit(caller, state, policy, ctx, proof, effects, "phone_attached")
        result: dict = {"attached": True, "number": phone.mask(pending.number)}
        if logon_step:
            result["mfa_token"] = mfa_token(self._settings, caller, "sms", ctx.now)
        return result

    def send_phone_code(self, caller: Caller, ctx: Context, *, purpose: str) -> dict:
        """An SMS code to the attached phone: to log on (`logon`) or to delete the phone (`delete`)."""
        state = self._store.load_user(caller.tenant, caller.user)
        if state.phone is None:
            raise NotFound("No secure phone is attached.")
        expires_at = self._send_sms(caller, state, purpose, state.phone.number, ctx)
        return {"sent": True, "number": phone.mask(state.phone.number), "expires_at": iso(expires_at)}

    def delete_phone(self, caller: Caller, code: str, ctx: Context) -> dict:
        """A current authenticator code, or the code sent by send_phone_code(purpose="delete")."""
        policy = self.policy(caller.tenant)
        return self._until_settled(caller, lambda state: self._delete_phone(caller, policy, state, code, ctx))

    def _delete_phone(self, caller: Caller, policy: Policy, state: UserState, code: str, ctx: Context) -> dict:
        if state.phone is None:
            raise NotFound("No secure phone is attached.")
        self._refuse_if_locked(state, policy, ctx)
        proof = None
        if state.authenticator is not None:
            step = self._match_totp(
                caller, state, policy, ctx, code, state.authenticator, after_step=state.authenticator.last_step
            )
            if step is not None:
                proof = Proof(auth_id=state.authenticator.auth_id, step=step)
        proof = proof or self._sms_proof(caller, state, policy, ctx, code, "delete")
        self._commit(caller, state, policy, ctx, proof, Effects(remove_phone=True), "phone_deleted")
        return {"deleted": True}

    def _send_sms(self, caller: Caller, state: UserState, purpose: str, number: str, ctx: Context) -> int:
        code = codes.new_sms_code()
        code_hash = self._sms_hash(caller, purpose, code)
        expires_at = int(ctx.now) + SMS_SECONDS
        replaced = self._store.reserve_sms(
            caller.tenant,
            caller.user,
            seen=state.sms,
            purpose=purpose,
            number=number,
            code_hash=code_hash,
            expires_at=expires_at,
            now=ctx.now,
            min_gap=SMS_MIN_GAP_SECONDS,
            per_day=SMS_PER_DAY,
        )
        try:
            self._messenger.send_sms(number, phone.sms_text(code, SMS_SECONDS // 60))
        except Exception:
            # Not sent: give the slot back so the user can retry now, then answer 503.
            self._store.release_sms(caller.tenant, caller.user, replaced=replaced, code_hash=code_hash)
            raise
        return expires_at

    def _sms_proof(
        self, caller: Caller, state: UserState, policy: Policy, ctx: Context, value: str, purpose: str
    ) -> Proof:
        pending = state.sms
        code = totp.parse_code(value, 6)
        if (
            code is not None
            and pending is not None
            and pending.code_hash
            and pending.purpose == purpose
            and pending.expires_at > ctx.now
        ):
            code_hash = self._sms_hash(caller, purpose, code)
            if hmac.compare_digest(code_hash, pending.code_hash):
                # Bound to the phone it went to, except when attaching: that phone is not attached yet.
                bound = state.phone if purpose != "attach" else None
                return Proof(sms_hash=code_hash, sms_purpose=purpose, phone=bound)
        self._fail(caller, state, policy, ctx)

    def _sms_hash(self, caller: Caller, purpose: str, code: str) -> str:
        return self._vault.keyed_hash(caller.tenant, f"sms:{purpose}:{caller.user}", code)

    # --- logon ------------------------------------------------------------------------------

    def logon(self, caller: Caller, device_token: str | None, ctx: Context) -> dict:
        policy = self.policy(caller.tenant)
        trusted = policy.trusted_device_days > 0
        if not policy.two_factor_on:
            return {
                "next": "done",
                "methods": [],
                "trusted_device_allowed": trusted,
                "mfa_token": mfa_token(self._settings, caller, "none", ctx.now),
            }
        state = self._store.load_user(caller.tenant, caller.user)
        # A valid trusted-device token passes even while the user is locked: a stranger who knows the
        # password must not be able to lock the user out of their own trusted device.
        device = self._trusted_device(caller, state, policy, device_token, ctx)
        if device is not None and self._store.touch_device(
            caller.tenant,
            caller.user,
            device,
            device_gen=state.device_gen,
            now=ctx.now,
            event=self._event("verified", ctx, method="device", device=device.device_id),
        ):
            return {
                "next": "done",
                "methods": [],
                "trusted_device_allowed": trusted,
                "mfa_token": mfa_token(self._settings, caller, "device", ctx.now),
            }
        methods = self._factors_of(state)
        if methods:
            return {"next": "verify", "methods": methods, "trusted_device_allowed": trusted}
        decision: dict = {"next": "enroll", "methods": list(policy.methods), "trusted_device_allowed": trusted}
        grace_until = self._grace_until(policy)
        if grace_until is not None and grace_until > ctx.now:
            decision |= {"skippable": True, "grace_until": iso(grace_until)}
        return decision

    def skip(self, caller: Caller, ctx: Context) -> dict:
        decision = self.logon(caller, None, ctx)
        if decision["next"] != "enroll" or not decision.get("skippable"):
            raise Forbidden("Attaching a verification method can't be skipped now.")
        return {"mfa_token": mfa_token(self._settings, caller, "none", ctx.now)}

    def verify(
        self,
        caller: Caller,
        method: str,
        code: str,
        ctx: Context,
        *,
        trust_device: bool = False,
        device_label: str | None = None,
    ) -> dict:
        policy = self.policy(caller.tenant)
        return self._until_settled(
            caller, lambda state: self._verify(caller, policy, state, method, code, ctx, trust_device, device_label)
        )

    def _verify(
        self,
        caller: Caller,
        policy: Policy,
        state: UserState,
        method: str,
        code: str,
        ctx: Context,
        trust_device: bool,
        device_label: str | None,
    ) -> dict:
        if method == "phone":
            if state.phone is None:
                raise NotFound("No secure phone is attached.")
            self._refuse_if_locked(state, policy, ctx)
            proof, amr = self._sms_proof(caller, state, policy, ctx, code, "logon"), "sms"
        else:
            authenticator = self._attached(state)
            self._refuse_if_locked(state, policy, ctx)
            if method == "recovery_code":
                proof, amr = self._recovery_proof(caller, state, policy, ctx, code), "recovery"
            else:
                proof, amr = self._totp_proof(caller, state, policy, ctx, code, authenticator), "otp"
        effects, extra_events, result = Effects(), [], {"verified": True}
        if trust_device and policy.trusted_device_days > 0:
            slot, replaces = self._slot_for_new_device(state, policy, ctx)
            device_id, token = codes.new_device_token(slot)
            device = Device(
                device_id=device_id,
                token_hash=codes.device_token_hash(caller.tenant, caller.user, token),
                label=(device_label or ctx.user_agent or "Unknown device")[:128],
                created_at=int(ctx.now),
                expires_at=int(ctx.now) + policy.trusted_device_days * DAY,
                last_used_at=None,
                generation=state.device_gen,
                trusted_ms=int(ctx.now * 1000),
            )
            effects = Effects(device=device, replaces=replaces)
            extra_events.append(self._event("device_trusted", ctx, device=device_id))
            result |= {"device_token": token, "device_expires_at": iso(device.expires_at)}
        if amr == "recovery":
            extra_events.append(self._event("recovery_used", ctx))
        self._commit(caller, state, policy, ctx, proof, effects, "verified", extra_events, method=method)
        if amr == "recovery":
            self._notify("recovery_used", caller, ctx)
        return result | {"mfa_token": mfa_token(self._settings, caller, amr, ctx.now)}

    # --- delete, recovery codes ---------------------------------------------------------------

    def delete_authenticator(
        self, caller: Caller, ctx: Context, *, code: str | None, recovery_code: str | None
    ) -> dict:
        policy = self.policy(caller.tenant)
        return self._until_settled(
            caller, lambda state: self._delete_authenticator(caller, policy, state, ctx, code, recovery_code)
        )

    def _delete_authenticator(
        self,
        caller: Caller,
        policy: Policy,
        state: UserState,
        ctx: Context,
        code: str | None,
        recovery_code: str | None,
    ) -> dict:
        authenticator = self._attached(state)
        self._refuse_if_locked(state, policy, ctx)
        extra_events = []
        if recovery_code is not None:
            proof = self._recovery_proof(caller, state, policy, ctx, recovery_code)
            extra_events.append(self._event("recovery_used", ctx))
        else:
            proof = self._totp_proof(caller, state, policy, ctx, code, authenticator)
        self._commit(caller, state, policy, ctx, proof, Effects(detach=True), "deleted", extra_events)
        if recovery_code is not None:
            self._notify("recovery_used", caller, ctx)
        return {"deleted": True}

    def renew_recovery_codes(self, caller: Caller, code: str, ctx: Context) -> dict:
        policy = self.policy(caller.tenant)
        return self._until_settled(caller, lambda state: self._renew_recovery_codes(caller, policy, state, code, ctx))

    def _renew_recovery_codes(self, caller: Caller, policy: Policy, state: UserState, code: str, ctx: Context) -> dict:
        authenticator = self._attached(state)
        self._refuse_if_locked(state, policy, ctx)
        proof = self._totp_proof(caller, state, policy, ctx, code, authenticator)
        recovery_codes, hashes = self._new_recovery_codes(caller)
        self._commit(caller, state, policy, ctx, proof, Effects(recovery=tuple(hashes)), "recovery_renewed")
        return {"recovery_codes": recovery_codes}

    def _new_recovery_codes(self, caller: Caller) -> tuple[list[str], list[str]]:
        recovery_codes = [codes.new_recovery_code() for _ in range(RECOVERY_CODES)]
        return recovery_codes, [self._recovery_hash(caller, codes.normalize_recovery_code(c)) for c in recovery_codes]

    def _recovery_hash(self, caller: Caller, code: str) -> str:
        return self._vault.keyed_hash(caller.tenant, f"recovery:{caller.user}", code)

    # --- trusted devices --------------------------------------------------------------------

    def devices(self, caller: Caller, ctx: Context) -> list[dict]:
        policy = self.policy(caller.tenant)
        state = self._store.load_user(caller.tenant, caller.user)
        return [
            {
                "id": d.device_id,
                "label": d.label,
                "created_at": iso(d.created_at),
                "expires_at": iso(self._device_expires_at(d, policy)),
                "last_used_at": iso(d.last_used_at) if d.last_used_at else None,
            }
            for d in state.devices
            if self._device_counts(d, state, policy, ctx)
        ]

    def revoke_device(self, caller: Caller, device_id: str, ctx: Context) -> dict:
        self._store.delete_device(
            caller.tenant, caller.user, device_id, event=self._event("device_revoked", ctx, device=device_id)
        )
        return {"deleted": True}

    def revoke_devices(self, caller: Caller, ctx: Context) -> dict:
        policy = self.policy(caller.tenant)
        state = self._store.load_user(caller.tenant, caller.user)
        counted = sum(1 for d in state.devices if self._device_counts(d, state, policy, ctx))
        self._store.delete_devices(
            caller.tenant,
            caller.user,
            state.devices,
            event=self._event("device_revoked", ctx, all=True, count=counted),
        )
        return {"deleted": counted}

    def _trusted_device(
        self, caller: Caller, state: UserState, policy: Policy, token: str | None, ctx: Context
    ) -> Device | None:
        device_id = codes.device_id_of(token) if token else None
        device = next((d for d in state.devices if d.device_id == device_id), None)
        if device is None or not self._device_counts(device, state, policy, ctx):
            return None
        expected = codes.device_token_hash(caller.tenant, caller.user, token)
        return device if hmac.compare_digest(device.token_hash, expected) else None

    @staticmethod
    def _device_expires_at(device: Device, policy: Policy) -> int:
        """A device counts for the policy's trusted_device_days from when it was trusted, as the policy
        says now: lowering the days shortens devices trusted before."""
        return min(device.expires_at, device.created_at + policy.trusted_device_days * DAY)

    @classmethod
    def _device_counts(cls, device: Device, state: UserState, policy: Policy, ctx: Context) -> bool:
        """Not expired (TTL deletes late), not ended by a delete or reset (generation), not issued
        before the tenant last turned trusted devices off."""
        revoked_at = policy.devices_revoked_at
        return (
            policy.trusted_device_days > 0
            and cls._device_expires_at(device, policy) > ctx.now
            and device.generation == state.device_gen
            and (revoked_at is None or device.created_at > revoked_at)
        )

    def _slot_for_new_device(self, state: UserState, policy: Policy, ctx: Context) -> tuple[int, str | None]:
        """(slot, device id it holds now) for one more device: a free slot, else the slot of a dead
        device, else of the oldest. A user has 10 slots, so at most 10 trusted devices."""
        taken = {d.slot for d in state.devices}
        free = [slot for slot in range(MAX_TRUSTED_DEVICES) if slot not in taken]
        if free:
            # Any free slot: trusts racing from one read then rarely pick the same one and read again.
            return secrets.choice(free), None
        oldest = min(state.devices, key=lambda d: (self._device_counts(d, state, policy, ctx), d.trusted_ms))
        return oldest.slot, oldest.device_id

    # --- app passwords ----------------------------------------------------------------------

    def create_app_password(self, caller: Caller, label: str | None, ctx: Context) -> dict:
        if not self.policy(caller.tenant).app_passwords:
            raise Forbidden("Your administrator has turned third-party client security passwords off.")
        password = codes.new_app_password()
        record = AppPassword(
            password_id=secrets.token_urlsafe(9),
            label=label or "Mail client",
            created_at=int(ctx.now),
            last_used_at=None,
        )
        self._store.create_app_password(
            caller.tenant,
            caller.user,
            password_hash=self._app_password_hash(caller.tenant, caller.user, password),
            password=record,
            limit=MAX_APP_PASSWORDS,
            event=self._event("app_password_created", ctx, id=record.password_id, label=record.label),
        )
        self._notify("app_password_created", caller, ctx)
        return {
            "id": record.password_id,
            "label": record.label,
            "password": password,
            "created_at": iso(record.created_at),
        }

    def app_passwords(self, caller: Caller) -> list[dict]:
        return [
            {
                "id": p.password_id,
                "label": p.label,
                "created_at": iso(p.created_at),
                "last_used_at": iso(p.last_used_at) if p.last_used_at else None,
            }
            for _, p in self._store.list_app_passwords(caller.tenant, caller.user)
        ]

    def revoke_app_password(self, caller: Caller, password_id: str, ctx: Context) -> dict:
        found = [
            h
            for h, p in self._store.list_app_passwords(caller.tenant, caller.user)
            if codes.same(p.password_id, password_id)
        ]
        if not found:
            raise NotFound("No such third-party client security password.")
        self._store.delete_app_password(
            caller.tenant, caller.user, found[0], event=self._event("app_password_revoked", ctx, id=password_id)
        )
        return {"deleted": True}

    def check_app_password(self, gateway: Caller, user: str, password: str, ctx: Context) -> dict:
        """The IMAP/SMTP gateway's question. An unknown user, a revoked password and a wrong one take
        the same path (one hash, one conditional write), so neither answer nor timing tells them apart."""
        if not self.policy(gateway.tenant).app_passwords:
            return {"valid": False}
        password_hash = self._app_password_hash(gateway.tenant, user, password)
        valid = self._store.use_app_password(
            gateway.tenant,
            user,
            password_hash,
            now=ctx.now,
            limit=APP_PASSWORD_FAILURES_PER_MINUTE,
            event=self._event("app_password_used", ctx, gateway=gateway.user),
        )
        return {"valid": valid}

    def _app_password_hash(self, tenant: str, user: str, password: str) -> str:
        return self._vault.keyed_hash(tenant, f"app-password:{user}", codes.normalize_app_password(password))

    # --- factors and admin ------------------------------------------------------------------

    def factors(self, caller: Caller, ctx: Context) -> dict:
        return self._summary(caller.tenant, caller.user, ctx)[0]

    def admin_user(self, admin: Caller, user: str, ctx: Context) -> dict:
        summary, state, policy = self._summary(admin.tenant, user, ctx)
        locked_until = state.lockout.locked_until(policy.lockout)
        return summary | {
            "user": user,
            "locked_until": iso(locked_until) if locked_until and locked_until > ctx.now else None,
        }

    def admin_reset(self, admin: Caller, user: str, ctx: Context) -> dict:
        state = self._store.load_user(admin.tenant, user)
        self._store.reset(admin.tenant, user, devices=state.devices, event=self._event("reset", ctx, admin=admin.user))
        self._notify("reset", Caller(admin.tenant, user, frozenset()), ctx)
        return {"reset": True}

    def admin_unlock(self, admin: Caller, user: str, ctx: Context) -> dict:
        self._store.unlock(admin.tenant, user, event=self._event("unlocked", ctx, admin=admin.user))
        return {"unlocked": True}

    def events(self, admin: Caller, user: str, *, limit: int, cursor: str | None) -> tuple[list[dict], str | None]:
        events, next_cursor = self._store.list_events(admin.tenant, user, limit=limit, cursor=cursor)
        return [
            {"at": iso(e.at), "user": user, "event": e.event, "ip": e.ip, "detail": e.detail} for e in events
        ], next_cursor

    def _summary(self, tenant: str, user: str, ctx: Context) -> tuple[dict, UserState, Policy]:
        policy = self.policy(tenant)
        state = self._store.load_user(tenant, user)
        authenticator = state.authenticator
        summary = {
            "authenticator": None
            if authenticator is None
            else {
                "attached": True,
                "name": authenticator.label,
                "attached_at": iso(authenticator.attached_at),
                "algorithm": authenticator.algorithm,
                "digits": authenticator.digits,
                "period": authenticator.period,
            },
            "phone": None
            if state.phone is None
            else {"number": phone.mask(state.phone.number), "attached_at": iso(state.phone.attached_at)},
            "recovery_codes_left": len(state.recovery),
            "trusted_devices": sum(1 for d in state.devices if self._device_counts(d, state, policy, ctx)),
            "app_passwords": state.app_password_count,
            "allowed": {
                "methods": list(policy.methods),
                "trusted_device_days": policy.trusted_device_days,
                "app_passwords": policy.app_passwords,
            },
        }
        return summary, state, policy

    # --- code checks --------------------------------------------------------------------------

    @staticmethod
    def _factors_of(state: UserState) -> list[str]:
        """What the user can verify with at logon, authenticator first. A secure phone always counts."""
        return [m for m, has in (("authenticator", state.authenticator), ("phone", state.phone)) if has is not None]

    @staticmethod
    def _grace_until(policy: Policy) -> int | None:
        if policy.two_factor_since is None or policy.enroll_grace_days == 0:
            return None
        return policy.two_factor_since + policy.enroll_grace_days * DAY

    @staticmethod
    def _attached(state: UserState) -> Authenticator:
        if state.authenticator is None:
            raise NotFound("No authenticator is attached.")
        return state.authenticator

    @staticmethod
    def _refuse_if_locked(state: UserState, policy: Policy, ctx: Context) -> None:
        retry_after = state.lockout.retry_after(policy.lockout, ctx.now)
        if retry_after is not None:
            raise Locked(retry_after)

    def _match_totp(
        self,
        caller: Caller,
        state: UserState,
        policy: Policy,
        ctx: Context,
        value: str,
        source: Authenticator | Enrollment,
        *,
        after_step: int,
    ) -> int | None:
        """The step `value` matches for `source`'s secret, or None."""
        code = totp.parse_code(value, source.digits)
        if code is None:
            return None
        secret = self._vault.open(caller.tenant, caller.user, SECRET_PURPOSE, source.secret).decode()
        return totp.match(
            secret,
            code,
            now=ctx.now,
            algorithm=source.algorithm,
            digits=source.digits,
            period=source.period,
            window=policy.totp.window,
            after_step=after_step,
        )

    def _totp_proof(
        self, caller: Caller, state: UserState, policy: Policy, ctx: Context, value: str, authenticator: Authenticator
    ) -> Proof:
        step = self._match_totp(caller, state, policy, ctx, value, authenticator, after_step=authenticator.last_step)
        if step is None:
            self._fail(caller, state, policy, ctx)
        return Proof(auth_id=authenticator.auth_id, step=step)

    def _recovery_proof(self, caller: Caller, state: UserState, policy: Policy, ctx: Context, value: str) -> Proof:
        code = codes.normalize_recovery_code(value)
        recovery_hash = self._recovery_hash(caller, code) if code is not None else None
        if recovery_hash is None or recovery_hash not in state.recovery:
            self._fail(caller, state, policy, ctx)
        return Proof(auth_id=state.authenticator.auth_id, recovery_hash=recovery_hash)

    def _commit(
        self,
        caller: Caller,
        state: UserState,
        policy: Policy,
        ctx: Context,
        proof: Proof,
        effects: Effects,
        event: str,
        extra_events: list[Event] = (),
        **detail,
    ) -> None:
        try:
            self._store.commit(
                caller.tenant,
                caller.user,
                proof=proof,
                effects=effects,
                seen=state.lockout,
                rules=policy.lockout,
                events=[self._event(event, ctx, **detail), *extra_events],
                device_gen=state.device_gen,
                now=ctx.now,
            )
        except LockedMeanwhile as e:
            raise Locked(e.lockout.retry_after(policy.lockout, ctx.now) or 1) from e
        if event in NOTIFIED:
            self._notify(event, caller, ctx)

    def _until_settled(self, caller: Caller, attempt: Callable[[UserState], T]) -> T:
        """`attempt` on a fresh read of the user, again on a new read whenever its write finds the state
        changed since (Stale): a proof that another request used meanwhile then fails as a replay and is
        counted; one that still holds (it lost only to an unrelated change) is accepted."""
        for _ in pauses():
            state = self._store.load_user(caller.tenant, caller.user)
            try:
                return attempt(state)
            except Stale:
                continue
        raise Unavailable()

    def _fail(self, caller: Caller, state: UserState, policy: Policy, ctx: Context) -> NoReturn:
        rules = policy.lockout

        def events(after: Lockout) -> list[Event]:
            left = after.attempts_left(rules)
            return [self._event("failed", ctx, attempts_left=left)] + (
                [self._event("locked", ctx)] if left == 0 else []
            )

        after = self._store.record_failure(
            caller.tenant, caller.user, seen=state.lockout, rules=rules, now=ctx.now, events=events
        )
        left = after.attempts_left(rules)
        if left == 0:
            self._notify("locked", caller, ctx)
        raise InvalidCode(left)

    @staticmethod
    def _event(event: str, ctx: Context, **detail) -> Event:
        return Event(at=ctx.now, event=event, ip=ctx.ip, detail=detail)

    def _notify(self, event: str, caller: Caller, ctx: Context) -> None:
        self._messenger.notify(event=event, tenant=caller.tenant, user=caller.user, at=ctx.now, ip=ctx.ip)
