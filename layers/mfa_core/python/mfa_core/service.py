"""The use cases: policy, attach (enroll + confirm), the logon decision, verify, delete, factors.

Each takes the caller and `now` and talks to the world only through its ports (store, vault)."""

from __future__ import annotations

import hmac
import secrets
import time
from typing import NoReturn

from . import totp
from .auth import Caller, mfa_token
from .config import Settings
from .crypto import Vault
from .errors import AlreadyAttached, EnrollmentExpired, Forbidden, InvalidCode, Locked, NotFound
from .lockout import DAY
from .policy import Policy, validate
from .storage import Authenticator, CodeAlreadyUsed, Enrollment, LockedMeanwhile, Store, UserState
from .times import iso

ENROLLMENT_SECONDS = 600
POLICY_CACHE_SECONDS = 60
RECOVERY_CODES = 10
RECOVERY_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford's base32: no i, l, o, u to misread
SECRET_PURPOSE = "totp"
DEFAULT_LABEL = "Authenticator app"


def new_recovery_code() -> str:
    chars = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(8))
    return f"{chars[:4]}-{chars[4:]}"


def normalize_recovery_code(value: str) -> str | None:
    """Recovery codes compare ignoring case, spaces and hyphens; None when it can't be one."""
    code = value.replace(" ", "").replace("-", "").lower()
    if len(code) != 8 or any(ch not in RECOVERY_ALPHABET for ch in code):
        return None
    return code


class MfaService:
    def __init__(self, store: Store, vault: Vault, settings: Settings) -> None:
        self._store = store
        self._vault = vault
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
                stored.doc | {"version": stored.version, "two_factor_since": stored.two_factor_since}
            )
        self._policies[tenant] = (time.monotonic() + POLICY_CACHE_SECONDS, policy)
        return policy

    def save_policy(self, caller: Caller, body: dict, now: float) -> Policy:
        current = self.policy(caller.tenant, fresh=True)
        wanted, expected_version = validate(body, current)
        doc = wanted.to_dict()
        del doc["version"], doc["two_factor_since"]
        stored = self._store.save_policy(
            caller.tenant, doc, expected_version=expected_version, two_factor_on=wanted.two_factor_on, now=now
        )
        policy = Policy.from_dict(doc | {"version": stored.version, "two_factor_since": stored.two_factor_since})
        self._policies[caller.tenant] = (time.monotonic() + POLICY_CACHE_SECONDS, policy)
        return policy

    # --- attach an authenticator --------------------------------------------------------------

    def enroll(self, caller: Caller, label: str | None, now: float) -> dict:
        policy = self.policy(caller.tenant)
        self._may_attach(caller, policy)
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
        expires_at = int(now) + ENROLLMENT_SECONDS
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
        self._store.save_enrollment(caller.tenant, caller.user, enrollment, purge_at=expires_at + DAY)
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

    def confirm(self, caller: Caller, enrollment_id: str, code: str, now: float) -> dict:
        policy = self.policy(caller.tenant)
        state = self._store.load_user(caller.tenant, caller.user)
        self._may_attach(caller, policy, state)
        enrollment = state.enrollment
        if enrollment is None or not hmac.compare_digest(enrollment.enrollment_id, enrollment_id):
            raise NotFound("No such enrollment. Get a new QR code and scan it again.")
        if state.authenticator is not None:
            raise AlreadyAttached()
        if enrollment.expires_at <= now:
            raise EnrollmentExpired()
        self._refuse_if_locked(state, policy, now)
        step = self._match(
            caller,
            state,
            policy,
            now,
            code,
            enrollment.secret,
            enrollment.algorithm,
            enrollment.digits,
            enrollment.period,
            after_step=-1,
        )
        recovery_codes = [new_recovery_code() for _ in range(RECOVERY_CODES)]
        authenticator = Authenticator(
            auth_id=secrets.token_urlsafe(12),
            secret=enrollment.secret,  # sealed for this tenant, user and purpose already
            algorithm=enrollment.algorithm,
            digits=enrollment.digits,
            period=enrollment.period,
            label=enrollment.label,
            attached_at=int(now),
            last_step=step,  # the code used to attach can't be used again, not at logon either
        )
        hashes = [self._recovery_hash(caller, normalize_recovery_code(c)) for c in recovery_codes]
        try:
            self._store.attach(
                caller.tenant,
                caller.user,
                enrollment_id=enrollment.enrollment_id,
                authenticator=authenticator,
                recovery=hashes,
                seen=state.lockout,
                rules=policy.lockout,
            )
        except CodeAlreadyUsed:
            self._fail(caller, state, policy, now)
        except LockedMeanwhile as e:
            raise Locked(e.lockout.retry_after(policy.lockout, now) or 1) from e
        result: dict = {"attached": True, "recovery_codes": recovery_codes}
        if caller.has("mfa:logon"):
            result["mfa_token"] = mfa_token(self._settings, caller, "otp", now)
        return result

    def _may_attach(self, caller: Caller, policy: Policy, state: UserState | None = None) -> None:
        if "authenticator" not in policy.methods:
            raise Forbidden("Your administrator has not enabled authenticator apps.")
        if caller.has("mfa:settings"):
            return
        # With only a logon token, attaching is the logon's enroll step (Method 1): allowed only then.
        if state is None:
            state = self._store.load_user(caller.tenant, caller.user)
        if not policy.two_factor_on or self._factors_of(state):
            raise Forbidden("Attach an authenticator from Settings > Account and Security.")

    # --- logon ------------------------------------------------------------------------------

    def logon(self, caller: Caller, device_token: str | None, now: float) -> dict:
        policy = self.policy(caller.tenant)
        trusted = policy.trusted_device_days > 0
        if not policy.two_factor_on:
            return {
                "next": "done",
                "methods": [],
                "trusted_device_allowed": trusted,
                "mfa_token": mfa_token(self._settings, caller, "none", now),
            }
        state = self._store.load_user(caller.tenant, caller.user)
        methods = self._factors_of(state)
        if methods:
            return {"next": "verify", "methods": methods, "trusted_device_allowed": trusted}
        decision: dict = {"next": "enroll", "methods": list(policy.methods), "trusted_device_allowed": trusted}
        grace_until = self._grace_until(policy)
        if grace_until is not None and grace_until > now:
            decision |= {"skippable": True, "grace_until": iso(grace_until)}
        return decision

    def skip(self, caller: Caller, now: float) -> dict:
        decision = self.logon(caller, None, now)
        if decision["next"] != "enroll" or not decision.get("skippable"):
            raise Forbidden("Attaching a verification method can't be skipped now.")
        return {"mfa_token": mfa_token(self._settings, caller, "none", now)}

    def verify(self, caller: Caller, method: str, code: str, now: float) -> dict:
        policy = self.policy(caller.tenant)
        state = self._store.load_user(caller.tenant, caller.user)
        if method == "phone":
            raise NotFound("No secure phone is attached.")
        authenticator = self._attached(state)
        self._refuse_if_locked(state, policy, now)
        if method == "recovery_code":
            self._use_recovery_code(caller, state, policy, now, code)
            amr = "recovery"
        else:
            self._use_totp(caller, state, policy, now, code, authenticator)
            amr = "otp"
        return {"verified": True, "mfa_token": mfa_token(self._settings, caller, amr, now)}

    # --- delete -----------------------------------------------------------------------------

    def delete_authenticator(self, caller: Caller, now: float, *, code: str | None, recovery_code: str | None) -> dict:
        policy = self.policy(caller.tenant)
        state = self._store.load_user(caller.tenant, caller.user)
        authenticator = self._attached(state)
        self._refuse_if_locked(state, policy, now)
        if recovery_code is not None:
            self._use_recovery_code(caller, state, policy, now, recovery_code, detach=True)
        else:
            self._use_totp(caller, state, policy, now, code, authenticator, detach=True)
        return {"deleted": True}

    # --- factors ----------------------------------------------------------------------------

    def factors(self, caller: Caller) -> dict:
        policy = self.policy(caller.tenant)
        state = self._store.load_user(caller.tenant, caller.user)
        authenticator = state.authenticator
        return {
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
            "phone": None,
            "recovery_codes_left": len(state.recovery),
            "trusted_devices": 0,
            "app_passwords": 0,
            "allowed": {
                "methods": list(policy.methods),
                "trusted_device_days": policy.trusted_device_days,
                "app_passwords": policy.app_passwords,
            },
        }

    # --- code checks ------------------------------------------------------------------------

    @staticmethod
    def _factors_of(state: UserState) -> list[str]:
        return ["authenticator"] if state.authenticator is not None else []

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
    def _refuse_if_locked(state: UserState, policy: Policy, now: float) -> None:
        retry_after = state.lockout.retry_after(policy.lockout, now)
        if retry_after is not None:
            raise Locked(retry_after)

    def _use_totp(
        self,
        caller: Caller,
        state: UserState,
        policy: Policy,
        now: float,
        code: str,
        authenticator: Authenticator,
        detach: bool = False,
    ) -> None:
        step = self._match(
            caller,
            state,
            policy,
            now,
            code,
            authenticator.secret,
            authenticator.algorithm,
            authenticator.digits,
            authenticator.period,
            after_step=authenticator.last_step,
        )
        self._consume(caller, state, policy, now, auth_id=authenticator.auth_id, step=step, detach=detach)

    def _use_recovery_code(
        self, caller: Caller, state: UserState, policy: Policy, now: float, value: str, detach: bool = False
    ) -> None:
        code = normalize_recovery_code(value)
        if code is None:
            self._fail(caller, state, policy, now)
        recovery_hash = self._recovery_hash(caller, code)
        if recovery_hash not in state.recovery:
            self._fail(caller, state, policy, now)
        self._consume(
            caller, state, policy, now, auth_id=state.authenticator.auth_id, recovery_hash=recovery_hash, detach=detach
        )

    def _consume(self, caller: Caller, state: UserState, policy: Policy, now: float, **proof) -> None:
        try:
            self._store.consume_proof(caller.tenant, caller.user, seen=state.lockout, rules=policy.lockout, **proof)
        except CodeAlreadyUsed:
            # Another request accepted this proof first (a replay racing the original): one wins.
            self._fail(caller, state, policy, now)
        except LockedMeanwhile as e:
            raise Locked(e.lockout.retry_after(policy.lockout, now) or 1) from e

    def _match(
        self,
        caller: Caller,
        state: UserState,
        policy: Policy,
        now: float,
        value: str,
        sealed: bytes,
        algorithm: str,
        digits: int,
        period: int,
        *,
        after_step: int,
    ) -> int:
        code = totp.parse_code(value, digits)
        if code is not None:
            secret = self._vault.open(caller.tenant, caller.user, SECRET_PURPOSE, sealed).decode()
            step = totp.match(
                secret,
                code,
                now=now,
                algorithm=algorithm,
                digits=digits,
                period=period,
                window=policy.totp.window,
                after_step=after_step,
            )
            if step is not None:
                return step
        self._fail(caller, state, policy, now)

    def _fail(self, caller: Caller, state: UserState, policy: Policy, now: float) -> NoReturn:
        after = self._store.record_failure(
            caller.tenant, caller.user, seen=state.lockout, rules=policy.lockout, now=now
        )
        raise InvalidCode(after.attempts_left(policy.lockout))

    def _recovery_hash(self, caller: Caller, code: str) -> str:
        return self._vault.keyed_hash(caller.tenant, f"recovery:{caller.user}", code)
