"""What every in-process benchmark needs: the environment, moto, the Chalice test client, tokens, a clock,
and a meter that counts and times every AWS call through botocore's event hooks.

The service is driven only through its HTTP routes (and `runtime` for the injected clock and a new
container), so the benchmark measures the real code path and keeps working while the core changes."""

from __future__ import annotations

import collections
import json
import math
import os
import statistics
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_SECRET = "bench-only-secret-" + "0123456789abcdef" * 2  # >= 32 bytes: no PyJWT key-length warning
T0 = 1_800_000_000.0  # the injected clock's start (2027-01-15); moved by hand, 30 s per TOTP step
ENV = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_SESSION_TOKEN": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "MFA_TABLE": "mfa",
    "MFA_KMS_KEY_ID": "alias/mfa",
    # A deployed stage's configuration, not the dev mode: no dev routes, a real HS256 secret.
    "MFA_JWT_SECRET": BENCH_SECRET,
}
UNSET = (
    "AWS_ENDPOINT_URL",
    "AWS_PROFILE",
    "MFA_DEV_MODE",
    "MFA_JWT_PUBLIC_KEY",
    "MFA_SIGNING_KEY_ARN",
    "MFA_TENANT",
    "MFA_TOPIC_ARN",
)
TENANT = "demo"


def prepare_environment() -> None:
    """Fake credentials and a deployed stage's settings, before anything creates a boto3 client."""
    os.environ.update(ENV)
    for name in UNSET:
        os.environ.pop(name, None)


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class AwsCall:
    service: str
    operation: str
    params: dict
    parsed: dict | None = None
    seconds: float = 0.0
    cpu_seconds: float = 0.0


@dataclass
class Meter:
    """Every AWS call made by clients of boto3's default session: counted, timed and recorded.

    The time of a call runs from botocore's first event (`provide-client-params`, before the request is
    built) to `after-call` / `after-call-error`, so it covers serialising, signing, sending (here: moto
    doing the work in-process) and parsing. What the request took beyond that is our own time."""

    calls: list[AwsCall] = field(default_factory=list)
    _started: float = 0.0
    _started_cpu: float = 0.0
    _pending: AwsCall | None = None

    def install(self, events) -> None:
        events.register("provide-client-params", self._start)
        events.register("after-call", self._stop)
        events.register("after-call-error", self._stop)

    def _start(self, model, params, **_):
        self._pending = AwsCall(model.service_model.service_name, model.name, params)
        self._started_cpu = time.thread_time()
        self._started = time.perf_counter()

    def _stop(self, model=None, parsed=None, **_):
        if self._pending is None:
            return
        self._pending.seconds = time.perf_counter() - self._started
        self._pending.cpu_seconds = time.thread_time() - self._started_cpu
        self._pending.parsed = parsed
        self.calls.append(self._pending)
        self._pending = None

    def take(self) -> list[AwsCall]:
        taken, self.calls = self.calls, []
        return taken

    @staticmethod
    def counts(calls: list[AwsCall]) -> dict:
        """{"dynamodb": n, "kms": n, "sns": n, "operations": {"dynamodb:Query": n, ...}}"""
        by_service = collections.Counter(c.service for c in calls)
        ops = collections.Counter(f"{c.service}:{c.operation}" for c in calls)
        return {
            "dynamodb": by_service.get("dynamodb", 0),
            "kms": by_service.get("kms", 0),
            "sns": by_service.get("sns", 0),
            **{s: n for s, n in by_service.items() if s not in ("dynamodb", "kms", "sns")},
            "operations": dict(sorted(ops.items())),
        }


def token(user: str, scope: str, *, now: float, tenant: str = TENANT) -> str:
    import jwt

    issued = int(now)
    claims = {"sub": user, "tenant": tenant, "scope": scope, "aud": "mfa", "iat": issued, "exp": issued + 3600}
    return jwt.encode(claims, BENCH_SECRET, algorithm="HS256")


def totp_code(otpauth_uri: str, now: float) -> str:
    """What the authenticator app shows at `now` for an enrollment's URI (pyotp, independent of our code)."""
    import pyotp

    totp = pyotp.parse_uri(otpauth_uri)
    return totp.at(int(now))


@dataclass
class Response:
    status: int
    json: dict | list | None
    seconds: float
    cpu_seconds: float  # this thread's CPU time: what the request cost, whatever else the machine runs
    aws: list[AwsCall]

    @property
    def aws_seconds(self) -> float:
        return sum(c.seconds for c in self.aws)

    @property
    def aws_cpu_seconds(self) -> float:
        return sum(c.cpu_seconds for c in self.aws)


class Stack:
    """The app in-process behind Chalice's test client, moto's DynamoDB and KMS, an injected clock."""

    def __init__(self, app, client, meter: Meter, clock: Clock) -> None:
        self.app = app
        self.client = client
        self.meter = meter
        self.clock = clock

    def has_route(self, path: str, method: str) -> bool:
        route = self.app.routes.get(path)
        return route is not None and method in route

    def call(self, method: str, path: str, body=None, *, user="alice@example.com", scope="mfa:settings") -> Response:
        headers = {
            "Content-Type": "application/json",
            "Authorization": f"Bearer {token(user, scope, now=self.clock.now)}",
        }
        data = b"" if body is None else json.dumps(body).encode()
        self.meter.take()
        started_cpu = time.thread_time()
        started = time.perf_counter()
        raw = self.client.http.request(method, path, headers=headers, body=data)
        elapsed = time.perf_counter() - started
        cpu = time.thread_time() - started_cpu
        parsed = json.loads(raw.body) if raw.body else None
        return Response(raw.status_code, parsed, elapsed, cpu, self.meter.take())

    def forget_users(self, users: list[str], tenant: str = TENANT) -> None:
        """Delete everything stored under these users, outside the meter.

        Keeps moto's table small: moto copies the whole table for every item of a transaction (to roll
        back), so its time grows with the table, while DynamoDB's does not."""
        import boto3

        from mfa_core.storage.keys import user_pk

        raw = boto3.session.Session().client("dynamodb")
        table = os.environ["MFA_TABLE"]
        for user in users:
            keys, start = [], None
            while True:
                page = raw.query(
                    TableName=table,
                    KeyConditionExpression="PK = :pk",
                    ExpressionAttributeValues={":pk": {"S": user_pk(tenant, user)}},
                    ProjectionExpression="PK, SK",
                    **({"ExclusiveStartKey": start} if start else {}),
                )
                keys += page["Items"]
                start = page.get("LastEvaluatedKey")
                if not start:
                    break
            for i in range(0, len(keys), 25):
                batch = [{"DeleteRequest": {"Key": k}} for k in keys[i : i + 25]]
                raw.batch_write_item(RequestItems={table: batch})

    def new_container(self) -> None:
        """Forget what a warm container keeps (clients, data keys, cached policies), as a cold start does."""
        from mfa_core import runtime

        runtime.reset()
        runtime.current().clock = self.clock


@contextmanager
def stack():
    """A fresh moto account with the table and key, the app, and a meter on every boto3 client; with
    DYNAMODB=local the table is on a DynamoDB Local of its own (KMS and SNS stay on moto)."""
    prepare_environment()
    import boto3
    from chalice.test import Client
    from moto import mock_aws

    from infra import resources
    from infra.local import contract_gateway_class
    from infra.resources import create_key, create_table
    from mfa_core import runtime

    jar = None
    if os.environ.get("DYNAMODB") == "local":  # `make bench DYNAMODB=local`: the table on DynamoDB Local
        from infra.dynamodb_local import start, use

        jar = start()
        use(jar)
    with mock_aws():
        # moto swaps boto3's default session per scope: hook the one the service's clients will come from.
        boto3.setup_default_session()
        meter = Meter()
        meter.install(boto3.DEFAULT_SESSION.events)
        create_table(boto3.client("dynamodb"), os.environ["MFA_TABLE"])
        create_key(boto3.client("kms"))
        if hasattr(resources, "create_topic"):  # notifications (issue 3): counted as SNS calls once they exist
            os.environ["MFA_TOPIC_ARN"] = resources.create_topic(boto3.client("sns"))
        os.environ["MFA_SIGNING_KEY_ARN"] = resources.create_signing_key(boto3.client("secretsmanager"))
        runtime.reset()
        clock = Clock()
        runtime.current().clock = clock
        from app import app

        with Client(app, stage_name="dev", project_dir=str(ROOT)) as client:
            # Unknown routes answer the contract's 404, as the deployed API Gateway does.
            client.http._local_gateway = contract_gateway_class()(app, client.http._config)
            meter.take()
            try:
                yield Stack(app, client, meter, clock)
            finally:
                if jar is not None:
                    jar.stop()
                    os.environ.pop("AWS_ENDPOINT_URL_DYNAMODB", None)
        runtime.reset()


def percentiles(samples_ms: list[float]) -> dict:
    cuts = statistics.quantiles(samples_ms, n=100, method="inclusive")
    return {"p50": round(cuts[49], 2), "p90": round(cuts[89], 2), "p99": round(cuts[98], 2)}


# --- DynamoDB capacity: what a call is billed, from the items it read and wrote ----------------------


def attribute_size(value: dict) -> int:
    """DynamoDB's size of one attribute value (bytes), after the developer guide's item-size rules."""
    (kind, v), = value.items()
    if kind == "S":
        return len(v.encode())
    if kind == "B":
        return len(v)
    if kind == "N":
        digits = v.lstrip("-").replace(".", "").strip("0") or "0"
        return math.ceil(len(digits) / 2) + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in v)
    if kind == "NS":
        return sum(attribute_size({"N": n}) for n in v)
    if kind == "BS":
        return sum(len(b) for b in v)
    if kind == "L":
        return 3 + sum(1 + attribute_size(x) for x in v)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + attribute_size(x) for k, x in v.items())
    raise ValueError(kind)


def item_size(item: dict | None) -> int:
    return sum(len(name.encode()) + attribute_size(value) for name, value in (item or {}).items())


def index_write(kind: str, request: dict, lookup) -> int:
    """The UserList index's write unit for a write of an item the index holds, when it sets the index's keys or
    the attributes projected into it (a write of other attributes costs the index nothing). A delete is seen
    after the fact, when the item is gone: its index unit is not counted."""
    from infra.resources import USER_LIST_INDEX

    indexed = {k["AttributeName"] for k in USER_LIST_INDEX["KeySchema"]}
    indexed |= set(USER_LIST_INDEX["Projection"]["NonKeyAttributes"])
    item = request.get("Item") or lookup(request["Key"]) or {}
    if "list_pk" not in item:
        return 0
    if kind in ("Put", "PutItem"):
        return 1
    expression = request.get("UpdateExpression", "")
    written = {name for tag, name in request.get("ExpressionAttributeNames", {}).items() if tag in expression}
    return 1 if written & indexed else 0


def capacity(calls: list[AwsCall], lookup) -> dict:
    """Read and write request units the calls are billed on DynamoDB on-demand.

    Reads: 1 RRU per 4 KB read strongly consistent (0.5 eventually), summed over a Query's items.
    Writes: 1 WRU per 1 KB of the larger of the item before and after (here: after, or the Put), 2 per KB
    in a transaction; a ConditionCheck is billed as a write; plus the index's unit (index_write). `lookup(key)`
    returns an item as stored now."""
    rru = wru = 0.0
    for call in calls:
        if call.service != "dynamodb":
            continue
        p, op = call.params, call.operation
        factor = 1.0 if p.get("ConsistentRead") else 0.5
        if op == "GetItem":
            rru += factor * max(1, math.ceil(item_size((call.parsed or {}).get("Item")) / 4096))
        elif op == "Query":
            total = sum(item_size(i) for i in (call.parsed or {}).get("Items", []))
            rru += factor * max(1, math.ceil(total / 4096))
        elif op in ("PutItem", "UpdateItem", "DeleteItem"):
            size = item_size(p["Item"]) if op == "PutItem" else item_size(lookup(p["Key"]))
            wru += max(1, math.ceil(size / 1024)) + index_write(op, p, lookup)
        elif op == "TransactWriteItems":
            for entry in p["TransactItems"]:
                (kind, request), = entry.items()
                size = item_size(request["Item"]) if kind == "Put" else item_size(lookup(request["Key"]))
                wru += 2 * max(1, math.ceil(size / 1024)) + index_write(kind, request, lookup)
        elif op == "TransactGetItems":
            rru += 2 * len(p["TransactItems"])
    return {"rru": rru, "wru": wru}
