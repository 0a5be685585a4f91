"""Store: the one adapter to DynamoDB, one method per outcome, each one write (a single-item write or a
transaction). It turns what a write found into domain outcomes; the rules it writes are in guarantees.

A transaction that loses to a concurrent one (TransactionConflict) is sent again (dynamo.contended). A
write whose condition failed says what it found: Stale (read the user again and decide anew),
LockedMeanwhile, Changed (the item as stored, to decide again on without another read) or Full."""

from __future__ import annotations

import json
import logging

from ..errors import AlreadyAttached, Conflict, LimitReached, NotFound, Unavailable, aws_unavailable
from ..lockout import Lockout
from ..model import AppPassword, Device, Effects, Enrollment, Event, Proof, SmsChallenge, StoredPolicy, UserState
from ..policy import LockoutSettings, SmsSettings
from . import codecs, guarantees
from .dynamo import ConditionFailed, Put, Transaction, Update, key, n, s, write
from .keys import (
    APP_PASSWORD,
    EVENT,
    SK_APP_PASSWORD_THROTTLE,
    SK_DATA_KEY,
    SK_ENROLLMENT,
    SK_LOCKOUT,
    SK_MFA,
    SK_POLICY,
    SK_SMS,
    STATE,
    device_sk,
    tenant_pk,
    user_pk,
)
from .outcomes import Changed, Full, LockedMeanwhile, Stale

log = logging.getLogger(__name__)


class Store:
    def __init__(self, client, table: str) -> None:
        self._db = client
        self._table = table

    # --- tenant partition -------------------------------------------------------------------

    def get_policy(self, tenant: str) -> StoredPolicy | None:
        with aws_unavailable():
            item = self._db.get_item(TableName=self._table, Key=key(tenant_pk(tenant), SK_POLICY)).get("Item")
        return codecs.stored_policy(item) if item else None

    def save_policy(self, tenant: str, policy: StoredPolicy, *, replaces: int, event: Event, admin: str) -> None:
        """Save `policy` over the stored version `replaces` (0: none saved yet), with its audit event in
        the admin's own trail, in one transaction. Conflict when someone saved meanwhile."""
        tx = self._tx()
        update = tx.update(key(tenant_pk(tenant), SK_POLICY))
        if replaces:
            update.condition("#version = :version", version=n(replaces))
        else:
            update.condition("attribute_not_exists(#version)")
        update.set("doc", s(json.dumps(policy.doc, sort_keys=True)))
        update.set("version", n(policy.version))
        for name in ("two_factor_since", "devices_revoked_at"):
            value = getattr(policy, name)
            update.set(name, n(value)) if value is not None else update.remove(name)
        tx.put(codecs.event_item(user_pk(tenant, admin), event))
        if tx.run(self._db) is not None:
            raise Conflict()

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
            write(self._db, put)
        except ConditionFailed as e:
            return e.item["blob"]["B"]
        return blob

    # --- the user's state: read it, accept a proof, count a failure ----------------------------

    def load_user(self, tenant: str, user: str) -> UserState:
        """Everything a code check or a logon decision needs, in one consistent read."""
        return codecs.user_state(self._query_prefix(user_pk(tenant, user), STATE))

    def save_enrollment(self, tenant: str, user: str, pending: Enrollment, *, purge_at: int, event: Event) -> None:
        """Replace any pending enrollment with this one, unless an authenticator is attached."""
        pk = user_pk(tenant, user)
        tx = self._tx()
        tx.update(key(pk, SK_MFA)).condition("attribute_not_exists(#auth_id)")
        tx.put(codecs.enrollment_item(pk, pending, purge_at))
        tx.put(codecs.event_item(pk, event))
        if tx.run(self._db) is not None:
            raise AlreadyAttached()

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
        guarantees.use_proof(mfa, sms, proof, now)
        guarantees.apply(tx, pk, mfa, effects, device_gen, now)
        streak = guarantees.end_streak(tx, pk, seen, rules, now)
        for event in events:
            tx.put(codecs.event_item(pk, event))
        cancelled = tx.run(self._db)
        if cancelled is None:
            return
        if cancelled.failed(streak):
            raise LockedMeanwhile(codecs.lockout(cancelled.item(streak)))
        raise Stale()

    def record_failure(self, tenant: str, user: str, *, seen: Lockout, rules: LockoutSettings, now: float) -> Lockout:
        """Count one failed code on the lockout record `seen`; returns the record after it. One UpdateItem
        whose condition is "not locked as stored"; when the record is not the one read, Changed hands back
        the record as it is (the caller decides again on it, without another read)."""
        record = Update(self._table, key(user_pk(tenant, user), SK_LOCKOUT))
        guarantees.count_failure(record, seen, rules, now)
        try:
            written = write(self._db, record, ReturnValues="ALL_NEW")
        except ConditionFailed as e:
            raise Changed(codecs.lockout(e.item)) from e
        return codecs.lockout(written["Attributes"])

    def record_events(self, tenant: str, user: str, events: list[Event]) -> None:
        """The audit events of a failure, after its count. If they can't be written the failure still
        stands (an outage must not give an attacker a guess that is not counted): the loss is logged."""
        pk = user_pk(tenant, user)
        try:
            if len(events) == 1:
                write(self._db, Put(self._table, codecs.event_item(pk, events[0])))
            else:
                tx = self._tx()
                for event in events:
                    tx.put(codecs.event_item(pk, event))
                tx.run(self._db)
        except Unavailable:
            log.error(json.dumps({"audit_lost": [e.event for e in events], "reason": "write failed"}))

    # --- SMS codes --------------------------------------------------------------------------

    def reserve_sms(
        self,
        tenant: str,
        user: str,
        sent: SmsChallenge,
        *,
        seen: SmsChallenge | None,
        min_gap: int,
        per_day: int,
        limits: SmsSettings,
    ) -> None:
        """Store the code `sent` over the record `seen` and count the send, in one transaction whose
        conditions are the limits as stored: the user's (Changed hands back the record as stored when it is
        not `seen`), then the day's of the number and of the tenant (Full)."""
        tx = self._tx()
        record = tx.update(key(user_pk(tenant, user), SK_SMS))
        for name, value in codecs.sms_send_attributes(sent).items():
            record.set(name, value)
        guarantees.send_sms(record, seen, sent.last_sent_at, min_gap=min_gap, per_day=per_day)
        guarantees.count_sms_send(tx, tenant, sent, limits)
        cancelled = tx.run(self._db)
        if cancelled is None:
            return
        if cancelled.failed(record):
            raise Changed(codecs.sms(cancelled.item(record)))
        raise Full()

    def release_sms(self, tenant: str, user: str, sent: SmsChallenge, *, replaced: SmsChallenge | None) -> None:
        """Undo the reservation of `sent`, whose SMS could not be sent, so the user may try again at once: the
        user's record back to exactly what it replaced and the send given back to the day's counters, in
        one transaction; none of it if another send came since (the code is no longer ours: erring on the
        side of fewer SMS, its unit stays counted)."""
        tx = self._tx()
        item_key = key(user_pk(tenant, user), SK_SMS)
        undo = tx.delete(item_key) if replaced is None else tx.update(item_key)
        if replaced is not None:
            for name, value in codecs.sms_send_attributes(replaced).items():
                undo.set(name, value)
            undo.set("day", n(replaced.day)).set("day_count", n(replaced.day_count))
            undo.remove(*(name for name in codecs.SMS_CODE_FIELDS if getattr(replaced, name) is None))
        undo.condition("#code_hash = :hash", hash=s(sent.code_hash))
        guarantees.give_back_sms_send(tx, tenant, sent)
        tx.run(self._db)

    # --- trusted devices --------------------------------------------------------------------

    def touch_device(
        self, tenant: str, user: str, device: Device, *, device_gen: int, now: float, event: Event
    ) -> bool:
        """Record a logon through a trusted device; False if the device was revoked meanwhile (deleted,
        or the generation bumped by a delete of the authenticator, a reset or "sign out everywhere")."""
        pk = user_pk(tenant, user)
        tx = self._tx()
        touched = tx.update(key(pk, device_sk(device.slot)))
        touched.condition("#device_id = :id", id=s(device.device_id))
        touched.set("last_used_at", n(now))
        guarantees.same_generation(tx.update(key(pk, SK_MFA)), device_gen)
        tx.put(codecs.event_item(pk, event))
        return tx.run(self._db) is None

    def delete_devices(self, tenant: str, user: str, devices: tuple[Device, ...], *, event: Event) -> None:
        """Sign out everywhere: delete these devices and bump the generation, so no token issued so far
        counts (one trusted meanwhile included)."""
        pk = user_pk(tenant, user)
        tx = self._tx()
        for device in devices:
            tx.delete(key(pk, device_sk(device.slot)))
        tx.update(key(pk, SK_MFA)).add("device_gen", n(1))
        tx.put(codecs.event_item(pk, event))
        tx.run(self._db)

    def delete_device(self, tenant: str, user: str, device_id: str, *, event: Event) -> None:
        slot, _, rest = device_id.partition("-")
        if not (slot.isascii() and slot.isdigit() and rest):
            raise NotFound("No such trusted device.")
        pk = user_pk(tenant, user)
        tx = self._tx()
        tx.delete(key(pk, device_sk(slot))).condition("#device_id = :id", id=s(device_id))
        tx.put(codecs.event_item(pk, event))
        if tx.run(self._db) is not None:
            raise NotFound("No such trusted device.")

    # --- app passwords ----------------------------------------------------------------------

    def create_app_password(
        self, tenant: str, user: str, *, password_hash: str, password: AppPassword, limit: int, event: Event
    ) -> None:
        pk = user_pk(tenant, user)
        tx = self._tx()
        mfa = tx.update(key(pk, SK_MFA))
        mfa.condition("attribute_not_exists(#app_passwords) OR #app_passwords < :limit", limit=n(limit))
        mfa.add("app_passwords", n(1))
        item = {**key(pk, APP_PASSWORD + password_hash), **codecs.app_password_attributes(password)}
        tx.put(item).condition("attribute_not_exists(#PK)")
        tx.put(codecs.event_item(pk, event))
        if tx.run(self._db) is not None:
            raise LimitReached(f"You can have at most {limit} third-party client security passwords.")

    def list_app_passwords(self, tenant: str, user: str) -> list[tuple[str, AppPassword]]:
        """(hash, password) for each of the user's app passwords, oldest first."""
        items = self._query_prefix(user_pk(tenant, user), APP_PASSWORD)
        found = [(i["SK"]["S"][len(APP_PASSWORD) :], codecs.app_password(i)) for i in items]
        return sorted(found, key=lambda pair: pair[1].created_at)

    def delete_app_password(self, tenant: str, user: str, password_hash: str, *, event: Event) -> None:
        pk = user_pk(tenant, user)
        tx = self._tx()
        tx.delete(key(pk, APP_PASSWORD + password_hash)).condition("attribute_exists(#PK)")
        tx.update(key(pk, SK_MFA)).add("app_passwords", n(-1))
        tx.put(codecs.event_item(pk, event))
        if tx.run(self._db) is not None:
            raise NotFound("No such third-party client security password.")

    def use_app_password(
        self, tenant: str, user: str, password_hash: str, *, minute: int, limit: int, now: float, event: Event
    ) -> bool:
        """True when the password exists (its last use recorded), False when it does not and the failure
        is counted. Full when `limit` failures were counted this minute: the condition of both writes, so
        parallel checks can't get more than `limit` wrong answers a minute."""
        pk = user_pk(tenant, user)
        tx = self._tx()
        throttle = tx.update(key(pk, SK_APP_PASSWORD_THROTTLE))
        guarantees.under_throttle(throttle, minute, limit)
        password = tx.update(key(pk, APP_PASSWORD + password_hash))
        password.condition("attribute_exists(#password_id)")
        password.set("last_used_at", n(now))
        tx.put(codecs.event_item(pk, event))
        cancelled = tx.run(self._db)
        if cancelled is None:
            return True
        if cancelled.failed(throttle):
            raise Full()
        # A new window may open between the two tries: then the first counts in it.
        same_minute, new_minute = guarantees.throttle_failure(
            self._table, key(pk, SK_APP_PASSWORD_THROTTLE), minute, limit, purge_at=now + 120
        )
        for update in (same_minute, new_minute, same_minute):
            try:
                write(self._db, update)
                return False
            except ConditionFailed as e:
                if e.item and int(e.item["minute"]["N"]) == minute and int(e.item["fails"]["N"]) >= limit:
                    raise Full() from e
        raise Unavailable()

    # --- admin and audit --------------------------------------------------------------------

    def reset(self, tenant: str, user: str, *, devices: tuple[Device, ...], event: Event) -> None:
        """Lost phone: remove the authenticator, its recovery codes, the pending enrollment, every trusted
        device and the lockout; keep the secure phone and the app passwords."""
        pk = user_pk(tenant, user)
        tx = self._tx()
        tx.update(key(pk, SK_MFA)).remove(*codecs.AUTHENTICATOR_FIELDS, "recovery").add("device_gen", n(1))
        for sk in (SK_LOCKOUT, SK_ENROLLMENT, *(device_sk(d.slot) for d in devices)):
            tx.delete(key(pk, sk))
        tx.put(codecs.event_item(pk, event))
        tx.run(self._db)

    def unlock(self, tenant: str, user: str, *, event: Event) -> None:
        pk = user_pk(tenant, user)
        tx = self._tx()
        tx.delete(key(pk, SK_LOCKOUT))
        tx.put(codecs.event_item(pk, event))
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
            request["ExclusiveStartKey"] = key(pk, codecs.event_sk_of(cursor))
        with aws_unavailable():
            page = self._db.query(**request)
        return [codecs.event(i) for i in page["Items"]], codecs.cursor(page.get("LastEvaluatedKey"))

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
