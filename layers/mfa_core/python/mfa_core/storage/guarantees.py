"""Every guarantee as the condition of the write that acts on it, on the state as stored at write time,
never a version read earlier (API.md, "Guarantees under concurrency"). Store puts these into its writes.

- A failed code is one UpdateItem: `ADD fails 1` on condition "not locked". Concurrent UpdateItems on
  one item are applied one after another by DynamoDB and never cancel each other, so N failures at
  once count N. It is deliberately not a transaction: concurrent transactions on one item are
  cancelled (TransactionConflict), which under a flood of wrong codes would leave failures uncounted.
- Accepting a proof is a transaction: the proof's single use (a later TOTP step, a recovery-code or
  SMS hash still there), what it changes, the end of the failure streak (a Delete on condition "not
  locked as stored") and the audit events commit together or not at all.
- Caps are conditions on what they cap: 40 app passwords by a counter in the MFA item, 10 trusted
  devices by 10 slots (a new device takes a free slot or replaces exactly the device it read there).
- An SMS send is counted in one transaction on three items, each on condition that its limit holds as
  stored: the user's SMS record (one per 30 s, 10 a day), the day's counter of the number and the day's
  counter of the tenant (`ADD sent 1` while `sent < limit`). The tenant's counter is one hot item, but
  only for SMS, which are rare and cost money: sends that collide on it are sent again (TransactionConflict).
- Revocations bump what logons check: deleting the authenticator, a reset and "sign out everywhere"
  raise `device_gen`, which a device logon's write requires unchanged; a TOTP or recovery proof is bound
  to the authenticator's id and an SMS logon to the phone it was sent to. A temporary access pass is used
  once (its hash still there, unexpired, unused), and the window it opens is checked as stored by every
  attach it allows: an admin's delete of the pass ends it.
- The tenant's counts change in the write that changes what they count: the day's counters by the events
  of that write, the running totals by the user's standing (listed, authenticator, phone) as read, which
  the write then requires unchanged, so two writes racing never count one change twice or not at all."""

from __future__ import annotations

from ..limits import ACCESS_PASS_ATTACH_SECONDS, STATS_DAYS
from ..lockout import DAY, Lockout
from ..model import Effects, Proof, SmsChallenge, Standing
from ..policy import LockoutSettings, SmsSettings
from .codecs import AUTHENTICATOR_FIELDS, LISTED, LISTED_AS, authenticator_attributes, device_item
from .dynamo import Delete, Transaction, Update, key, n, s
from .keys import (
    SK_ENROLLMENT,
    SK_LOCKOUT,
    SK_TOTAL,
    TTL_ATTRIBUTE,
    sms_day_sk,
    sms_number_day_sk,
    stats_day_sk,
    stats_pk,
    tenant_pk,
    user_listing,
)


def round_over(seen: Lockout, rules: LockoutSettings, now: float) -> tuple[str, dict]:
    """The condition "the round `seen` belongs to is over, as stored": a day without failures, or the
    lock of `seen`'s level served (the level is in the condition: a later round locks for longer)."""
    return (
        "#last_fail_at <= :day_ago OR (#lock_level = :level AND #last_fail_at <= :served)",
        {"day_ago": n(int(now) - DAY), "level": n(seen.level), "served": n(int(now) - seen.lock_seconds(rules))},
    )


def count_failure(record: Update, seen: Lockout, rules: LockoutSettings, now: float) -> None:
    """One more failure on the lockout record, on condition that the user is not locked as stored: add
    one to the round in progress, or start a new round when the one `seen` is over."""
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
        over, values = round_over(seen, rules, now)
        record.condition(over, **values)
        record.set("fails", n(1))
        record.set("lock_level", n(restart.level))
    record.set("last_fail_at", n(now))
    record.set(TTL_ATTRIBUTE, n(now + DAY))


def end_streak(tx: Transaction, pk: str, seen: Lockout, rules: LockoutSettings, now: float) -> Delete:
    """A success ends the failure streak, on condition that the user is not locked as stored: a failure
    that locked the user after our read wins over our success."""
    end = tx.delete(key(pk, SK_LOCKOUT))
    over, values = round_over(seen, rules, now)
    end.condition(f"attribute_not_exists(#fails) OR #fails < :max OR ({over})", max=n(rules.max_failures), **values)
    return end


def same_generation(mfa: Update, device_gen: int) -> None:
    """No delete of the authenticator, reset or "sign out everywhere" since the read."""
    mfa.condition("attribute_not_exists(#device_gen) OR #device_gen = :gen", gen=n(device_gen))


def use_proof(mfa: Update, sms: Update, access: Update, proof: Proof, now: float) -> None:
    """Accept `proof` once: the condition that it still holds, and the change that uses it up."""
    if proof.step is not None:
        mfa.condition(
            "#auth_id = :auth_id AND (attribute_not_exists(#last_step) OR #last_step < :step)",
            auth_id=s(proof.auth_id),
            step=n(proof.step),
        )
        mfa.set("last_step", n(proof.step))
    if proof.recovery_hash is not None:
        mfa.condition(
            "#auth_id = :auth_id AND contains(#recovery, :hash)", auth_id=s(proof.auth_id), hash=s(proof.recovery_hash)
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
    if proof.pass_hash is not None:
        access.condition(
            "#pass_hash = :hash AND #expires_at > :now AND attribute_not_exists(#used_at)",
            hash=s(proof.pass_hash),
            now=n(now),
        )
        attach_until = int(now) + ACCESS_PASS_ATTACH_SECONDS
        access.set("used_at", n(now)).set("attach_until", n(attach_until)).set(TTL_ATTRIBUTE, n(attach_until + DAY))


def apply(tx: Transaction, pk: str, mfa: Update, access: Update, effects: Effects, device_gen: int, now: float) -> None:
    """Apply `effects`, each on the condition that makes it safe on the state as stored."""
    if effects.attach_window:
        access.condition("#attach_until > :now", now=n(now))
    if effects.attach is not None:
        tx.delete(key(pk, SK_ENROLLMENT)).condition("#enrollment_id = :id", id=s(effects.enrollment_id))
        if effects.replaces_auth is None:
            mfa.condition("attribute_not_exists(#auth_id)")
        else:
            # The lost authenticator goes, and with it every device trusted by its codes.
            mfa.condition("#auth_id = :old", old=s(effects.replaces_auth))
            mfa.add("device_gen", n(1))
        for name, value in authenticator_attributes(effects.attach).items():
            mfa.set(name, value)
    if effects.detach:
        mfa.remove(*AUTHENTICATOR_FIELDS, "recovery")
        mfa.add("device_gen", n(1))
    if effects.recovery is not None:
        mfa.set("recovery", {"SS": list(effects.recovery)})
    if effects.attach_phone is not None:
        if effects.replaces_phone is None:
            mfa.condition("attribute_not_exists(#phone_number)")
        else:
            mfa.condition(
                "#phone_number = :old_number AND #phone_attached_at = :old_at",
                old_number=s(effects.replaces_phone.number),
                old_at=n(effects.replaces_phone.attached_at),
            )
        mfa.set("phone_number", s(effects.attach_phone))
        mfa.set("phone_attached_at", n(now))
    if effects.only_factor:
        mfa.condition("attribute_not_exists(#auth_id) AND attribute_not_exists(#phone_number)")
    if effects.remove_phone:
        mfa.condition("attribute_exists(#phone_number)")
        mfa.remove("phone_number", "phone_attached_at")
    if effects.device is not None:
        # Bound to the generation read: if the authenticator was deleted or the user reset meanwhile
        # (generation bumped), trusting it fails instead of outliving the reset.
        same_generation(mfa, device_gen)
        put = tx.put(device_item(pk, effects.device))
        if effects.replaces is None:
            put.condition("attribute_not_exists(#token_hash)")
        else:
            put.condition("#device_id = :old", old=s(effects.replaces))


def count_standing(tx: Transaction, mfa: Update, tenant: str, user: str, before: Standing, after: Standing) -> None:
    """Count the change of the user's standing from `before` (as read) to `after` on the running totals of
    the user's shard, on condition that the standing is still `before`. A user not listed yet is listed
    now, with all it adds (users written before the index existed join the totals on their next write)."""
    change = before.change_to(after)
    if not change:
        return
    mfa.condition("attribute_exists(#list_pk)" if before.listed else "attribute_not_exists(#list_pk)")
    mfa.condition("attribute_exists(#auth_id)" if before.authenticator else "attribute_not_exists(#auth_id)")
    mfa.condition("attribute_exists(#phone_number)" if before.phone else "attribute_not_exists(#phone_number)")
    if not before.listed:
        if before.app_passwords:
            mfa.condition("#app_passwords = :count", count=n(before.app_passwords))
        else:
            mfa.condition("attribute_not_exists(#app_passwords) OR #app_passwords = :none", none=n(0))
        mfa.set(LISTED, s(user_listing(tenant))).set(LISTED_AS, s(user))
    totals = tx.update(key(stats_pk(tenant, user), SK_TOTAL))
    for name, delta in sorted(change.items()):
        totals.add(name, n(delta))


def count_events(tx: Transaction, tenant: str, user: str, day: dict[str, int], now: float) -> None:
    """Add the day's counts of this write's events (verified, failed, locked, attached) to the user's shard."""
    counted = {name: value for name, value in day.items() if value}
    if not counted:
        return
    today = int(now) // DAY
    counters = tx.update(key(stats_pk(tenant, user), stats_day_sk(today)))
    for name, value in sorted(counted.items()):
        counters.add(name, n(value))
    counters.set(TTL_ATTRIBUTE, n((today + STATS_DAYS + 1) * DAY))


def send_sms(update: Update, seen: SmsChallenge | None, now: float, *, min_gap: int, per_day: int) -> None:
    """Count one SMS send on condition that the user's limits hold as stored (one per `min_gap` s, `per_day`
    a UTC day) on the record `seen` itself: two sends racing get one slot, and what a send replaces is
    exactly `seen`, which a send that failed puts back (a transaction hands back no old item)."""
    today = int(now) // DAY
    if seen is None:
        update.condition("attribute_not_exists(#last_sent_at)")
    else:
        update.condition(
            "#last_sent_at = :seen_at AND #last_sent_at <= :gap_start",
            seen_at=n(seen.last_sent_at),
            gap_start=n(now - min_gap),
        )
        # Using the code (removing it) is the one change to the record that is not a send: a code used
        # since the read must not come back with the undo of a failed send.
        if seen.code_hash is None:
            update.condition("attribute_not_exists(#code_hash)")
        else:
            update.condition("#code_hash = :seen_hash", seen_hash=s(seen.code_hash))
    if seen is not None and seen.day == today:
        update.condition("#day = :today AND #day_count < :per_day", today=n(today), per_day=n(per_day))
        update.add("day_count", n(1))
    else:
        if seen is not None:
            update.condition("#day <> :today", today=n(today))
        update.set("day", n(today))
        update.set("day_count", n(1))


def count_sms_send(tx: Transaction, tenant: str, sent: SmsChallenge, limits: SmsSettings) -> None:
    """One more SMS on the day's counters of the number and of the tenant, each on condition that fewer
    than its limit were counted, as stored. Each day counts on items of its own: no day to compare."""
    number, whole_tenant = _sms_day_counters(tx, tenant, sent)
    for counter, limit in ((number, limits.per_number_per_day), (whole_tenant, limits.per_tenant_per_day)):
        counter.condition("attribute_not_exists(#sent) OR #sent < :limit", limit=n(limit))
        counter.add("sent", n(1))


def give_back_sms_send(tx: Transaction, tenant: str, sent: SmsChallenge) -> None:
    """The unit of a send that never left (SNS failed), back to the day's counters."""
    for counter in _sms_day_counters(tx, tenant, sent):
        counter.add("sent", n(-1))


def _sms_day_counters(tx: Transaction, tenant: str, sent: SmsChallenge) -> tuple[Update, Update]:
    pk = tenant_pk(tenant)
    counters = tx.update(key(pk, sms_number_day_sk(sent.day, sent.number))), tx.update(key(pk, sms_day_sk(sent.day)))
    for counter in counters:
        counter.set(TTL_ATTRIBUTE, n((sent.day + 2) * DAY))  # a day after the day ends: nothing counts on it then
    return counters


def under_throttle(throttle: Update, minute: int, limit: int) -> None:
    """Fewer than `limit` failures counted in this minute, as stored."""
    throttle.condition(
        "attribute_not_exists(#minute) OR #minute <> :minute OR #fails < :limit", minute=n(minute), limit=n(limit)
    )


def throttle_failure(table: str, item_key: dict, minute: int, limit: int, purge_at: float) -> tuple[Update, Update]:
    """The two ways to count one more failure within the limit: in this minute, or as the first of a
    new one. Which applies is what the stored item says, so each is conditioned on it."""
    same_minute = Update(table, item_key)
    same_minute.condition("#minute = :minute AND #fails < :limit", minute=n(minute), limit=n(limit))
    same_minute.add("fails", n(1))
    new_minute = Update(table, item_key)
    new_minute.condition("attribute_not_exists(#minute) OR #minute <> :minute", minute=n(minute))
    new_minute.set("fails", n(1))
    new_minute.set("minute", n(minute))
    new_minute.set(TTL_ATTRIBUTE, n(purge_at))
    return same_minute, new_minute
