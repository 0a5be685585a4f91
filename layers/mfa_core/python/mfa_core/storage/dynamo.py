"""The DynamoDB toolkit under Store: expression builders, a transaction that answers by handle, and the
retry of writes that lost to a concurrent one. No domain rule lives here.

Two kinds of "no" come back from a write, and they are handled apart:
- a condition that failed (ConditionalCheckFailed): the state is not what the write requires. The
  caller decides what that means (locked, replayed, stale read); the item as it was comes with it.
- a conflict (TransactionConflict): another write touched the same item at the same moment. Nothing
  is decided by it, so the same write is sent again after a jittered pause, within the budget."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from ..errors import Unavailable
from ..retry import pauses

T = TypeVar("T")
CONFLICTS = frozenset({"TransactionConflictException", "TransactionInProgressException"})


def key(pk: str, sk: str) -> dict:
    return {"PK": {"S": pk}, "SK": {"S": sk}}


def n(value: float) -> dict:
    return {"N": str(int(value))}


def s(value: str) -> dict:
    return {"S": value}


def error_code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


class ConditionFailed(Exception):
    """A single-item write's condition did not hold; `item` is the item as it was (None: no item)."""

    def __init__(self, item: dict | None) -> None:
        super().__init__()
        self.item = item


class Op:
    """One item's operation: its condition, names and values. Conditions from several concerns are
    ANDed, each with its own value names, because DynamoDB allows one operation per item per write."""

    def __init__(self, table: str, item_key: dict) -> None:
        self.table, self.key = table, item_key
        self._conditions: list[str] = []
        self._names: dict[str, str] = {}
        self._values: dict[str, dict] = {}

    def condition(self, expression: str, **values: dict) -> Op:
        """`expression` names attributes as #name and values as :name (given as keyword arguments)."""
        prefix = f"c{len(self._conditions)}_"
        self._names.update({f"#{a}": a for a in re.findall(r"#(\w+)", expression)})
        self._conditions.append("(" + re.sub(r":(\w+)", rf":{prefix}\1", expression) + ")")
        self._values.update({f":{prefix}{k}": v for k, v in values.items()})
        return self

    @property
    def conditional(self) -> bool:
        return bool(self._conditions)

    def _common(self) -> dict:
        request: dict = {"TableName": self.table}
        if self._conditions:
            request["ConditionExpression"] = " AND ".join(self._conditions)
            request["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        if self._names:
            request["ExpressionAttributeNames"] = dict(self._names)
        if self._values:
            request["ExpressionAttributeValues"] = dict(self._values)
        return request

    def _name(self, attr: str) -> str:
        self._names[f"#{attr}"] = attr
        return f"#{attr}"

    def _value(self, tag: str, value: dict) -> str:
        self._values[f":{tag}"] = value
        return f":{tag}"


class Update(Op):
    """SET / ADD / DELETE / REMOVE on one item; with nothing to change it is a ConditionCheck."""

    def __init__(self, table: str, item_key: dict) -> None:
        super().__init__(table, item_key)
        self._set: dict[str, dict] = {}
        self._add: dict[str, dict] = {}
        self._delete: dict[str, dict] = {}
        self._remove: set[str] = set()

    def set(self, attr: str, value: dict) -> Update:
        self._set[attr] = value
        return self

    def add(self, attr: str, value: dict) -> Update:
        self._add[attr] = value
        return self

    def delete(self, attr: str, value: dict) -> Update:
        self._delete[attr] = value
        return self

    def remove(self, *attrs: str) -> Update:
        self._remove.update(attrs)
        return self

    @property
    def changes(self) -> bool:
        return bool(self._set or self._add or self._delete or self._remove)

    @property
    def empty(self) -> bool:
        return not (self.changes or self.conditional)

    def request(self) -> dict:
        clauses = []
        for verb, pairs, joiner in (("SET", self._set, " = "), ("ADD", self._add, " "), ("DELETE", self._delete, " ")):
            # A removed attribute takes no other operation in the same expression.
            live = [(a, v) for a, v in pairs.items() if a not in self._remove]
            if live:
                clauses.append(
                    verb + " " + ", ".join(f"{self._name(a)}{joiner}{self._value('u_' + a, v)}" for a, v in live)
                )
        if self._remove:
            clauses.append("REMOVE " + ", ".join(self._name(a) for a in sorted(self._remove)))
        request = {"Key": self.key}
        if clauses:
            request["UpdateExpression"] = " ".join(clauses)
        return request | self._common()

    def transact_item(self) -> dict:
        return {"Update" if self.changes else "ConditionCheck": self.request()}


class Put(Op):
    def __init__(self, table: str, item: dict) -> None:
        super().__init__(table, {"PK": item["PK"], "SK": item["SK"]})
        self.item = item

    def request(self) -> dict:
        return {"Item": self.item} | self._common()

    def transact_item(self) -> dict:
        return {"Put": self.request()}


class Delete(Op):
    def request(self) -> dict:
        return {"Key": self.key} | self._common()

    def transact_item(self) -> dict:
        return {"Delete": self.request()}


class Cancelled:
    """A transaction that did not commit because a condition failed; asked by the handle of each
    operation, never by its position in the list."""

    def __init__(self, ops: list[Op], reasons: list[dict]) -> None:
        self._reasons = {id(op): reason for op, reason in zip(ops, reasons)}

    def failed(self, op: Op) -> bool:
        return self._reasons.get(id(op), {}).get("Code") == "ConditionalCheckFailed"

    def item(self, op: Op) -> dict | None:
        """The item as it was when `op`'s condition failed (None: there was none)."""
        return self._reasons.get(id(op), {}).get("Item")


class Transaction:
    """Operations on several items that commit together or not at all."""

    def __init__(self, table: str) -> None:
        self.table = table
        self._ops: list[Op] = []

    def update(self, item_key: dict) -> Update:
        return self._adding(Update(self.table, item_key))

    def put(self, item: dict) -> Put:
        return self._adding(Put(self.table, item))

    def delete(self, item_key: dict) -> Delete:
        return self._adding(Delete(self.table, item_key))

    def _adding(self, op: Op) -> Op:
        self._ops.append(op)
        return op

    def run(self, db) -> Cancelled | None:
        """Commit; None when it did, Cancelled when a condition failed. Conflicts are sent again; any
        other failure, or conflicts beyond the budget, is Unavailable."""
        ops = [op for op in self._ops if not (isinstance(op, Update) and op.empty)]
        items = [op.transact_item() for op in ops]

        def send() -> Cancelled | None:
            try:
                db.transact_write_items(TransactItems=items)
                return None
            except ClientError as e:
                if error_code(e) != "TransactionCanceledException":
                    raise
                reasons = e.response.get("CancellationReasons") or []
                if any(r.get("Code") == "ConditionalCheckFailed" for r in reasons):
                    return Cancelled(ops, reasons)
                if any(r.get("Code") == "TransactionConflict" for r in reasons):
                    raise _Conflict() from e
                raise

        return contended(send)


class _Conflict(Exception):
    pass


def contended(send: Callable[[], T]) -> T:
    """`send()` until it is not beaten by a concurrent write; cloud failures are Unavailable."""
    for _ in pauses():
        try:
            return send()
        except _Conflict:
            continue
        except ClientError as e:
            if error_code(e) not in CONFLICTS:
                raise Unavailable() from e
        except BotoCoreError as e:
            raise Unavailable() from e
    raise Unavailable()


def write(db, op: Update | Put | Delete, **extra) -> dict:
    """One single-item write (UpdateItem, PutItem or DeleteItem by the kind of `op`); raises
    ConditionFailed with the item as it was when its condition did not hold."""
    method = {Update: db.update_item, Put: db.put_item, Delete: db.delete_item}[type(op)]

    def send() -> dict:
        try:
            return method(**op.request(), **extra)
        except ClientError as e:
            if error_code(e) == "ConditionalCheckFailedException":
                raise ConditionFailed(e.response.get("Item")) from e
            raise

    return contended(send)
