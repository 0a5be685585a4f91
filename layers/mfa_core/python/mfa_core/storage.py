"""DynamoDB adapter: one table, low-level client, every state change one conditional write.

Layout (PK / SK):
  T#<tenant>            POLICY                  the tenant's policy (JSON) and its version
  T#<tenant>            DATAKEY                 the tenant's KMS data key, encrypted by KMS
  T#<tenant>#U#<user>   STATE#MFA               authenticator, recovery-code hashes, secure phone,
                                                trusted-device generation, app-password count
  T#<tenant>#U#<user>   STATE#LOCKOUT           failed-code counter (TTL: a day after the last failure)
  T#<tenant>#U#<user>   STATE#ENROLLMENT        the pending enrollment (TTL)
  T#<tenant>#U#<user>   STATE#SMS               the pending SMS code and the SMS send limits (TTL)
  T#<tenant>#U#<user>   STATE#DEVICE#<slot>     a trusted device in one of 10 slots: its token's hash (TTL)
  T#<tenant>#U#<user>   APPPW#<keyed hash>      a third-party client security password
  T#<tenant>#U#<user>   THROTTLE#APPPW          app-password check failures in the current minute (TTL)
  T#<tenant>#U#<user>   EVENT#<ms>#<rand>       the audit trail (TTL: a year)

Everything a code check or a logon decision needs is under the user's STATE# prefix: one consistent
Query. TTL deletes late (up to days; moto never does), so every expiry is also checked in code.

Every guarantee is the condition of the write that acts on it, on the state as stored at write time,
never a version read earlier (see API.md, "Guarantees under concurrency"):
- A failed code is one UpdateItem: `ADD fails 1` on condition "not locked". Concurrent UpdateItems on
  one item are applied one after another by DynamoDB and never cancel each other, so N failures at
  once count N. It is deliberately not a transaction: concurrent transactions on one item are
  cancelled (TransactionConflict), which under a flood of wrong codes would leave failures uncounted.
  Its audit events follow in a second write; if that one fails the failure still stands (an outage
  must not buy a free guess), see record_failure.
- Accepting a proof is a transaction: the proof's single use (a later TOTP step, a recovery-code or
  SMS hash still there), what it changes, the end of the failure streak (a Delete on condition "not
  locked as stored") and the audit events must commit together or not at all.
- Caps are conditions on what they cap: 40 app passwords by a counter in the MFA item, 10 trusted
  devices by 10 slots (a new device takes a free slot or replaces exactly the device it read there).
- Revocations bump what logons check: deleting the authenticator, a reset and "sign out everywhere"
  raise `device_gen`, which a device logon's write requires unchanged; a TOTP or recovery proof is bound
  to the authenticator's id and an SMS logon to the phone it was sent to.
A transaction that loses to a concurrent one (TransactionConflict) is sent again (dynamo.contended);
one whose condition failed says which operation failed (dynamo.Cancelled), and the use case reads the
user again and decides anew (Stale)."""

from __future__ import annotations

import base64
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from . import dynamo
from .dynamo import ConditionFailed, Delete, Put, Transaction, Update, key, n, s
from .errors import (
    AlreadyAttached,
    Conflict,
    InvalidRequest,
    LimitReached,
    Locked,
    NotFound,
    RateLimited,
    Unavailable,
    aws_unavailable,
)
from .lockout import DAY, Lockout
from .policy import LockoutSettings

STATE = "STATE#"
SK_MFA = "STATE#MFA"
SK_LOCKOUT = "STATE#LOCKOUT"
SK_ENROLLMENT = "STATE#ENROLLMENT"
SK_SMS = "STATE#SMS"
DEVICE = "STATE#DEVICE#"
APP_PASSWORD = "APPPW#"
SK_APP_PASSWORD_THROTTLE = "THROTTLE#APPPW"
EVENT = "EVENT#"
SK_POLICY = "POLICY"
SK_DATA_KEY = "DATAKEY"
TTL_ATTRIBUTE = "purge_at"
AUTHENTICATOR_FIELDS = ("auth_id", "secret", "algorithm", "digits", "period", "label", "attached_at", "last_step")
EVENT_DAYS = 365
# A single-item write whose condition failed is decided again on the item it hands back. Each such
# round follows a real change of the item (a served lock restarted, a success ended the streak, a
# new day of SMS sends), so a handful is plenty; beyond that something is wrong: 503.
DECIDE_AGAIN_ROUNDS = 8

log = logging.getLogger(__name__)


class Stale(Exception):
    """The write's conditions did not hold on the state as stored: something changed since the read
    (the proof was used, the authenticator deleted, the user reset...). Read again and decide anew."""


class LockedMeanwhile(Exception):
    """A concurrent failure locked the user between our read and our write."""

    def __init__(self, lockout: Lockout) -> None:
        super().__init__()
        self.lockout = lockout


@dataclass(frozen=True)
class Authenticator:
    auth_id: str
    secret: bytes  # sealed
    algorithm: str
    digits: int
    period: int
    label: str
    attached_at: int
    last_step: int


@dataclass(frozen=True)
class Enrollment:
    enrollment_id: str
    secret: bytes  # sealed
    algorithm: str
    digits: int
    period: int
    label: str
    expires_at: int


@dataclass(frozen=True)
class Phone:
    number: str
    attached_at: int


@dataclass(frozen=True)
class Device:
    device_id: str  # "<slot>-<random>": the slot it is stored in, so a delete by id needs no read
    token_hash: str
    label: str
    created_at: int
    expires_at: int
    last_used_at: int | None
    generation: int  # the user's device generation when it was trusted
    trusted_ms: int  # when it was trusted, in ms: devices trusted in one second still have an order

    @property
    def slot(self) -> int:
        return int(self.device_id.partition("-")[0])


@dataclass(frozen=True)
class SmsChallenge:
    """The last SMS code sent (None once used) and the send counters the limits read."""

    purpose: str | None
    number: str | None
    code_hash: str | None
    expires_at: int
    last_sent_at: int
    day: int  # the UTC day number of day_count
    day_count: int
    purge_at: int


@dataclass(frozen=True)
class AppPassword:
    password_id: str
    label: str
    created_at: int
    last_used_at: int | None


@dataclass(frozen=True)
class Event:
    at: float
    event: str
    ip: str
    detail: dict = field(default_factory=dict)


@dataclass(frozen=True)
class UserState:
    authenticator: Authenticator | None
    recovery: frozenset[str]  # keyed hashes of the unused recovery codes
    phone: Phone | None
    device_gen: int
    app_password_count: int
    lockout: Lockout  # as stored: may be a round that is over (TTL deletes late); Lockout handles that
    enrollment: Enrollment | None
    sms: SmsChallenge | None
    devices: tuple[Device, ...]


@dataclass(frozen=True)
class StoredPolicy:
    doc: dict
    version: int
    two_factor_since: int | None
    devices_revoked_at: int | None


@dataclass(frozen=True)
class Proof:
    """What a request proved, to be accepted once: a TOTP step later than any accepted one, an unused
    recovery code, or the pending SMS code sent for `sms_purpose`. TOTP and recovery proofs are bound
    to the authenticator that was read (`auth_id`); an SMS proof to the phone it was sent to (`phone`)."""

    auth_id: str | None = None
    step: int | None = None
    recovery_hash: str | None = None
    sms_hash: str | None = None
    sms_purpose: str | None = None
    phone: Phone | None = None


@dataclass(frozen=True)
class Effects:
    """What the same write changes once the proof is accepted."""

    detach: bool = False  # remove the authenticator and its recovery codes, end every trusted device
    recovery: tuple[str, ...] | None = None  # replace the recovery-code hashes
    attach_phone: str | None = None
    remove_phone: bool = False
    device: Device | None = None  # trust a device, bound to the generation read
    replaces: str | None = None  # the device id read in the new device's slot (None: the slot was free)
    only_factor: bool = False  # the logon's enroll step: no other factor may be attached meanwhile


def tenant_pk(tenant: str) -> str:
    return f"T#{tenant}"


def user_pk(tenant: str, user: str) -> str:
    return f"T#{tenant}#U#{user}"


def _int(item: dict, name: str, default: int = 0) -> int:
    return int(item[name]["N"]) if name in item else default


def _opt_int(item: dict, name: str) -> int | None:
    return int(item[name]["N"]) if name in item else None


def _str(item: dict, name: str) -> str | None:
    return item[name]["S"] if name in item else None


class Store:
    def __init__(self, client, table: str) -> None:
        self._db = client
        self._table = table

    # --- tenant partition -------------------------------------------------------------------

    def get_policy(self, tenant: str) -> StoredPolicy | None:
        with aws_unavailable():
            item = self._db.get_item(TableName=self._table, Key=key(tenant_pk(tenant), SK_POLICY)).get("Item")
        if not item:
            return None
        return StoredPolicy(
            json.loads(item["doc"]["S"]),
            _int(item, "version"),
            _opt_int(item, "two_factor_since"),
            _opt_int(item, "devices_revoked_at"),
        )

    def save_policy(
        self,
        tenant: str,
        doc: dict,
        *,
        replaces: int,
        two_factor_since: int | None,
        devices_revoked_at: int | None,
        event: Event,
        admin: str,
    ) -> StoredPolicy:
        """Save a policy over the stored version `replaces` (0: none saved yet), with its audit event in
        the admin's own trail, in one transaction. Conflict when someone saved meanwhile."""
        tx = self._tx()
        policy = tx.update(key(tenant_pk(tenant), SK_POLICY))
        if replaces:
            policy.condition("#version = :version", version=n(replaces))
        else:
            policy.condition("attribute_not_exists(#version)")
        policy.set("doc", s(json.dumps(doc, sort_keys=True)))
        policy.set("version", n(replaces + 1))
        for name, value in (("two_factor_since", two_factor_since), ("devices_revoked_at", devices_revoked_at)):
            policy.set(name, n(value)) if value is not None else policy.remove(name)
        self._event(tx, user_pk(tenant, admin), event)
        if tx.run(self._db) is not None:
            raise Conflict()
        return StoredPolicy(doc, replaces + 1, two_factor_since, devices_revoked_at)

    def get_data_key(self, tenant: str) -> bytes | None:
        with aws_unavailable():
            item = self._db.get_item(
                TableName=self._table, Key=key(tenant_pk(tenant), SK_DATA_KEY), ConsistentRead=True
            ).get("Item")
        return item["blob"]["B"] if item else None

    def put_data_key(self, tenant: str, blob: bytes) -> bytes:
        """Store the tenant's encrypted data key unless one exists; returns the one that is stored."""
        put = Put(self._table, {**key(tenant_pk(tenant), SK_DATA_KEY), "blob": {"B": blob}})
        put.condition("attribute_not_exists(#PK)")
        try:
            dynamo.write(self._db, put)
        except ConditionFailed as e:
            return e.item["blob"]["B"]
        return blob

    # --- the user's state -------------------------------------------------------------------

    def load_user(self, tenant: str, user: str) -> UserState:
        """Everything a code check or a logon decision needs, in one consistent read."""
        by_sk = {item["SK"]["S"]: item for item in self._query_prefix(user_pk(tenant, user), STATE)}
        mfa = by_sk.get(SK_MFA, {})
        phone = _str(mfa, "phone_number")
        return UserState(
            authenticator=_authenticator(mfa),
            recovery=frozenset(mfa.get("recovery", {}).get("SS", ())),
            phone=Phone(phone, _int(mfa, "phone_attached_at")) if phone else None,
            device_gen=_int(mfa, "device_gen"),
            app_password_count=_int(mfa, "app_passwords"),
            lockout=_lockout(by_sk.get(SK_LOCKOUT)),
            enrollment=_enrollment(by_sk.get(SK_ENROLLMENT)),
            sms=_sms(by_sk.get(SK_SMS)),
            devices=tuple(
                sorted((_device(i) for sk, i in by_sk.items() if sk.startswith(DEVICE)), key=lambda d: d.trusted_ms)
            ),
        )

    def save_enrollment(self, tenant: str, user: str, enrollment: Enrollment, *, purge_at: int, event: Event) -> None:
        """Replace any pending enrollment with this one, unless an authenticator is attached."""
        pk = user_pk(tenant, user)
        tx = self._tx()
        tx.update(key(pk, SK_MFA)).condition("attribute_not_exists(#auth_id)")
        tx.put(
            {
                **key(pk, SK_ENROLLMENT),
                "enrollment_id": s(enrollment.enrollment_id),
                "secret": {"B": enrollment.secret},
                "algorithm": s(enrollment.algorithm),
                "digits": n(enrollment.digits),
                "period": n(enrollment.period),
                "label": s(enrollment.label),
                "expires_at": n(enrollment.expires_at),
                TTL_ATTRIBUTE: n(purge_at),
            }
        )
        self._event(tx, pk, event)
        if tx.run(self._db) is not None:
            raise AlreadyAttached()

    def attach(
        self,
        tenant: str,
        user: str,
        *,
        enrollment_id: str,
        authenticator: Authenticator,
        recovery: list[str],
        only_factor: bool,
        seen: Lockout,
        rules: LockoutSettings,
        now: float,
        event: Event,
    ) -> None:
        """Turn the pending enrollment into the attached authenticator, consuming the confirm code's step."""
        pk = user_pk(tenant, user)
        tx = self._tx()
        tx.delete(key(pk, SK_ENROLLMENT)).condition("#enrollment_id = :id", id=s(enrollment_id))
        mfa = tx.update(key(pk, SK_MFA)).condition("attribute_not_exists(#auth_id)")
        if only_factor:
            mfa.condition("attribute_not_exists(#phone_number)")
        fields = {
            "auth_id": s(authenticator.auth_id),
            "secret": {"B": authenticator.secret},
            "algorithm": s(authenticator.algorithm),
            "digits": n(authenticator.digits),
            "period": n(authenticator.period),
            "label": s(authenticator.label),
            "attached_at": n(authenticator.attached_at),
            "last_step": n(authenticator.last_step),
            "recovery": {"SS": recovery},
        }
        for name, value in fields.items():
            mfa.set(name, value)
        lockout = self._end_streak(tx, pk, seen, rules, now)
        self._event(tx, pk, event)
        self._settle(tx.run(self._db), lockout)

    def commit(
        self,
        tenant: str,
        user: str,
        *,
        proof: Proof,
        effects: Effects,
        seen: Lockout,
        rules: LockoutSettings,
        events: list[Event],
        device_gen: int,
        now: float,
    ) -> None:
        """Accept `proof` once and apply `effects`, in one transaction that also ends the failure streak
        (unless the user is locked as stored) and writes the audit events. Raises LockedMeanwhile or Stale."""
        pk = user_pk(tenant, user)
        tx = self._tx()
        mfa = tx.update(key(pk, SK_MFA))
        sms = tx.update(key(pk, SK_SMS))
        if proof.step is not None:
            mfa.condition(
                "#auth_id = :auth_id AND (attribute_not_exists(#last_step) OR #last_step < :step)",
                auth_id=s(proof.auth_id),
                step=n(proof.step),
            )
            mfa.set("last_step", n(proof.step))
        if proof.recovery_hash is not None:
            mfa.condition(
                "#auth_id = :auth_id AND contains(#recovery, :hash)",
                auth_id=s(proof.auth_id),
                hash=s(proof.recovery_hash),
            )
            mfa.delete("recovery", {"SS": [proof.recovery_hash]})
        if proof.sms_hash is not None:
            sms.condition(
                "#code_hash = :hash AND #purpose = :purpose AND #expires_at > :now",
                hash=s(proof.sms_hash),
                purpose=s(proof.sms_purpose),
                now=n(now),
            )
            sms.remove("code_hash", "purpose", "number")
        if proof.phone is not None:
            # The code went to this phone: once it is deleted (or replaced), the code proves nothing.
            mfa.condition(
                "#phone_number = :number AND #phone_attached_at = :attached_at",
                number=s(proof.phone.number),
                attached_at=n(proof.phone.attached_at),
            )
        if effects.detach:
            mfa.remove(*AUTHENTICATOR_FIELDS, "recovery")
            mfa.add("device_gen", n(1))
        if effects.recovery is not None:
            mfa.set("recovery", {"SS": list(effects.recovery)})
        if effects.attach_phone is not None:
            mfa.condition("attribute_not_exists(#phone_number)")
            mfa.set("phone_number", s(effects.attach_phone))
            mfa.set("phone_attached_at", n(now))
            if effects.only_factor:
                mfa.condition("attribute_not_exists(#auth_id)")
        if effects.remove_phone:
            mfa.condition("attribute_exists(#phone_number)")
            mfa.remove("phone_number", "phone_attached_at")
        if effects.device is not None:
            # Bound to the generation read: if the authenticator was deleted or the user reset meanwhile
            # (generation bumped), trusting it fails instead of outliving the reset.
            self._same_generation(mfa, device_gen)
            put = tx.put(_device_item(pk, effects.device))
            if effects.replaces is None:
                put.condition("attribute_not_exists(#token_hash)")
            else:
                put.condition("#device_id = :old", old=s(effects.replaces))
        lockout = self._end_streak(tx, pk, seen, rules, now)
        for event in events:
            self._event(tx, pk, event)
        self._settle(tx.run(self._db), lockout)

    def record_failure(
        self,
        tenant: str,
        user: str,
        *,
        seen: Lockout,
        rules: LockoutSettings,
        now: float,
        events: Callable[[Lockout], list[Event]],
    ) -> Lockout:
        """Count one failed code; returns the record after it, or raises Locked.

        One UpdateItem whose condition is "not locked" on the record as stored: `ADD fails 1` to the
        round in progress, or start a new round when the one read is over (a served lock, a day without
        failures). When the record is not what we read, the condition fails and hands back the record as
        it is, and we decide again on that, without another read.

        The audit events (`failed` with the attempts left, `locked` for the failure that locks) come
        after, since only the count's answer tells them. If that write fails, the failure stands and is
        answered as one (an outage must not give an attacker a guess that is not counted), and the lost
        events are logged."""
        pk = user_pk(tenant, user)
        for _ in range(DECIDE_AGAIN_ROUNDS):
            retry_after = seen.retry_after(rules, now)
            if retry_after is not None:
                raise Locked(retry_after)
            record = Update(self._table, key(pk, SK_LOCKOUT))
            restart = seen.restart(rules, now)
            if restart is None:
                record.condition(
                    "attribute_not_exists(#fails) OR (#fails < :max AND #last_fail_at > :day_ago)",
                    max=n(rules.max_failures),
                    day_ago=n(int(now) - DAY),
                )
                record.add("fails", n(1))
                record.add("lock_level", n(0))  # creates it at 0, leaves a level of the streak as it is
            else:
                over, values = _round_over(seen, rules, now)
                record.condition(over, **values)
                record.set("fails", n(1))
                record.set("lock_level", n(restart.level))
            record.set("last_fail_at", n(now))
            record.set(TTL_ATTRIBUTE, n(now + DAY))
            try:
                written = dynamo.write(self._db, record, ReturnValues="ALL_NEW")
            except ConditionFailed as e:
                seen = _lockout(e.item)
                continue
            after = _lockout(written["Attributes"])
            self._write_events(pk, events(after))
            return after
        raise Unavailable()

    def _write_events(self, pk: str, events: list[Event]) -> None:
        try:
            if len(events) == 1:
                dynamo.write(self._db, Put(self._table, _event_item(pk, events[0])))
            else:
                tx = self._tx()
                for event in events:
                    self._event(tx, pk, event)
                tx.run(self._db)
        except Unavailable:
            log.error(json.dumps({"audit_lost": [e.event for e in events], "reason": "write failed"}))

    # --- SMS codes --------------------------------------------------------------------------

    def reserve_sms(
        self,
        tenant: str,
        user: str,
        *,
        seen: SmsChallenge | None,
        purpose: str,
        number: str,
        code_hash: str,
        expires_at: int,
        now: float,
        min_gap: int,
        per_day: int,
    ) -> SmsChallenge | None:
        """Store a new SMS code and count the send, on condition that the limits hold as stored (one
        per `min_gap` s, `per_day` a day): two sends racing get one slot. Returns what it replaced (for
        release_sms). Raises RateLimited."""
        today = int(now) // DAY
        for _ in range(DECIDE_AGAIN_ROUNDS):
            if seen is not None:
                wait = seen.last_sent_at + min_gap - now
                if wait > 0:
                    raise RateLimited(wait)
                if seen.day == today and seen.day_count >= per_day:
                    raise RateLimited((today + 1) * DAY - now)
            update = Update(self._table, key(user_pk(tenant, user), SK_SMS))
            for name, value in (
                ("purpose", s(purpose)),
                ("number", s(number)),
                ("code_hash", s(code_hash)),
                ("expires_at", n(expires_at)),
                ("last_sent_at", n(now)),
                (TTL_ATTRIBUTE, n(now + 2 * DAY)),
            ):
                update.set(name, value)
            gap = "#last_sent_at <= :gap_start"
            if seen is not None and seen.day == today:
                update.condition(
                    f"#day = :today AND #day_count < :per_day AND {gap}",
                    gap_start=n(now - min_gap),
                    today=n(today),
                    per_day=n(per_day),
                )
                update.add("day_count", n(1))
            else:
                update.condition(
                    f"attribute_not_exists(#last_sent_at) OR (#day <> :today AND {gap})",
                    gap_start=n(now - min_gap),
                    today=n(today),
                )
                update.set("day", n(today))
                update.set("day_count", n(1))
            try:
                written = dynamo.write(self._db, update, ReturnValues="ALL_OLD")
            except ConditionFailed as e:
                seen = _sms(e.item)
                continue
            return _sms(written.get("Attributes"))
        raise Unavailable()

    def release_sms(self, tenant: str, user: str, *, replaced: SmsChallenge | None, code_hash: str) -> None:
        """Undo a reservation whose SMS could not be sent, so the user may try again at once: put back
        exactly what it replaced, unless another send came since (the code is no longer ours)."""
        item_key = key(user_pk(tenant, user), SK_SMS)
        if replaced is None:
            undo: Update | Delete = Delete(self._table, item_key)
        else:
            undo = Update(self._table, item_key)
            for name, value in (
                ("purpose", replaced.purpose),
                ("number", replaced.number),
                ("code_hash", replaced.code_hash),
            ):
                undo.set(name, s(value)) if value is not None else undo.remove(name)
            for name, number in (
                ("expires_at", replaced.expires_at),
                ("last_sent_at", replaced.last_sent_at),
                ("day", replaced.day),
                ("day_count", replaced.day_count),
                (TTL_ATTRIBUTE, replaced.purge_at),
            ):
                undo.set(name, n(number))
        undo.condition("#code_hash = :hash", hash=s(code_hash))
        try:
            dynamo.write(self._db, undo)
        except ConditionFailed:
            pass

    # --- trusted devices --------------------------------------------------------------------

    def touch_device(
        self, tenant: str, user: str, device: Device, *, device_gen: int, now: float, event: Event
    ) -> bool:
        """Record a logon through a trusted device; False if the device was revoked meanwhile (deleted,
        or the generation bumped by a delete of the authenticator, a reset or "sign out everywhere")."""
        pk = user_pk(tenant, user)
        tx = self._tx()
        touched = tx.update(key(pk, DEVICE + str(device.slot)))
        touched.condition("#device_id = :id", id=s(device.device_id))
        touched.set("last_used_at", n(now))
        self._same_generation(tx.update(key(pk, SK_MFA)), device_gen)
        self._event(tx, pk, event)
        return tx.run(self._db) is None

    def delete_devices(self, tenant: str, user: str, devices: tuple[Device, ...], *, event: Event) -> None:
        """Sign out everywhere: delete these devices and bump the generation, so no token issued so far
        counts (one trusted meanwhile included)."""
        pk = user_pk(tenant, user)
        tx = self._tx()
        for device in devices:
            tx.delete(key(pk, DEVICE + str(device.slot)))
        tx.update(key(pk, SK_MFA)).add("device_gen", n(1))
        self._event(tx, pk, event)
        tx.run(self._db)

    def delete_device(self, tenant: str, user: str, device_id: str, *, event: Event) -> None:
        slot, _, rest = device_id.partition("-")
        if not (slot.isascii() and slot.isdigit() and rest):
            raise NotFound("No such trusted device.")
        pk = user_pk(tenant, user)
        tx = self._tx()
        tx.delete(key(pk, DEVICE + slot)).condition("#device_id = :id", id=s(device_id))
        self._event(tx, pk, event)
        if tx.run(self._db) is not None:
            raise NotFound("No such trusted device.")

    @staticmethod
    def _same_generation(mfa: Update, device_gen: int) -> None:
        mfa.condition("attribute_not_exists(#device_gen) OR #device_gen = :gen", gen=n(device_gen))

    # --- app passwords ----------------------------------------------------------------------

    def create_app_password(
        self, tenant: str, user: str, *, password_hash: str, password: AppPassword, limit: int, event: Event
    ) -> None:
        pk = user_pk(tenant, user)
        tx = self._tx()
        mfa = tx.update(key(pk, SK_MFA))
        mfa.condition("attribute_not_exists(#app_passwords) OR #app_passwords < :limit", limit=n(limit))
        mfa.add("app_passwords", n(1))
        tx.put(
            {
                **key(pk, APP_PASSWORD + password_hash),
                "password_id": s(password.password_id),
                "label": s(password.label),
                "created_at": n(password.created_at),
            }
        ).condition("attribute_not_exists(#PK)")
        self._event(tx, pk, event)
        if tx.run(self._db) is not None:
            raise LimitReached("You can have at most 40 third-party client security passwords.")

    def list_app_passwords(self, tenant: str, user: str) -> list[tuple[str, AppPassword]]:
        """(hash, password) for each of the user's app passwords, oldest first."""
        items = self._query_prefix(user_pk(tenant, user), APP_PASSWORD)
        found = [(i["SK"]["S"][len(APP_PASSWORD) :], _app_password(i)) for i in items]
        return sorted(found, key=lambda pair: pair[1].created_at)

    def delete_app_password(self, tenant: str, user: str, password_hash: str, *, event: Event) -> None:
        pk = user_pk(tenant, user)
        tx = self._tx()
        tx.delete(key(pk, APP_PASSWORD + password_hash)).condition("attribute_exists(#PK)")
        tx.update(key(pk, SK_MFA)).add("app_passwords", n(-1))
        self._event(tx, pk, event)
        if tx.run(self._db) is not None:
            raise NotFound("No such third-party client security password.")

    def use_app_password(
        self, tenant: str, user: str, password_hash: str, *, now: float, limit: int, event: Event
    ) -> bool:
        """True when the password exists (its last use recorded), False when it does not and the failure
        is counted. Raises RateLimited when `limit` failures were counted this minute: the condition of
        both writes, so parallel checks can't get more than `limit` wrong answers a minute."""
        pk = user_pk(tenant, user)
        minute = int(now) // 60
        tx = self._tx()
        throttle = tx.update(key(pk, SK_APP_PASSWORD_THROTTLE))
        throttle.condition(
            "attribute_not_exists(#minute) OR #minute <> :minute OR #fails < :limit", minute=n(minute), limit=n(limit)
        )
        password = tx.update(key(pk, APP_PASSWORD + password_hash))
        password.condition("attribute_exists(#password_id)")
        password.set("last_used_at", n(now))
        self._event(tx, pk, event)
        cancelled = tx.run(self._db)
        if cancelled is None:
            return True
        if cancelled.failed(throttle):
            raise RateLimited(60 - int(now) % 60)
        self._count_app_password_failure(pk, minute, now, limit)
        return False

    def _count_app_password_failure(self, pk: str, minute: int, now: float, limit: int) -> None:
        """One more failure in this minute's window (a new window starts at one), within the limit."""
        same_minute = Update(self._table, key(pk, SK_APP_PASSWORD_THROTTLE))
        same_minute.condition("#minute = :minute AND #fails < :limit", minute=n(minute), limit=n(limit))
        same_minute.add("fails", n(1))
        new_minute = Update(self._table, key(pk, SK_APP_PASSWORD_THROTTLE))
        new_minute.condition("attribute_not_exists(#minute) OR #minute <> :minute", minute=n(minute))
        new_minute.set("fails", n(1))
        new_minute.set("minute", n(minute))
        new_minute.set(TTL_ATTRIBUTE, n(now + 120))
        for update in (same_minute, new_minute, same_minute):  # a new window may open between the two
            try:
                dynamo.write(self._db, update)
                return
            except ConditionFailed as e:
                if e.item and _int(e.item, "minute") == minute and _int(e.item, "fails") >= limit:
                    raise RateLimited(60 - int(now) % 60) from e
        raise Unavailable()

    # --- admin and audit --------------------------------------------------------------------

    def reset(self, tenant: str, user: str, *, devices: tuple[Device, ...], event: Event) -> None:
        """Lost phone: remove the authenticator, its recovery codes, the pending enrollment, every trusted
        device and the lockout; keep the secure phone and the app passwords."""
        pk = user_pk(tenant, user)
        tx = self._tx()
        tx.update(key(pk, SK_MFA)).remove(*AUTHENTICATOR_FIELDS, "recovery").add("device_gen", n(1))
        for sk in (SK_LOCKOUT, SK_ENROLLMENT, *(DEVICE + str(d.slot) for d in devices)):
            tx.delete(key(pk, sk))
        self._event(tx, pk, event)
        tx.run(self._db)

    def unlock(self, tenant: str, user: str, *, event: Event) -> None:
        pk = user_pk(tenant, user)
        tx = self._tx()
        tx.delete(key(pk, SK_LOCKOUT))
        self._event(tx, pk, event)
        tx.run(self._db)

    def list_events(self, tenant: str, user: str, *, limit: int, cursor: str | None) -> tuple[list[Event], str | None]:
        """The user's audit trail, newest first, a page at a time; the cursor is opaque to callers."""
        pk = user_pk(tenant, user)
        request = dict(
            TableName=self._table,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :prefix)",
            ExpressionAttributeValues={":pk": s(pk), ":prefix": s(EVENT)},
            ScanIndexForward=False,
            Limit=limit,
        )
        if cursor:
            try:
                sk = base64.urlsafe_b64decode(cursor.encode()).decode()
            except (ValueError, UnicodeDecodeError) as e:
                raise InvalidRequest("cursor is not valid.") from e
            if not sk.startswith(EVENT):
                raise InvalidRequest("cursor is not valid.")
            request["ExclusiveStartKey"] = key(pk, sk)
        with aws_unavailable():
            page = self._db.query(**request)
        events = [
            Event(
                at=_int(i, "at") / 1000,
                event=i["event"]["S"],
                ip=_str(i, "ip") or "",
                detail=json.loads(_str(i, "detail") or "{}"),
            )
            for i in page["Items"]
        ]
        last = page.get("LastEvaluatedKey")
        return events, base64.urlsafe_b64encode(last["SK"]["S"].encode()).decode() if last else None

    # --- helpers ----------------------------------------------------------------------------

    def _tx(self) -> Transaction:
        return Transaction(self._table)

    def _query_prefix(self, pk: str, prefix: str) -> list[dict]:
        with aws_unavailable():
            return self._db.query(
                TableName=self._table,
                KeyConditionExpression="PK = :pk AND begins_with(SK, :prefix)",
                ExpressionAttributeValues={":pk": s(pk), ":prefix": s(prefix)},
                ConsistentRead=True,
            )["Items"]

    def _event(self, tx: Transaction, pk: str, event: Event) -> Put:
        return tx.put(_event_item(pk, event))

    def _end_streak(self, tx: Transaction, pk: str, seen: Lockout, rules: LockoutSettings, now: float) -> Delete:
        """A success ends the failure streak, on condition that the user is not locked as stored: a
        failure that locked the user after our read wins over our success."""
        end = tx.delete(key(pk, SK_LOCKOUT))
        over, values = _round_over(seen, rules, now)
        end.condition(f"attribute_not_exists(#fails) OR #fails < :max OR ({over})", max=n(rules.max_failures), **values)
        return end

    @staticmethod
    def _settle(cancelled: dynamo.Cancelled | None, lockout: Delete) -> None:
        if cancelled is None:
            return
        if cancelled.failed(lockout):
            stored = _lockout(cancelled.item(lockout))
            raise LockedMeanwhile(stored)
        raise Stale()


def _round_over(seen: Lockout, rules: LockoutSettings, now: float) -> tuple[str, dict]:
    """The condition "the round `seen` belongs to is over, as stored": a day without failures, or the
    lock of `seen`'s level served (the level is in the condition: a later round locks for longer)."""
    return (
        "#last_fail_at <= :day_ago OR (#lock_level = :level AND #last_fail_at <= :served)",
        {
            "day_ago": n(int(now) - DAY),
            "level": n(seen.level),
            "served": n(int(now) - seen.lock_seconds(rules)),
        },
    )


def _event_item(pk: str, event: Event) -> dict:
    at_ms = int(event.at * 1000)
    return {
        **key(pk, f"{EVENT}{at_ms:013d}#{secrets.token_hex(4)}"),
        "at": n(at_ms),
        "event": s(event.event),
        "ip": s(event.ip),
        "detail": s(json.dumps(event.detail, sort_keys=True)),
        TTL_ATTRIBUTE: n(event.at + EVENT_DAYS * DAY),
    }


def _authenticator(item: dict) -> Authenticator | None:
    if "auth_id" not in item:
        return None
    return Authenticator(
        auth_id=item["auth_id"]["S"],
        secret=item["secret"]["B"],
        algorithm=item["algorithm"]["S"],
        digits=_int(item, "digits"),
        period=_int(item, "period"),
        label=item["label"]["S"],
        attached_at=_int(item, "attached_at"),
        last_step=_int(item, "last_step", -1),
    )


def _enrollment(item: dict | None) -> Enrollment | None:
    if not item:
        return None
    return Enrollment(
        enrollment_id=item["enrollment_id"]["S"],
        secret=item["secret"]["B"],
        algorithm=item["algorithm"]["S"],
        digits=_int(item, "digits"),
        period=_int(item, "period"),
        label=item["label"]["S"],
        expires_at=_int(item, "expires_at"),
    )


def _lockout(item: dict | None) -> Lockout:
    if not item or "fails" not in item:
        return Lockout()
    return Lockout(fails=_int(item, "fails"), level=_int(item, "lock_level"), last_fail_at=_int(item, "last_fail_at"))


def _sms(item: dict | None) -> SmsChallenge | None:
    if not item or "last_sent_at" not in item:
        return None
    return SmsChallenge(
        purpose=_str(item, "purpose"),
        number=_str(item, "number"),
        code_hash=_str(item, "code_hash"),
        expires_at=_int(item, "expires_at"),
        last_sent_at=_int(item, "last_sent_at"),
        day=_int(item, "day"),
        day_count=_int(item, "day_count"),
        purge_at=_int(item, TTL_ATTRIBUTE),
    )


def _device(item: dict) -> Device:
    return Device(
        device_id=item["device_id"]["S"],
        token_hash=item["token_hash"]["S"],
        label=item["label"]["S"],
        created_at=_int(item, "created_at"),
        expires_at=_int(item, "expires_at"),
        last_used_at=_opt_int(item, "last_used_at"),
        generation=_int(item, "generation"),
        trusted_ms=_int(item, "trusted_ms"),
    )


def _device_item(pk: str, device: Device) -> dict:
    return {
        **key(pk, DEVICE + str(device.slot)),
        "device_id": s(device.device_id),
        "token_hash": s(device.token_hash),
        "label": s(device.label),
        "created_at": n(device.created_at),
        "expires_at": n(device.expires_at),
        "generation": n(device.generation),
        "trusted_ms": n(device.trusted_ms),
        TTL_ATTRIBUTE: n(device.expires_at),
    }


def _app_password(item: dict) -> AppPassword:
    return AppPassword(
        password_id=item["password_id"]["S"],
        label=item["label"]["S"],
        created_at=_int(item, "created_at"),
        last_used_at=_opt_int(item, "last_used_at"),
    )
