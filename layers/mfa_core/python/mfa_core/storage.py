"""DynamoDB adapter: one table, low-level client, every state change one conditional write.

Layout (PK / SK):
  T#<tenant>            POLICY               the tenant's policy (JSON) and its version
  T#<tenant>            DATAKEY              the tenant's KMS data key, encrypted by KMS
  T#<tenant>#U#<user>   STATE#MFA            attached authenticator, recovery-code hashes, device generation
  T#<tenant>#U#<user>   STATE#LOCKOUT        failed-code counter (TTL: a day after the last failure)
  T#<tenant>#U#<user>   STATE#ENROLLMENT     the pending enrollment (TTL)

Everything a code check needs is under the user's STATE# prefix, so it is one consistent Query, and
the check's outcome is one conditional write. TTL deletes late (up to days; moto never does), so
every expiry is also checked in code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError

from .errors import AlreadyAttached, Conflict, Locked, Unavailable, aws_unavailable
from .lockout import DAY, Lockout
from .policy import LockoutSettings

STATE = "STATE#"
SK_MFA = "STATE#MFA"
SK_LOCKOUT = "STATE#LOCKOUT"
SK_ENROLLMENT = "STATE#ENROLLMENT"
SK_POLICY = "POLICY"
SK_DATA_KEY = "DATAKEY"
TTL_ATTRIBUTE = "purge_at"
AUTHENTICATOR_FIELDS = ("auth_id", "secret", "algorithm", "digits", "period", "label", "attached_at", "last_step")
TRANSACTION_ATTEMPTS = 3
FAILURE_ATTEMPTS = 5


class CodeAlreadyUsed(Exception):
    """The step was accepted by another request first, or the authenticator/enrollment changed meanwhile."""


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
class UserState:
    authenticator: Authenticator | None
    recovery: frozenset[str]  # keyed hashes of the unused recovery codes
    device_gen: int
    lockout: Lockout  # as stored: may be a streak that ended (TTL deletes late); Lockout handles that
    enrollment: Enrollment | None


@dataclass(frozen=True)
class StoredPolicy:
    doc: dict
    version: int
    two_factor_since: int | None


def tenant_pk(tenant: str) -> str:
    return f"T#{tenant}"


def user_pk(tenant: str, user: str) -> str:
    return f"T#{tenant}#U#{user}"


def _key(pk: str, sk: str) -> dict:
    return {"PK": {"S": pk}, "SK": {"S": sk}}


def _n(value: int) -> dict:
    return {"N": str(int(value))}


def _int(item: dict, name: str, default: int = 0) -> int:
    return int(item[name]["N"]) if name in item else default


def _code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


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
        since = _int(item, "two_factor_since") if "two_factor_since" in item else None
        return StoredPolicy(json.loads(item["doc"]["S"]), _int(item, "version"), since)

    def save_policy(
        self, tenant: str, doc: dict, *, expected_version: int | None, two_factor_on: bool, now: float
    ) -> StoredPolicy:
        """Save a policy; with `expected_version`, only if the stored one still has it (else Conflict)."""
        values = {":doc": {"S": json.dumps(doc, sort_keys=True)}}
        names = {"#doc": "doc", "#version": "version", "#since": "two_factor_since"}
        if expected_version is None:
            update, condition = "SET #doc = :doc ADD #version :one", None
            values[":one"] = _n(1)
        else:
            update = "SET #doc = :doc, #version = :next"
            values[":next"] = _n(expected_version + 1)
            values[":expected"] = _n(expected_version)
            condition = "#version = :expected"
            if expected_version == 0:
                condition = "attribute_not_exists(#version) OR #version = :expected"
        if two_factor_on:
            # Kept across saves while two-factor stays on: the grace period counts from the switch.
            update = update.replace("SET ", "SET #since = if_not_exists(#since, :now), ", 1)
            values[":now"] = _n(now)
        else:
            update += " REMOVE #since"
        request = dict(
            TableName=self._table,
            Key=_key(tenant_pk(tenant), SK_POLICY),
            UpdateExpression=update,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
        )
        if condition:
            request["ConditionExpression"] = condition
        with aws_unavailable():
            try:
                item = self._db.update_item(**request)["Attributes"]
            except ClientError as e:
                if _code(e) == "ConditionalCheckFailedException":
                    raise Conflict() from e
                raise
        since = _int(item, "two_factor_since") if "two_factor_since" in item else None
        return StoredPolicy(doc, _int(item, "version"), since)

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

    # --- user partition ---------------------------------------------------------------------

    def load_user(self, tenant: str, user: str) -> UserState:
        """Everything a code check needs, in one consistent read."""
        with aws_unavailable():
            items = self._db.query(
                TableName=self._table,
                KeyConditionExpression="PK = :pk AND begins_with(SK, :state)",
                ExpressionAttributeValues={":pk": {"S": user_pk(tenant, user)}, ":state": {"S": STATE}},
                ConsistentRead=True,
            )["Items"]
        by_sk = {item["SK"]["S"]: item for item in items}
        mfa = by_sk.get(SK_MFA, {})
        return UserState(
            authenticator=_authenticator(mfa),
            recovery=frozenset(mfa.get("recovery", {}).get("SS", ())),
            device_gen=_int(mfa, "device_gen"),
            lockout=_lockout(by_sk.get(SK_LOCKOUT)),
            enrollment=_enrollment(by_sk.get(SK_ENROLLMENT)),
        )

    def save_enrollment(self, tenant: str, user: str, enrollment: Enrollment, *, purge_at: int) -> None:
        """Replace any pending enrollment with this one, unless an authenticator is attached."""
        pk = user_pk(tenant, user)
        item = {
            **_key(pk, SK_ENROLLMENT),
            "enrollment_id": {"S": enrollment.enrollment_id},
            "secret": {"B": enrollment.secret},
            "algorithm": {"S": enrollment.algorithm},
            "digits": _n(enrollment.digits),
            "period": _n(enrollment.period),
            "label": {"S": enrollment.label},
            "expires_at": _n(enrollment.expires_at),
            TTL_ATTRIBUTE: _n(purge_at),
        }
        reasons = self._transact(
            [
                {
                    "ConditionCheck": {
                        "TableName": self._table,
                        "Key": _key(pk, SK_MFA),
                        "ConditionExpression": "attribute_not_exists(auth_id)",
                    }
                },
                {"Put": {"TableName": self._table, "Item": item}},
            ]
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
    ) -> None:
        """Turn the pending enrollment into the attached authenticator, consuming the confirm code's step."""
        pk = user_pk(tenant, user)
        values = {
            ":auth_id": {"S": authenticator.auth_id},
            ":secret": {"B": authenticator.secret},
            ":algorithm": {"S": authenticator.algorithm},
            ":digits": _n(authenticator.digits),
            ":period": _n(authenticator.period),
            ":label": {"S": authenticator.label},
            ":attached_at": _n(authenticator.attached_at),
            ":last_step": _n(authenticator.last_step),
            ":recovery": {"SS": recovery},
        }
        names = {f"#{f}": f for f in AUTHENTICATOR_FIELDS} | {"#recovery": "recovery"}
        update = "SET " + ", ".join(f"#{f} = :{f}" for f in AUTHENTICATOR_FIELDS) + ", #recovery = :recovery"
        reasons = self._transact(
            [
                {
                    "Delete": {
                        "TableName": self._table,
                        "Key": _key(pk, SK_ENROLLMENT),
                        "ConditionExpression": "enrollment_id = :id",
                        "ExpressionAttributeValues": {":id": {"S": enrollment_id}},
                    }
                },
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": _key(pk, SK_MFA),
                        "UpdateExpression": update,
                        "ConditionExpression": "attribute_not_exists(#auth_id)",
                        "ExpressionAttributeNames": names,
                        "ExpressionAttributeValues": values,
                    }
                },
                self._lockout_reset(pk, seen, rules),
            ]
        )
        self._raise_for(reasons, lockout_index=2)

    def consume_proof(
        self,
        tenant: str,
        user: str,
        *,
        auth_id: str,
        seen: Lockout,
        rules: LockoutSettings,
        step: int | None = None,
        recovery_hash: str | None = None,
        detach: bool = False,
    ) -> None:
        """Accept one proof once, in one write: a TOTP `step` later than any accepted step, or an unused
        `recovery_hash`; the authenticator must still be the one read, and no lock engaged meanwhile.
        With `detach`, the same write removes the authenticator, its recovery codes, and (by the
        generation bump) every trusted device."""
        pk = user_pk(tenant, user)
        names = {"#auth_id": "auth_id"}
        values = {":auth_id": {"S": auth_id}}
        if step is not None:
            names["#last_step"] = "last_step"
            values[":step"] = _n(step)
            condition = "#auth_id = :auth_id AND (attribute_not_exists(#last_step) OR #last_step < :step)"
            update = "SET #last_step = :step"
        else:
            names["#recovery"] = "recovery"
            values[":hash"] = {"S": recovery_hash}
            values[":hashes"] = {"SS": [recovery_hash]}
            condition = "#auth_id = :auth_id AND contains(#recovery, :hash)"
            update = "DELETE #recovery :hashes"
        if detach:
            names |= {f"#{f}": f for f in AUTHENTICATOR_FIELDS} | {"#recovery": "recovery", "#gen": "device_gen"}
            update = "REMOVE " + ", ".join(f"#{f}" for f in AUTHENTICATOR_FIELDS) + ", #recovery ADD #gen :one"
            values = {k: v for k, v in values.items() if k != ":hashes"} | {":one": _n(1)}
        reasons = self._transact(
            [
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": _key(pk, SK_MFA),
                        "UpdateExpression": update,
                        "ConditionExpression": condition,
                        "ExpressionAttributeNames": names,
                        "ExpressionAttributeValues": values,
                    }
                },
                self._lockout_reset(pk, seen, rules),
            ]
        )
        self._raise_for(reasons, lockout_index=1)

    def record_failure(self, tenant: str, user: str, *, seen: Lockout, rules: LockoutSettings, now: float) -> Lockout:
        """Count one failed code atomically and return the record after it.

        Concurrent failures each add one (ADD is atomic, and the condition stops counting at the limit);
        a round that is over (lock served, or a day without failures) is restarted by exactly one request.
        Raises Locked when the user is locked."""
        key = _key(user_pk(tenant, user), SK_LOCKOUT)
        for _ in range(FAILURE_ATTEMPTS):
            retry_after = seen.retry_after(rules, now)
            if retry_after is not None:
                raise Locked(retry_after)
            restart = seen.restart(rules, now)
            names = {"#fails": "fails", "#level": "lock_level", "#last": "last_fail_at", "#purge": TTL_ATTRIBUTE}
            values = {":now": _n(now), ":purge": _n(now + DAY)}
            if restart is not None:
                update = "SET #fails = :one, #level = :level, #last = :now, #purge = :purge"
                condition = "#fails = :seen_fails AND #last = :seen_last"
                values |= {
                    ":one": _n(1),
                    ":level": _n(restart.level),
                    ":seen_fails": _n(seen.fails),
                    ":seen_last": _n(seen.last_fail_at),
                }
            else:
                update = "ADD #fails :one SET #last = :now, #purge = :purge, #level = if_not_exists(#level, :zero)"
                condition = "attribute_not_exists(#fails) OR (#fails < :max AND #last > :streak_start)"
                values |= {
                    ":one": _n(1),
                    ":zero": _n(0),
                    ":max": _n(rules.max_failures),
                    ":streak_start": _n(now - DAY),
                }
            with aws_unavailable():
                try:
                    item = self._db.update_item(
                        TableName=self._table,
                        Key=key,
                        UpdateExpression=update,
                        ConditionExpression=condition,
                        ExpressionAttributeNames=names,
                        ExpressionAttributeValues=values,
                        ReturnValues="ALL_NEW",
                        ReturnValuesOnConditionCheckFailure="ALL_OLD",
                    )["Attributes"]
                except ClientError as e:
                    if _code(e) != "ConditionalCheckFailedException":
                        raise
                    seen = _lockout(e.response.get("Item"))
                    continue
            return _lockout(item)
        raise Unavailable()

    # --- helpers ----------------------------------------------------------------------------

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
    def _raise_for(reasons: list[dict] | None, *, lockout_index: int) -> None:
        if reasons is None:
            return
        lock_reason = reasons[lockout_index] if lockout_index < len(reasons) else {}
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
