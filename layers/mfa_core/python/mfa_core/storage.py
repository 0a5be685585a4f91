"""DynamoDB adapter: one table, low-level client, every state change one conditional write.

Layout (PK / SK):
  T#<tenant>            POLICY                  the tenant's policy (JSON) and its version
  T#<tenant>            DATAKEY                 the tenant's KMS data key, encrypted by KMS
  T#<tenant>#U#<user>   STATE#MFA               authenticator, recovery-code hashes, secure phone,
                                                trusted-device generation, app-password count
  T#<tenant>#U#<user>   STATE#LOCKOUT           failed-code counter (TTL: a day after the last failure)
  T#<tenant>#U#<user>   STATE#ENROLLMENT        the pending enrollment (TTL)
  T#<tenant>#U#<user>   STATE#SMS               the pending SMS code and the SMS send limits (TTL)
  T#<tenant>#U#<user>   STATE#DEVICE#<id>       a trusted device: its token's hash (TTL: its expiry)
  T#<tenant>#U#<user>   APPPW#<keyed hash>      a third-party client security password
  T#<tenant>#U#<user>   THROTTLE#APPPW          app-password check failures in the current minute (TTL)
  T#<tenant>#U#<user>   EVENT#<ms>#<rand>       the audit trail (TTL: a year)

Everything a code check or a logon decision needs is under the user's STATE# prefix: one consistent
Query. Each outcome is one conditional write, a transaction where several items change together.
TTL deletes late (up to days; moto never does), so every expiry is also checked in code.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from botocore.exceptions import BotoCoreError, ClientError

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
TRANSACTION_ATTEMPTS = 3
OPTIMISTIC_ATTEMPTS = 5
# Concurrent failures of one user race for the record; at most max_failures of them can win before the
# lock ends the race, so a loser needs a few tries at most (beyond that, 503).
FAILURE_ATTEMPTS = 12


class CodeAlreadyUsed(Exception):
    """The proof was accepted by another request first, or what it was bound to changed meanwhile."""


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
    device_id: str
    token_hash: str
    label: str
    created_at: int
    expires_at: int
    last_used_at: int | None
    generation: int  # the user's device generation when it was trusted


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
    to the authenticator that was read (`auth_id`)."""

    auth_id: str | None = None
    step: int | None = None
    recovery_hash: str | None = None
    sms_hash: str | None = None
    sms_purpose: str | None = None


@dataclass(frozen=True)
class Effects:
    """What the same write changes once the proof is accepted."""

    detach: bool = False  # remove the authenticator and its recovery codes, end every trusted device
    recovery: tuple[str, ...] | None = None  # replace the recovery-code hashes
    attach_phone: str | None = None
    remove_phone: bool = False
    device: Device | None = None  # trust a device, bound to the generation read
    evict: tuple[str, ...] = ()  # device ids to delete to stay within the limit


def tenant_pk(tenant: str) -> str:
    return f"T#{tenant}"


def user_pk(tenant: str, user: str) -> str:
    return f"T#{tenant}#U#{user}"


def _key(pk: str, sk: str) -> dict:
    return {"PK": {"S": pk}, "SK": {"S": sk}}


def _n(value: float) -> dict:
    return {"N": str(int(value))}


def _s(value: str) -> dict:
    return {"S": value}


def _int(item: dict, name: str, default: int = 0) -> int:
    return int(item[name]["N"]) if name in item else default


def _opt_int(item: dict, name: str) -> int | None:
    return int(item[name]["N"]) if name in item else None


def _str(item: dict, name: str) -> str | None:
    return item[name]["S"] if name in item else None


def _code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


class _Update:
    """One item's part of a transaction: clauses and conditions from several concerns merged into one
    Update (DynamoDB allows one operation per item per transaction), or a ConditionCheck."""

    def __init__(self, table: str, key: dict) -> None:
        self._table, self._key = table, key
        self._set: dict[str, dict] = {}
        self._add: dict[str, dict] = {}
        self._delete: dict[str, dict] = {}
        self._remove: set[str] = set()
        self._conditions: list[str] = []
        self._names: dict[str, str] = {}
        self._values: dict[str, dict] = {}

    def set(self, attr: str, value: dict) -> None:
        self._set[attr] = value

    def add(self, attr: str, value: dict) -> None:
        self._add[attr] = value

    def delete(self, attr: str, value: dict) -> None:
        self._delete[attr] = value

    def remove(self, *attrs: str) -> None:
        self._remove.update(attrs)

    def condition(self, expression: str, **values: dict) -> None:
        """`expression` names attributes as #name and values as :name (given as keyword arguments)."""
        prefix = f"c{len(self._conditions)}_"
        self._names.update({f"#{n}": n for n in re.findall(r"#(\w+)", expression)})
        self._conditions.append("(" + re.sub(r":(\w+)", rf":{prefix}\1", expression) + ")")
        self._values.update({f":{prefix}{k}": v for k, v in values.items()})

    def render(self) -> dict:
        clauses = []
        for verb, pairs, joiner in (("SET", self._set, " = "), ("ADD", self._add, " "), ("DELETE", self._delete, " ")):
            # A removed attribute takes no other operation in the same expression.
            live = [(a, v) for a, v in pairs.items() if a not in self._remove]
            if live:
                clauses.append(verb + " " + ", ".join(f"{self._name(a)}{joiner}{self._value(a, v)}" for a, v in live))
        if self._remove:
            clauses.append("REMOVE " + ", ".join(self._name(a) for a in sorted(self._remove)))
        request: dict = {"TableName": self._table, "Key": self._key}
        if self._conditions:
            request["ConditionExpression"] = " AND ".join(self._conditions)
        if clauses:
            request["UpdateExpression"] = " ".join(clauses)
        if self._names:
            request["ExpressionAttributeNames"] = self._names
        if self._values:
            request["ExpressionAttributeValues"] = self._values
        return {"Update" if clauses else "ConditionCheck": request}

    @property
    def empty(self) -> bool:
        return not (self._set or self._add or self._delete or self._remove or self._conditions)

    def _name(self, attr: str) -> str:
        self._names[f"#{attr}"] = attr
        return f"#{attr}"

    def _value(self, attr: str, value: dict) -> str:
        self._values[f":u_{attr}"] = value
        return f":u_{attr}"


class Store:
    def __init__(self, client, table: str) -> None:
        self._db = client
        self._table = table

    # --- tenant partition -------------------------------------------------------------------

    def get_policy(self, tenant: str) -> StoredPolicy | None:
        with aws_unavailable():
            item = self._db.get_item(TableName=self._table, Key=_key(tenant_pk(tenant), SK_POLICY)).get("Item")
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
        policy = _Update(self._table, _key(tenant_pk(tenant), SK_POLICY))
        if replaces:
            policy.condition("#version = :version", version=_n(replaces))
        else:
            policy.condition("attribute_not_exists(#version)")
        policy.set("doc", _s(json.dumps(doc, sort_keys=True)))
        policy.set("version", _n(replaces + 1))
        for name, value in (("two_factor_since", two_factor_since), ("devices_revoked_at", devices_revoked_at)):
            policy.set(name, _n(value)) if value is not None else policy.remove(name)
        if self._transact([policy.render(), self._event_put(user_pk(tenant, admin), event)]) is not None:
            raise Conflict()
        return StoredPolicy(doc, replaces + 1, two_factor_since, devices_revoked_at)

    def get_data_key(self, tenant: str) -> bytes | None:
        with aws_unavailable():
            item = self._db.get_item(
                TableName=self._table, Key=_key(tenant_pk(tenant), SK_DATA_KEY), ConsistentRead=True
            ).get("Item")
        return item["blob"]["B"] if item else None

    def put_data_key(self, tenant: str, blob: bytes) -> bytes:
        """Store the tenant's encrypted data key unless one exists; returns the one that is stored."""
        with aws_unavailable():
            try:
                self._db.put_item(
                    TableName=self._table,
                    Item={**_key(tenant_pk(tenant), SK_DATA_KEY), "blob": {"B": blob}},
                    ConditionExpression="attribute_not_exists(PK)",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
            except ClientError as e:
                if _code(e) == "ConditionalCheckFailedException":
                    return e.response["Item"]["blob"]["B"]
                raise
        return blob

    # --- the user's state -------------------------------------------------------------------

    def load_user(self, tenant: str, user: str) -> UserState:
        """Everything a code check or a logon decision needs, in one consistent read."""
        with aws_unavailable():
            items = self._db.query(
                TableName=self._table,
                KeyConditionExpression="PK = :pk AND begins_with(SK, :state)",
                ExpressionAttributeValues={":pk": _s(user_pk(tenant, user)), ":state": _s(STATE)},
                ConsistentRead=True,
            )["Items"]
        by_sk = {item["SK"]["S"]: item for item in items}
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
                sorted((_device(i) for sk, i in by_sk.items() if sk.startswith(DEVICE)), key=lambda d: d.created_at)
            ),
        )

    def save_enrollment(self, tenant: str, user: str, enrollment: Enrollment, *, purge_at: int, event: Event) -> None:
        """Replace any pending enrollment with this one, unless an authenticator is attached."""
        pk = user_pk(tenant, user)
        item = {
            **_key(pk, SK_ENROLLMENT),
            "enrollment_id": _s(enrollment.enrollment_id),
            "secret": {"B": enrollment.secret},
            "algorithm": _s(enrollment.algorithm),
            "digits": _n(enrollment.digits),
            "period": _n(enrollment.period),
            "label": _s(enrollment.label),
            "expires_at": _n(enrollment.expires_at),
            TTL_ATTRIBUTE: _n(purge_at),
        }
        mfa = _Update(self._table, _key(pk, SK_MFA))
        mfa.condition("attribute_not_exists(#auth_id)")
        reasons = self._transact(
            [mfa.render(), {"Put": {"TableName": self._table, "Item": item}}, self._event_put(pk, event)]
        )
        if reasons is not None:
            raise AlreadyAttached()

    def attach(
        self,
        tenant: str,
        user: str,
        *,
        enrollment_id: str,
        authenticator: Authenticator,
        recovery: list[str],
        seen: Lockout,
        rules: LockoutSettings,
        event: Event,
    ) -> None:
        """Turn the pending enrollment into the attached authenticator, consuming the confirm code's step."""
        pk = user_pk(tenant, user)
        delete_enrollment = {
            "Delete": {
                "TableName": self._table,
                "Key": _key(pk, SK_ENROLLMENT),
                "ConditionExpression": "enrollment_id = :id",
                "ExpressionAttributeValues": {":id": _s(enrollment_id)},
            }
        }
        mfa = _Update(self._table, _key(pk, SK_MFA))
        mfa.condition("attribute_not_exists(#auth_id)")
        fields = {
            "auth_id": _s(authenticator.auth_id),
            "secret": {"B": authenticator.secret},
            "algorithm": _s(authenticator.algorithm),
            "digits": _n(authenticator.digits),
            "period": _n(authenticator.period),
            "label": _s(authenticator.label),
            "attached_at": _n(authenticator.attached_at),
            "last_step": _n(authenticator.last_step),
            "recovery": {"SS": recovery},
        }
        for name, value in fields.items():
            mfa.set(name, value)
        reasons = self._transact(
            [delete_enrollment, mfa.render(), self._lockout_reset(pk, seen, rules), self._event_put(pk, event)]
        )
        self._raise_for(reasons, lockout_index=2)

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
        (unless a concurrent failure locked the user since we read) and writes the audit events."""
        pk = user_pk(tenant, user)
        mfa = _Update(self._table, _key(pk, SK_MFA))
        sms = _Update(self._table, _key(pk, SK_SMS))
        if proof.step is not None:
            mfa.condition(
                "#auth_id = :auth_id AND (attribute_not_exists(#last_step) OR #last_step < :step)",
                auth_id=_s(proof.auth_id),
                step=_n(proof.step),
            )
            mfa.set("last_step", _n(proof.step))
        if proof.recovery_hash is not None:
            mfa.condition(
                "#auth_id = :auth_id AND contains(#recovery, :hash)",
                auth_id=_s(proof.auth_id),
                hash=_s(proof.recovery_hash),
            )
            mfa.delete("recovery", {"SS": [proof.recovery_hash]})
        if proof.sms_hash is not None:
            sms.condition(
                "#code_hash = :hash AND #purpose = :purpose AND #expires_at > :now",
                hash=_s(proof.sms_hash),
                purpose=_s(proof.sms_purpose),
                now=_n(now),
            )
            sms.remove("code_hash", "purpose", "number")
        if effects.detach:
            mfa.remove(*AUTHENTICATOR_FIELDS, "recovery")
            mfa.add("device_gen", _n(1))
        if effects.recovery is not None:
            mfa.set("recovery", {"SS": list(effects.recovery)})
        if effects.attach_phone is not None:
            mfa.condition("attribute_not_exists(#phone_number)")
            mfa.set("phone_number", _s(effects.attach_phone))
            mfa.set("phone_attached_at", _n(now))
        if effects.remove_phone:
            mfa.condition("attribute_exists(#phone_number)")
            mfa.remove("phone_number", "phone_attached_at")
        if effects.device is not None:
            # The device is bound to the generation read: if the authenticator was deleted or the user
            # reset meanwhile (generation bumped), trusting it fails instead of outliving the reset.
            mfa.condition("attribute_not_exists(#device_gen) OR #device_gen = :gen", gen=_n(device_gen))
        items = [u.render() for u in (mfa, sms) if not u.empty]
        lockout_index = len(items)
        items += [self._lockout_reset(pk, seen, rules)] + [self._event_put(pk, e) for e in events]
        if effects.device is not None:
            items.append({"Put": {"TableName": self._table, "Item": _device_item(pk, effects.device)}})
            items += [{"Delete": {"TableName": self._table, "Key": _key(pk, DEVICE + d)}} for d in effects.evict]
        self._raise_for(self._transact(items), lockout_index=lockout_index)

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
        """Count one failed code and write its audit events in one transaction; returns the record after it.

        Optimistic: the write holds only if the record is still the one read, so the count is exact and
        the events say the truth (the failure that locks writes `locked`). A loser gets the current
        record back in the cancellation reason and tries again on it, without another read; once the
        user is locked, the rest get Locked."""
        pk = user_pk(tenant, user)
        for _ in range(FAILURE_ATTEMPTS):
            retry_after = seen.retry_after(rules, now)
            if retry_after is not None:
                raise Locked(retry_after)
            after = seen.restart(rules, now) or Lockout(fails=seen.fails + 1, level=seen.level, last_fail_at=int(now))
            record = _Update(self._table, _key(pk, SK_LOCKOUT))
            for name, value in (
                ("fails", after.fails),
                ("lock_level", after.level),
                ("last_fail_at", after.last_fail_at),
                (TTL_ATTRIBUTE, now + DAY),
            ):
                record.set(name, _n(value))
            if seen.exists:
                record.condition(
                    "#fails = :fails AND #last_fail_at = :last", fails=_n(seen.fails), last=_n(seen.last_fail_at)
                )
            else:
                record.condition("attribute_not_exists(#fails)")
            update = record.render()["Update"] | {"ReturnValuesOnConditionCheckFailure": "ALL_OLD"}
            reasons = self._transact([{"Update": update}, *(self._event_put(pk, e) for e in events(after))])
            if reasons is None:
                return after
            seen = _lockout(reasons[0].get("Item"))
        raise Unavailable()

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
    ) -> None:
        """Store a new SMS code and count the send, within the limits (one per `min_gap` s, `per_day` a
        day); two sends racing get one slot. Raises RateLimited."""
        today = int(now) // DAY
        key = _key(user_pk(tenant, user), SK_SMS)
        for _ in range(OPTIMISTIC_ATTEMPTS):
            if seen is not None:
                wait = seen.last_sent_at + min_gap - now
                if wait > 0:
                    raise RateLimited(wait)
                if seen.day == today and seen.day_count >= per_day:
                    raise RateLimited((today + 1) * DAY - now)
            update = _Update(self._table, key)
            for name, value in (
                ("purpose", _s(purpose)),
                ("number", _s(number)),
                ("code_hash", _s(code_hash)),
                ("expires_at", _n(expires_at)),
                ("last_sent_at", _n(now)),
                ("day", _n(today)),
                (TTL_ATTRIBUTE, _n(now + 2 * DAY)),
            ):
                update.set(name, value)
            if seen is None:
                update.condition("attribute_not_exists(#last_sent_at)")
                update.set("day_count", _n(1))
            else:
                # Optimistic: only if nobody sent since we read (the limits were checked on what we read).
                update.condition("#last_sent_at = :seen", seen=_n(seen.last_sent_at))
                update.set("day_count", _n(seen.day_count + 1 if seen.day == today else 1))
            request = update.render()["Update"] | {"ReturnValuesOnConditionCheckFailure": "ALL_OLD"}
            with aws_unavailable():
                try:
                    self._db.update_item(**request)
                    return
                except ClientError as e:
                    if _code(e) != "ConditionalCheckFailedException":
                        raise
                    seen = _sms(e.response.get("Item"))
        raise RateLimited(min_gap)

    def release_sms(self, tenant: str, user: str, *, seen: SmsChallenge | None, code_hash: str) -> None:
        """Undo a reservation whose SMS could not be sent, so the user may try again at once."""
        key = _key(user_pk(tenant, user), SK_SMS)
        with aws_unavailable():
            try:
                if seen is None:
                    self._db.delete_item(
                        TableName=self._table,
                        Key=key,
                        ConditionExpression="code_hash = :h",
                        ExpressionAttributeValues={":h": _s(code_hash)},
                    )
                    return
                # Put back exactly what was there, a still-pending earlier code included.
                update = _Update(self._table, key)
                update.condition("#code_hash = :hash", hash=_s(code_hash))
                for name, value in (("purpose", seen.purpose), ("number", seen.number), ("code_hash", seen.code_hash)):
                    update.set(name, _s(value)) if value is not None else update.remove(name)
                for name, number in (
                    ("expires_at", seen.expires_at),
                    ("last_sent_at", seen.last_sent_at),
                    ("day", seen.day),
                    ("day_count", seen.day_count),
                    (TTL_ATTRIBUTE, seen.purge_at),
                ):
                    update.set(name, _n(number))
                self._db.update_item(**update.render()["Update"])
            except ClientError as e:
                if _code(e) != "ConditionalCheckFailedException":
                    raise

    # --- trusted devices --------------------------------------------------------------------

    def touch_device(self, tenant: str, user: str, device_id: str, *, now: float, event: Event) -> bool:
        """Record a logon through a trusted device; False if the device was revoked meanwhile."""
        pk = user_pk(tenant, user)
        device = _Update(self._table, _key(pk, DEVICE + device_id))
        device.condition("attribute_exists(#token_hash)")
        device.set("last_used_at", _n(now))
        return self._transact([device.render(), self._event_put(pk, event)]) is None

    def delete_devices(self, tenant: str, user: str, device_ids: list[str], *, event: Event, end_all: bool) -> None:
        """Delete these devices; with `end_all`, also bump the generation so no token issued so far counts."""
        pk = user_pk(tenant, user)
        items = [{"Delete": {"TableName": self._table, "Key": _key(pk, DEVICE + d)}} for d in device_ids]
        if end_all:
            mfa = _Update(self._table, _key(pk, SK_MFA))
            mfa.add("device_gen", _n(1))
            items.append(mfa.render())
        self._raise_for(self._transact(items + [self._event_put(pk, event)]), lockout_index=None)

    def delete_device(self, tenant: str, user: str, device_id: str, *, event: Event) -> None:
        pk = user_pk(tenant, user)
        reasons = self._transact(
            [
                {
                    "Delete": {
                        "TableName": self._table,
                        "Key": _key(pk, DEVICE + device_id),
                        "ConditionExpression": "attribute_exists(token_hash)",
                    }
                },
                self._event_put(pk, event),
            ]
        )
        if reasons is not None:
            raise NotFound("No such trusted device.")

    # --- app passwords ----------------------------------------------------------------------

    def create_app_password(
        self, tenant: str, user: str, *, password_hash: str, password: AppPassword, limit: int, event: Event
    ) -> None:
        pk = user_pk(tenant, user)
        mfa = _Update(self._table, _key(pk, SK_MFA))
        mfa.condition("attribute_not_exists(#app_passwords) OR #app_passwords < :limit", limit=_n(limit))
        mfa.add("app_passwords", _n(1))
        item = {
            **_key(pk, APP_PASSWORD + password_hash),
            "password_id": _s(password.password_id),
            "label": _s(password.label),
            "created_at": _n(password.created_at),
        }
        reasons = self._transact(
            [
                mfa.render(),
                {"Put": {"TableName": self._table, "Item": item, "ConditionExpression": "attribute_not_exists(PK)"}},
                self._event_put(pk, event),
            ]
        )
        if reasons is not None:
            raise LimitReached("You can have at most 40 third-party client security passwords.")

    def list_app_passwords(self, tenant: str, user: str) -> list[tuple[str, AppPassword]]:
        """(hash, password) for each of the user's app passwords, oldest first."""
        items = self._query_prefix(user_pk(tenant, user), APP_PASSWORD)
        found = [(i["SK"]["S"][len(APP_PASSWORD) :], _app_password(i)) for i in items]
        return sorted(found, key=lambda pair: pair[1].created_at)

    def delete_app_password(self, tenant: str, user: str, password_hash: str, *, event: Event) -> None:
        pk = user_pk(tenant, user)
        mfa = _Update(self._table, _key(pk, SK_MFA))
        mfa.add("app_passwords", _n(-1))
        reasons = self._transact(
            [
                {
                    "Delete": {
                        "TableName": self._table,
                        "Key": _key(pk, APP_PASSWORD + password_hash),
                        "ConditionExpression": "attribute_exists(PK)",
                    }
                },
                mfa.render(),
                self._event_put(pk, event),
            ]
        )
        if reasons is not None:
            raise NotFound("No such third-party client security password.")

    def use_app_password(
        self, tenant: str, user: str, password_hash: str, *, now: float, limit: int, event: Event
    ) -> bool:
        """True when the password exists (its last use recorded); raises RateLimited when the user's
        checks failed `limit` times this minute. A wrong password costs one more write: the count."""
        pk = user_pk(tenant, user)
        minute = int(now) // 60
        throttle = _Update(self._table, _key(pk, SK_APP_PASSWORD_THROTTLE))
        throttle.condition(
            "attribute_not_exists(#minute) OR #minute <> :minute OR #fails < :limit", minute=_n(minute), limit=_n(limit)
        )
        password = _Update(self._table, _key(pk, APP_PASSWORD + password_hash))
        password.condition("attribute_exists(#password_id)")
        password.set("last_used_at", _n(now))
        reasons = self._transact([throttle.render(), password.render(), self._event_put(pk, event)])
        if reasons is None:
            return True
        if reasons[0].get("Code") == "ConditionalCheckFailed":
            raise RateLimited(60 - int(now) % 60)
        self._count_app_password_failure(pk, minute, now)
        return False

    def _count_app_password_failure(self, pk: str, minute: int, now: float) -> None:
        """One more failure in this minute's window (a new window starts at one)."""
        same_minute = _Update(self._table, _key(pk, SK_APP_PASSWORD_THROTTLE))
        same_minute.condition("#minute = :minute", minute=_n(minute))
        same_minute.add("fails", _n(1))
        new_minute = _Update(self._table, _key(pk, SK_APP_PASSWORD_THROTTLE))
        new_minute.condition("attribute_not_exists(#minute) OR #minute <> :minute", minute=_n(minute))
        new_minute.set("fails", _n(1))
        new_minute.set("minute", _n(minute))
        new_minute.set(TTL_ATTRIBUTE, _n(now + 120))
        for _ in range(OPTIMISTIC_ATTEMPTS):
            for update in (same_minute, new_minute):
                with aws_unavailable():
                    try:
                        self._db.update_item(**update.render()["Update"])
                        return
                    except ClientError as e:
                        if _code(e) != "ConditionalCheckFailedException":
                            raise
        raise Unavailable()

    # --- admin and audit --------------------------------------------------------------------

    def reset(self, tenant: str, user: str, *, devices: tuple[Device, ...], event: Event) -> None:
        """Lost phone: remove the authenticator, its recovery codes, the pending enrollment, every trusted
        device and the lockout; keep the secure phone and the app passwords."""
        pk = user_pk(tenant, user)
        mfa = _Update(self._table, _key(pk, SK_MFA))
        mfa.remove(*AUTHENTICATOR_FIELDS, "recovery")
        mfa.add("device_gen", _n(1))
        items = [mfa.render()]
        items += [{"Delete": {"TableName": self._table, "Key": _key(pk, sk)}} for sk in (SK_LOCKOUT, SK_ENROLLMENT)]
        items += [{"Delete": {"TableName": self._table, "Key": _key(pk, DEVICE + d.device_id)}} for d in devices]
        self._raise_for(self._transact(items + [self._event_put(pk, event)]), lockout_index=None)

    def unlock(self, tenant: str, user: str, *, event: Event) -> None:
        pk = user_pk(tenant, user)
        self._raise_for(
            self._transact(
                [
                    {"Delete": {"TableName": self._table, "Key": _key(pk, SK_LOCKOUT)}},
                    self._event_put(pk, event),
                ]
            ),
            lockout_index=None,
        )

    def list_events(self, tenant: str, user: str, *, limit: int, cursor: str | None) -> tuple[list[Event], str | None]:
        """The user's audit trail, newest first, a page at a time; the cursor is opaque to callers."""
        pk = user_pk(tenant, user)
        request = dict(
            TableName=self._table,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :prefix)",
            ExpressionAttributeValues={":pk": _s(pk), ":prefix": _s(EVENT)},
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
            request["ExclusiveStartKey"] = _key(pk, sk)
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

    def _query_prefix(self, pk: str, prefix: str) -> list[dict]:
        with aws_unavailable():
            return self._db.query(
                TableName=self._table,
                KeyConditionExpression="PK = :pk AND begins_with(SK, :prefix)",
                ExpressionAttributeValues={":pk": _s(pk), ":prefix": _s(prefix)},
                ConsistentRead=True,
            )["Items"]

    def _event_put(self, pk: str, event: Event) -> dict:
        at_ms = int(event.at * 1000)
        item = {
            **_key(pk, f"{EVENT}{at_ms:013d}#{secrets.token_hex(4)}"),
            "at": _n(at_ms),
            "event": _s(event.event),
            "ip": _s(event.ip),
            "detail": _s(json.dumps(event.detail, sort_keys=True)),
            TTL_ATTRIBUTE: _n(event.at + EVENT_DAYS * DAY),
        }
        return {"Put": {"TableName": self._table, "Item": item}}

    def _lockout_reset(self, pk: str, seen: Lockout, rules: LockoutSettings) -> dict:
        """A success ends the failure streak, unless a concurrent failure locked the user since we read."""
        return {
            "Delete": {
                "TableName": self._table,
                "Key": _key(pk, SK_LOCKOUT),
                "ConditionExpression": "attribute_not_exists(#fails) OR #fails < :max OR #last = :seen_last",
                "ExpressionAttributeNames": {"#fails": "fails", "#last": "last_fail_at"},
                "ExpressionAttributeValues": {":max": _n(rules.max_failures), ":seen_last": _n(seen.last_fail_at)},
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }

    @staticmethod
    def _raise_for(reasons: list[dict] | None, *, lockout_index: int | None) -> None:
        if reasons is None:
            return
        if lockout_index is not None and lockout_index < len(reasons):
            lock_reason = reasons[lockout_index]
            if lock_reason.get("Code") == "ConditionalCheckFailed":
                raise LockedMeanwhile(_lockout(lock_reason.get("Item")))
        raise CodeAlreadyUsed()

    def _transact(self, items: list[dict]) -> list[dict] | None:
        """Run a write transaction. None when it committed; the per-item cancellation reasons when a
        condition failed. Conflicts with a concurrent transaction are retried; the rest is Unavailable."""
        for _ in range(TRANSACTION_ATTEMPTS):
            try:
                self._db.transact_write_items(TransactItems=items)
                return None
            except ClientError as e:
                if _code(e) != "TransactionCanceledException":
                    raise Unavailable() from e
                reasons = e.response.get("CancellationReasons") or []
                if any(r.get("Code") == "ConditionalCheckFailed" for r in reasons):
                    return reasons
                if not any(r.get("Code") == "TransactionConflict" for r in reasons):
                    raise Unavailable() from e
            except BotoCoreError as e:
                raise Unavailable() from e
        raise Unavailable()


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
        device_id=item["SK"]["S"][len(DEVICE) :],
        token_hash=item["token_hash"]["S"],
        label=item["label"]["S"],
        created_at=_int(item, "created_at"),
        expires_at=_int(item, "expires_at"),
        last_used_at=_opt_int(item, "last_used_at"),
        generation=_int(item, "generation"),
    )


def _device_item(pk: str, device: Device) -> dict:
    return {
        **_key(pk, DEVICE + device.device_id),
        "token_hash": _s(device.token_hash),
        "label": _s(device.label),
        "created_at": _n(device.created_at),
        "expires_at": _n(device.expires_at),
        "generation": _n(device.generation),
        TTL_ATTRIBUTE: _n(device.expires_at),
    }


def _app_password(item: dict) -> AppPassword:
    return AppPassword(
        password_id=item["password_id"]["S"],
        label=item["label"]["S"],
        created_at=_int(item, "created_at"),
        last_used_at=_opt_int(item, "last_used_at"),
    )
