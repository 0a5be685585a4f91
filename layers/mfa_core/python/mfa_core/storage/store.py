"""Store: the one adapter to DynamoDB, one method per outcome, each one write (a single-item write or a
transaction). It turns what a write found into domain outcomes; the rules it writes are in guarantees.

A transaction that loses to a concurrent one (TransactionConflict) is sent again (dynamo.contended). A
write whose condition failed says what it found: Stale (read the user again and decide anew),
LockedMeanwhile, Changed (the item as stored, to decide again on without another read) or Full."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

from .. import events as event_names
from ..errors import AlreadyAttached, Conflict, LimitReached, NotFound, Unavailable, aws_unavailable
from ..lockout import Lockout
from ..model import (
    AccessPass,
    AppPassword,
    Device,
    Effects,
    Enrollment,
    Event,
    Proof,
    SmsChallenge,
    Standing,
    StoredPolicy,
    UserState,
)
from ..policy import LockoutSettings, SmsSettings
from ..retry import pauses
from . import codecs, guarantees
from .dynamo import ConditionFailed, Put, Transaction, Update, key, n, s, write
from .keys import (
    APP_PASSWORD,
    EVENT,
    SK_ACCESS_PASS,
    SK_APP_PASSWORD_THROTTLE,
    SK_DATA_KEY,
    SK_ENROLLMENT,
    SK_LOCKOUT,
    SK_MFA,
    SK_POLICY,
    SK_SMS,
    SK_TOTAL,
    STATE,
    STATS_DAY,
    STATS_SHARDS,
    USER_LIST,
    device_sk,
    failing_listing,
    stats_day_sk,
    stats_shard_pk,
    tenant_pk,
    user_listing,
    user_pk,
)
from .outcomes import Changed, Full, LockedMeanwhile, Stale

log = logging.getLogger(__name__)


def _day_counts(events: list[Event]) -> dict[str, int]:
    """What the day's counters gain from these events (events.COUNTED)."""
    counted: dict[str, int] = {}
    for recorded in events:
        name = event_names.COUNTED.get(recorded.event)
        if name is not None:
            counted[name] = counted.get(name, 0) + 1
    return counted


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

    def save_enrollment(
        self,
        tenant: str,
        user: str,
        pending: Enrollment,
        *,
        purge_at: int,
        event: Event,
        standing: Standing,
        replacing: bool,
    ) -> None:
        """Replace any pending enrollment with this one, unless an authenticator is attached (and this one is
        not to replace it). Raises AlreadyAttached, or Stale when the user's standing is not the one read."""
        pk = user_pk(tenant, user)
        tx = self._tx()
        mfa = tx.update(key(pk, SK_MFA))
        if not replacing:
            mfa.condition("attribute_not_exists(#auth_id)")
        guarantees.count_standing(tx, mfa, tenant, user, standing, standing._replace(listed=True))
        tx.put(codecs.enrollment_item(pk, pending, purge_at))
        tx.put(codecs.event_item(pk, event))
        cancelled = tx.run(self._db)
        if cancelled is None:
            return
        if not replacing and "auth_id" in (cancelled.item(mfa) or {}):
            raise AlreadyAttached()
        raise Stale()

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
        standing: Standing,
        now: float,
    ) -> None:
        """Accept `proof` once and apply `effects`, in one transaction that also ends the failure streak
        (unless the user is locked as stored), writes the audit events and counts them (the user's
        `standing` as read). Raises LockedMeanwhile or Stale."""
        pk = user_pk(tenant, user)
        tx = self._tx()
        mfa = tx.update(key(pk, SK_MFA))
        sms = tx.update(key(pk, SK_SMS))
        access = tx.update(key(pk, SK_ACCESS_PASS))
        guarantees.use_proof(mfa, sms, access, proof, now)
        guarantees.apply(tx, pk, mfa, access, effects, device_gen, now)
        day = _day_counts(events)
        if day.get("verified"):
            mfa.set("last_logon_at", n(now))
        guarantees.count_standing(tx, mfa, tenant, user, standing, effects.standing(standing))
        guarantees.count_events(tx, tenant, user, day, now)
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
        record.set(codecs.LISTED, s(failing_listing(tenant))).set(codecs.LISTED_AS, s(user))
        try:
            written = write(self._db, record, ReturnValues="ALL_NEW")
        except ConditionFailed as e:
            raise Changed(codecs.lockout(e.item)) from e
        return codecs.lockout(written["Attributes"])

    def record_events(self, tenant: str, user: str, events: list[Event], *, now: float) -> None:
        """The audit events of a failure, after its count, and their day's counts. If they can't be written
        the failure still stands (an outage must not give an attacker a guess that is not counted): the
        loss is logged."""
        pk = user_pk(tenant, user)
        try:
            tx = self._tx()
            for event in events:
                tx.put(codecs.event_item(pk, event))
            guarantees.count_events(tx, tenant, user, _day_counts(events), now)
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
        self, tenant: str, user: str, device: Device, *, device_gen: int, standing: Standing, now: float, event: Event
    ) -> bool:
        """Record a logon through a trusted device, and count it; False if the device was revoked meanwhile
        (deleted, or the generation bumped by a delete of the authenticator, a reset or "sign out
        everywhere"). Stale when only the user's standing changed since the read."""
        pk = user_pk(tenant, user)
        tx = self._tx()
        touched = tx.update(key(pk, device_sk(device.slot)))
        touched.condition("#device_id = :id", id=s(device.device_id))
        touched.set("last_used_at", n(now))
        mfa = tx.update(key(pk, SK_MFA))
        guarantees.same_generation(mfa, device_gen)
        mfa.set("last_logon_at", n(now))
        guarantees.count_standing(tx, mfa, tenant, user, standing, standing._replace(listed=True))
        guarantees.count_events(tx, tenant, user, {"verified": 1}, now)
        tx.put(codecs.event_item(pk, event))
        cancelled = tx.run(self._db)
        if cancelled is None:
            return True
        if cancelled.failed(touched) or codecs.device_gen(cancelled.item(mfa)) != device_gen:
            return False
        raise Stale()

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
        self,
        tenant: str,
        user: str,
        *,
        password_hash: str,
        password: AppPassword,
        limit: int,
        standing: Standing,
        event: Event,
    ) -> None:
        """Raises LimitReached when `limit` are stored, Stale when the user's standing is not the one read."""
        pk = user_pk(tenant, user)
        tx = self._tx()
        mfa = tx.update(key(pk, SK_MFA))
        cap = "attribute_not_exists(#app_passwords) OR #app_passwords < :limit"
        mfa.condition(cap, limit=n(limit))
        mfa.add("app_passwords", n(1))
        after = Standing(True, standing.authenticator, standing.phone, standing.app_passwords + 1)
        guarantees.count_standing(tx, mfa, tenant, user, standing, after)
        item = {**key(pk, APP_PASSWORD + password_hash), **codecs.app_password_attributes(password)}
        tx.put(item).condition("attribute_not_exists(#PK)")
        tx.put(codecs.event_item(pk, event))
        cancelled = tx.run(self._db)
        if cancelled is None:
            return
        if cancelled.failed(mfa) and codecs.app_password_count(cancelled.item(mfa)) >= limit:
            raise LimitReached(f"You can have at most {limit} third-party client security passwords.")
        raise Stale()

    def list_app_passwords(self, tenant: str, user: str) -> list[tuple[str, AppPassword]]:
        """(hash, password) for each of the user's app passwords, oldest first."""
        items = self._query_prefix(user_pk(tenant, user), APP_PASSWORD)
        found = [(i["SK"]["S"][len(APP_PASSWORD) :], codecs.app_password(i)) for i in items]
        return sorted(found, key=lambda pair: pair[1].created_at)

    def delete_app_password(
        self, tenant: str, user: str, password_hash: str, *, standing: Standing, event: Event
    ) -> None:
        """Raises NotFound when the password is gone, Stale when the user's standing is not the one read."""
        pk = user_pk(tenant, user)
        tx = self._tx()
        gone = tx.delete(key(pk, APP_PASSWORD + password_hash)).condition("attribute_exists(#PK)")
        mfa = tx.update(key(pk, SK_MFA)).add("app_passwords", n(-1))
        after = Standing(True, standing.authenticator, standing.phone, max(0, standing.app_passwords - 1))
        guarantees.count_standing(tx, mfa, tenant, user, standing, after)
        tx.put(codecs.event_item(pk, event))
        cancelled = tx.run(self._db)
        if cancelled is None:
            return
        if cancelled.failed(gone):
            raise NotFound("No such third-party client security password.")
        raise Stale()

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

    def reset(
        self, tenant: str, user: str, *, devices: tuple[Device, ...], standing: Standing, event: Event
    ) -> None:
        """Lost phone: remove the authenticator, its recovery codes, the pending enrollment, every trusted
        device and the lockout; keep the secure phone and the app passwords. Stale when the user's standing
        is not the one read."""
        pk = user_pk(tenant, user)
        tx = self._tx()
        mfa = tx.update(key(pk, SK_MFA)).remove(*codecs.AUTHENTICATOR_FIELDS, "recovery").add("device_gen", n(1))
        after = Standing(True, False, standing.phone, standing.app_passwords)
        guarantees.count_standing(tx, mfa, tenant, user, standing, after)
        for sk in (SK_LOCKOUT, SK_ENROLLMENT, *(device_sk(d.slot) for d in devices)):
            tx.delete(key(pk, sk))
        tx.put(codecs.event_item(pk, event))
        if tx.run(self._db) is not None:
            raise Stale()

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

    # --- temporary access passes -----------------------------------------------------------

    def issue_access_pass(self, tenant: str, user: str, issued: AccessPass, *, event: Event) -> None:
        """Store `issued` in place of any earlier pass (used or not), with its audit event."""
        pk = user_pk(tenant, user)
        tx = self._tx()
        tx.put(codecs.access_pass_item(pk, issued))
        tx.put(codecs.event_item(pk, event))
        tx.run(self._db)

    def delete_access_pass(self, tenant: str, user: str, *, event: Event) -> None:
        """Delete the stored pass, live or used: a logon it opened can attach nothing more."""
        pk = user_pk(tenant, user)
        tx = self._tx()
        tx.delete(key(pk, SK_ACCESS_PASS)).condition("attribute_exists(#PK)")
        tx.put(codecs.event_item(pk, event))
        if tx.run(self._db) is not None:
            raise NotFound("This user has no temporary access pass.")

    # --- the tenant at a glance -------------------------------------------------------------

    def read_counts(self, tenant: str, first_day: int) -> tuple[dict[str, int], dict[int, dict[str, int]]]:
        """The tenant's running totals, and its day counters from UTC day `first_day` on, summed over the
        shards: one Query a shard (its days and its totals sort next to each other)."""
        totals: dict[str, int] = {}
        days: dict[int, dict[str, int]] = {}
        for shard in range(STATS_SHARDS):
            request = dict(
                TableName=self._table,
                KeyConditionExpression="PK = :pk AND SK BETWEEN :first AND :total",
                ExpressionAttributeValues={
                    ":pk": s(stats_shard_pk(tenant, shard)),
                    ":first": s(stats_day_sk(first_day)),
                    ":total": s(SK_TOTAL),
                },
            )
            for item in self._pages(request):
                sk = item["SK"]["S"]
                into = totals if sk == SK_TOTAL else days.setdefault(int(sk[len(STATS_DAY) :]), {})
                for name, value in codecs.counts(item).items():
                    into[name] = into.get(name, 0) + value
        return totals, days

    def listed_users(self, tenant: str, *, after: str | None, page: int) -> Iterator[tuple[str, bool]]:
        """(user, whether a factor is attached) of each listed user, in user order from after `after`, read
        `page` at a time."""
        for item in self._listing(user_listing(tenant), SK_MFA, tenant, after, page):
            yield item[codecs.LISTED_AS]["S"], any(name in item for name in codecs.FACTOR_PRESENCE)

    def failing_users(self, tenant: str, *, after: str | None, page: int) -> Iterator[tuple[str, Lockout]]:
        """(user, lockout record) of each user with a failure stored, in user order from after `after`."""
        for item in self._listing(failing_listing(tenant), SK_LOCKOUT, tenant, after, page):
            yield item[codecs.LISTED_AS]["S"], codecs.lockout(item)

    def user_rows(self, tenant: str, users: list[str]) -> dict[str, tuple[dict, Lockout]]:
        """Each user's MFA item and lockout record, by BatchGetItem (100 keys a call)."""
        wanted = [key(user_pk(tenant, u), sk) for u in users for sk in (SK_MFA, SK_LOCKOUT)]
        found: dict[str, dict] = {}
        for start in range(0, len(wanted), 100):
            keys = wanted[start : start + 100]
            for _ in pauses():  # keys DynamoDB left unprocessed (throttled) are asked again after a pause
                with aws_unavailable():
                    answer = self._db.batch_get_item(RequestItems={self._table: {"Keys": keys}})
                for item in answer["Responses"].get(self._table, []):
                    found[item["PK"]["S"] + "|" + item["SK"]["S"]] = item
                keys = answer.get("UnprocessedKeys", {}).get(self._table, {}).get("Keys", [])
                if not keys:
                    break
            else:
                raise Unavailable()
        rows = {}
        for u in users:
            pk = user_pk(tenant, u)
            rows[u] = (found.get(f"{pk}|{SK_MFA}", {}), codecs.lockout(found.get(f"{pk}|{SK_LOCKOUT}")))
        return rows

    # --- helpers ----------------------------------------------------------------------------

    def _listing(self, listing: str, sk: str, tenant: str, after: str | None, page: int) -> Iterator[dict]:
        request = dict(
            TableName=self._table,
            IndexName=USER_LIST,
            KeyConditionExpression="#list_pk = :listing",
            ExpressionAttributeNames={"#list_pk": codecs.LISTED},
            ExpressionAttributeValues={":listing": s(listing)},
            Limit=page,
        )
        if after is not None:
            request["ExclusiveStartKey"] = {
                codecs.LISTED: s(listing),
                codecs.LISTED_AS: s(after),
                **key(user_pk(tenant, after), sk),
            }
        return self._pages(request)

    def _pages(self, request: dict) -> Iterator[dict]:
        """Every item a Query finds, page after page, read as they are consumed."""
        while True:
            with aws_unavailable():
                answer = self._db.query(**request)
            yield from answer["Items"]
            if "LastEvaluatedKey" not in answer:
                return
            request = {**request, "ExclusiveStartKey": answer["LastEvaluatedKey"]}


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
