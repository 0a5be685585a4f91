"""Cloud calls per operation, and latency per operation, in-process (Chalice's test client + moto).

An operation whose route does not exist yet (or whose feature is not built yet) is skipped and reported
as null, with the reason; it starts being measured as soon as the route answers."""

from __future__ import annotations

import collections
import logging
import statistics
import time

from bench.harness import Meter, capacity, percentiles, stack, totp_code

LOGON = "mfa:logon"
ADMIN = {"user": "admin@example.com", "scope": "mfa:admin"}
GATEWAY = {"user": "imap-gateway", "scope": "mfa:gateway"}
# The operations of issue 6, in the order the tables print them.
OPERATIONS = (
    "enroll",
    "confirm",
    "logon",
    "logon_with_device",
    "verify",
    "verify_cold",
    "delete",
    "policy_get",
    "policy_put",
    "app_password_check",
)
ROUTES = {
    "logon_with_device": ("/v1/logon", "POST"),
    "app_password_create": ("/v1/app-passwords", "POST"),
    "app_password_check": ("/v1/app-passwords/check", "POST"),
}


class BenchError(RuntimeError):
    pass


def wrong_code(uri: str, now: float) -> str:
    """A well-formed code that no step in any allowed window accepts."""
    near = {totp_code(uri, now + 30 * k) for k in range(-3, 4)}
    right = int(totp_code(uri, now))
    return next(c for c in (f"{(right + d) % 1_000_000:06d}" for d in range(1, 50)) if c not in near)


def expect(name: str, response, *statuses: int):
    if response.status not in statuses:
        raise BenchError(f"{name}: expected {statuses}, got {response.status} {response.json}")
    return response


def _enroll_and_confirm(s, user: str) -> str:
    enrolled = expect("enroll", s.call("POST", "/v1/authenticator/enroll", {}, user=user), 200)
    uri = enrolled.json["otpauth_uri"]
    body = {"enrollment_id": enrolled.json["enrollment_id"], "code": totp_code(uri, s.clock.now)}
    expect("confirm", s.call("POST", "/v1/authenticator/confirm", body, user=user), 200)
    return uri


# --- 1. cloud calls per operation ---------------------------------------------------------------


def count_calls() -> dict:
    """One scripted pass over every operation; returns {"calls": {...}, "skipped": {op: why}}."""
    import boto3

    calls: dict[str, dict | None] = {}
    skipped: dict[str, str] = {}
    with stack() as s:
        # Outside the meter: boto3's default session carries its hooks, a separate session does not.
        raw = boto3.session.Session().client("dynamodb")

        def lookup(key):
            return raw.get_item(TableName="mfa", Key=key, ConsistentRead=True).get("Item")

        def record(name, response, *statuses):
            expect(name, response, *statuses)
            calls[name] = Meter.counts(response.aws) | capacity(response.aws, lookup) | {"status": response.status}
            return response

        alice, bob = "alice@example.com", "bob@example.com"
        record("policy_put", s.call("PUT", "/v1/policy", {"two_factor": "on"}, **ADMIN), 200)
        record("policy_get", s.call("GET", "/v1/policy", **ADMIN), 200)
        record("enroll_first_of_tenant", s.call("POST", "/v1/authenticator/enroll", {}, user=alice), 200)
        enrolled = record("enroll", s.call("POST", "/v1/authenticator/enroll", {}, user=alice), 200)
        uri = enrolled.json["otpauth_uri"]
        body = {"enrollment_id": enrolled.json["enrollment_id"], "code": totp_code(uri, s.clock.now)}
        record("confirm", s.call("POST", "/v1/authenticator/confirm", body, user=alice), 200)
        record("logon", s.call("POST", "/v1/logon", {}, user=alice, scope=LOGON), 200)

        s.clock.advance(30)
        body = {"code": totp_code(uri, s.clock.now), "trust_device": True}
        trusted = record("verify_trust_device", s.call("POST", "/v1/logon/verify", body, user=alice, scope=LOGON), 200)
        s.clock.advance(30)
        body = {"code": totp_code(uri, s.clock.now)}
        record("verify", s.call("POST", "/v1/logon/verify", body, user=alice, scope=LOGON), 200)
        device_token = trusted.json.get("device_token")
        if device_token:
            r = record("logon_with_device", s.call("POST", "/v1/logon", {"device_token": device_token},
                                                   user=alice, scope=LOGON), 200)
            if r.json.get("next") != "done":
                raise BenchError(f"logon_with_device: a trusted device should end the logon, got {r.json}")
        else:
            skipped["logon_with_device"] = "POST /v1/logon/verify issues no device_token yet"

        s.clock.advance(30)
        body = {"code": wrong_code(uri, s.clock.now)}
        record("verify_wrong_code", s.call("POST", "/v1/logon/verify", body, user=alice, scope=LOGON), 400)

        missing = [f"{m} {p}" for p, m in (ROUTES["app_password_create"], ROUTES["app_password_check"])
                   if not s.has_route(p, m)]
        if missing:
            skipped["app_password_check"] = f"no route {', '.join(missing)} yet"
        else:
            made = record("app_password_create", s.call("POST", "/v1/app-passwords", {"label": "Thunderbird"},
                                                        user=alice), 200, 201)
            body = {"user": alice, "password": made.json["password"]}
            r = record("app_password_check", s.call("POST", "/v1/app-passwords/check", body, **GATEWAY), 200)
            if r.json != {"valid": True}:
                raise BenchError(f"app_password_check: the password just made should be valid, got {r.json}")
            body = {"user": alice, "password": "wrong-password-0000"}
            record("app_password_check_wrong", s.call("POST", "/v1/app-passwords/check", body, **GATEWAY), 200)

        # An SMS (here the code to attach a phone): the user's record and the day's counters of the number
        # and of the tenant, in one transaction.
        record("sms_send", s.call("POST", "/v1/phone", {"number": "+8613800001234"}, user="carol@example.com"), 202)

        s.clock.advance(30)
        body = {"code": totp_code(uri, s.clock.now)}
        record("delete", s.call("DELETE", "/v1/authenticator", body, user=alice), 200)

        # The tenant at a glance: the report (a Query per counter shard, one of the failing users) and a
        # page of the user list (the index, then the page's items), whatever the tenant's size.
        record("admin_report", s.call("GET", "/v1/admin/report?days=30", **ADMIN), 200)
        record("admin_user_list", s.call("GET", "/v1/admin/users?limit=50", **ADMIN), 200)
        issued = record("access_pass_issue", s.call("POST", "/v1/admin/users/carol%40example.com/access-pass",
                                                    {"hours": 8}, **ADMIN), 201)
        _enroll_and_confirm(s, "carol@example.com")
        body = {"method": "access_pass", "code": issued.json["access_pass"]}
        record("verify_access_pass", s.call("POST", "/v1/logon/verify", body, user="carol@example.com", scope=LOGON),
               200)

        # The first verify in a new container: clients, policy and data key all loaded once.
        bob_uri = _enroll_and_confirm(s, bob)
        s.new_container()
        s.clock.advance(30)
        body = {"code": totp_code(bob_uri, s.clock.now)}
        record("verify_cold", s.call("POST", "/v1/logon/verify", body, user=bob, scope=LOGON), 200)

    for name in OPERATIONS:
        calls.setdefault(name, None)
    return {"calls": calls, "skipped": skipped}


# --- 2. latency per operation -------------------------------------------------------------------


class _LogBytes(logging.Handler):
    """Sizes of the log lines the service writes (CloudWatch Logs bills ingestion per byte)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines = 0
        self.bytes = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.lines += 1
        self.bytes += len(self.format(record).encode()) + 1


def _cohort(s, users: list[str], timed) -> None:
    uris, enrollments = {}, {}
    for u in users:
        r = timed("enroll", s.call("POST", "/v1/authenticator/enroll", {"name": "Phone"}, user=u), 200)
        uris[u], enrollments[u] = r.json["otpauth_uri"], r.json["enrollment_id"]
    for u in users:
        body = {"enrollment_id": enrollments[u], "code": totp_code(uris[u], s.clock.now)}
        timed("confirm", s.call("POST", "/v1/authenticator/confirm", body, user=u), 200)
    for u in users:
        timed("logon", s.call("POST", "/v1/logon", {}, user=u, scope=LOGON), 200)
    s.clock.advance(30)  # one fresh code per user and step: none is ever a replay
    for u in users:
        body = {"code": totp_code(uris[u], s.clock.now)}
        timed("verify", s.call("POST", "/v1/logon/verify", body, user=u, scope=LOGON), 200)

    s.clock.advance(30)
    tokens = {}
    for u in users:
        body = {"code": totp_code(uris[u], s.clock.now), "trust_device": True}
        r = s.call("POST", "/v1/logon/verify", body, user=u, scope=LOGON)
        if r.status == 200 and not r.json.get("device_token"):
            break  # trusted devices not built yet: the code was accepted as a plain verify
        tokens[u] = timed("verify_trust_device", r, 200).json["device_token"]
    for u, device_token in tokens.items():
        body = {"device_token": device_token}
        timed("logon_with_device", s.call("POST", "/v1/logon", body, user=u, scope=LOGON), 200)

    for _ in users:
        timed("policy_get", s.call("GET", "/v1/policy", **ADMIN), 200)
    for _ in users:
        timed("policy_put", s.call("PUT", "/v1/policy", {"two_factor": "on"}, **ADMIN), 200)

    if s.has_route(*ROUTES["app_password_create"]) and s.has_route(*ROUTES["app_password_check"]):
        passwords = {}
        for u in users:
            r = timed("app_password_create", s.call("POST", "/v1/app-passwords", {"label": "IMAP"}, user=u), 200, 201)
            passwords[u] = r.json["password"]
        for u in users:
            body = {"user": u, "password": passwords[u]}
            r = timed("app_password_check", s.call("POST", "/v1/app-passwords/check", body, **GATEWAY), 200)
            if r.json != {"valid": True}:
                raise BenchError(f"app_password_check: expected valid, got {r.json}")

    for _ in users:  # the fixed cost of a request: routing and the edge, no cloud call
        timed("health", s.call("GET", "/v1/health"), 200)

    s.clock.advance(30)
    for u in users:
        body = {"code": totp_code(uris[u], s.clock.now)}
        timed("delete", s.call("DELETE", "/v1/authenticator", body, user=u), 200)


def measure_latency(requests: int = 300, warmup: int = 5, cohort: int = 10, budget_s: float = 300.0) -> dict:
    """`requests` timed requests per operation, after `warmup` untimed ones.

    Users go through every operation in cohorts of `cohort`, each with one fresh code per step (never a
    replay); a cohort's items are deleted before the next one starts, so moto's table stays small.
    Returns {"latency_ms": {op: {...} | None}, "skipped": {...}, "log_bytes_per_request": n}."""
    samples: dict[str, list[tuple[float, float, float]]] = collections.defaultdict(list)
    skipped: dict[str, str] = {}
    deadline = time.monotonic() + budget_s
    log_bytes = _LogBytes()
    root = logging.getLogger()
    root.addHandler(log_bytes)
    total_users = warmup + requests

    def timed(name, response, *statuses):
        expect(name, response, *statuses)
        if time.monotonic() > deadline:
            raise BenchError(f"latency: over the {budget_s:.0f} s budget at {name}")
        total = response.seconds * 1000
        own_cpu = (response.cpu_seconds - response.aws_cpu_seconds) * 1000
        samples[name].append((total, total - response.aws_seconds * 1000, own_cpu))
        return response

    try:
        with stack() as s:
            expect("policy_put", s.call("PUT", "/v1/policy", {"two_factor": "on"}, **ADMIN), 200)
            devices = app_passwords = None  # probed with the first user
            for first in range(0, total_users, cohort):
                users = [f"user{i:04d}@example.com" for i in range(first, min(first + cohort, total_users))]
                _cohort(s, users, timed)
                if devices is None:
                    devices = "logon_with_device" in samples
                    if not devices:
                        skipped["logon_with_device"] = "POST /v1/logon/verify issues no device_token yet"
                if app_passwords is None:
                    app_passwords = "app_password_check" in samples
                    if not app_passwords:
                        skipped["app_password_check"] = "no app-password routes yet"
                s.forget_users([*users, ADMIN["user"]])
    finally:
        root.removeHandler(log_bytes)

    latency: dict[str, dict | None] = {}
    for name, pairs in samples.items():
        kept = pairs[warmup:] if len(pairs) > warmup else pairs
        own = percentiles([o for _, o, _ in kept])
        latency[name] = percentiles([t for t, _, _ in kept]) | {
            "own_p50": own["p50"],
            "own_p90": own["p90"],
            "own_p99": own["p99"],
            "own_cpu_p50": round(statistics.median(c for _, _, c in kept), 2),
            "n": len(kept),
        }
    for name in OPERATIONS:
        if name != "verify_cold":  # one sample per container: see cold_start_ms
            latency.setdefault(name, None)
    per_request = log_bytes.bytes / max(1, sum(len(p) for p in samples.values()))
    return {"latency_ms": latency, "skipped": skipped, "log_bytes_per_request": round(per_request, 1)}
