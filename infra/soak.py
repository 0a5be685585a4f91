"""`make soak`: a bounded load on the local server (loopback, a moto server behind it), then a check that
nothing was lost. Stops by itself (SOAK_SECONDS, default 45; SOAK_WORKERS threads, default 16).
`make soak DYNAMODB=local` keeps the table on Amazon's DynamoDB Local, which does not serialise requests.

Each worker runs user journeys: enroll, confirm, verify with "Set as trusted device", log on by that
device, send the same code twice at once (one may win), make wrong codes, and half of the users delete
the authenticator with a recovery code. Afterwards the table must hold every attachment that was
confirmed and not deleted, none that was deleted, no code accepted twice, recovery codes and failure
counters that match what the answers said."""

from __future__ import annotations

import json
import os
import socket
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from infra.local import LOCAL_ENV

TENANT = "soak"
MAX_FAILURES = 5  # the default policy's


@dataclass
class Journey:
    user: str
    attached: bool = False
    deleted: bool = False
    recovery_used: int = 0
    last_attempts_left: int | None = None  # what the last deliberate wrong code was answered
    double_accepts: int = 0


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, seconds: float) -> None:
        with self.lock:
            self.latencies.append(seconds)

    def fail(self, what: str) -> None:
        with self.lock:
            self.unexpected.append(what)


def run(base: str, seconds: float, workers: int) -> dict:
    import pyotp
    import requests

    from functions.dev import dev_token
    from mfa_core import totp
    from mfa_core.config import Settings

    settings = Settings.from_environ(LOCAL_ENV)
    stats, journeys, deadline = Stats(), [], time.monotonic() + seconds

    def call(session, method, path, token, body=None, expect=(200,)):
        started = time.perf_counter()
        r = session.request(method, base + path, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        stats.record(time.perf_counter() - started)
        if r.status_code not in expect:
            stats.fail(f"{method} {path} -> {r.status_code} {r.text[:120]}")
        return r

    def journey(worker: int, n: int) -> Journey:
        session = requests.Session()
        user = f"w{worker}-u{n}@example.com"
        j = Journey(user)
        now = time.time()
        settings_token = dev_token(settings, user, TENANT, "mfa:settings", now)
        logon_token = dev_token(settings, user, TENANT, "mfa:logon", now)
        enrolled = call(session, "POST", "/v1/authenticator/enroll", settings_token, {}).json()
        secret = pyotp.parse_uri(enrolled["otpauth_uri"]).secret
        step = totp.step_at(time.time(), 30)

        def code(s):
            return totp.code_at(secret, s, algorithm="SHA1", digits=6)

        confirmed = call(session, "POST", "/v1/authenticator/confirm", settings_token,
                         {"enrollment_id": enrolled["enrollment_id"], "code": code(step)})
        if confirmed.status_code != 200:
            return j
        j.attached = True
        recovery = confirmed.json()["recovery_codes"]
        # The next step's code, sent twice at once: at most one may be accepted.
        with ThreadPoolExecutor(2) as pair:
            answers = list(pair.map(lambda _: call(requests.Session(), "POST", "/v1/logon/verify", logon_token,
                                                   {"code": code(step + 1), "trust_device": True},
                                                   expect=(200, 400)), range(2)))
        accepted = [a for a in answers if a.status_code == 200]
        j.double_accepts = max(0, len(accepted) - 1)
        if accepted:
            device = accepted[0].json()["device_token"]
            decision = call(session, "POST", "/v1/logon", logon_token, {"device_token": device}).json()
            if decision.get("next") != "done":
                stats.fail(f"trusted device not honoured for {user}")
        for _ in range(n % 3):
            wrong = call(session, "POST", "/v1/logon/verify", logon_token, {"code": "abcdef"}, expect=(400,))
            j.last_attempts_left = wrong.json().get("attempts_left")
        if n % 2:
            call(session, "DELETE", "/v1/authenticator", settings_token, {"recovery_code": recovery[0]})
            j.deleted, j.recovery_used = True, 1
        return j

    def worker(index: int) -> list[Journey]:
        done, n = [], 0
        while time.monotonic() < deadline:
            done.append(journey(index, n))
            n += 1
        return done

    started = time.monotonic()
    with ThreadPoolExecutor(workers) as pool:
        for result in pool.map(worker, range(workers)):
            journeys.extend(result)
    elapsed = time.monotonic() - started
    lost = check_table(journeys)
    latencies = sorted(stats.latencies)
    return {
        "seconds": round(elapsed, 1),
        "workers": workers,
        "journeys": len(journeys),
        "requests": len(latencies),
        "requests_per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 1),
        "errors": len(stats.unexpected),
        "error_samples": stats.unexpected[:5],
        "double_accepts": sum(j.double_accepts for j in journeys),
        "lost_writes": lost,
    }


def check_table(journeys: list[Journey]) -> list[str]:
    """What the table should hold after the journeys, item by item; returns what does not match."""
    import boto3

    from mfa_core.storage.keys import SK_LOCKOUT, SK_MFA, user_pk

    db, lost = boto3.client("dynamodb"), []
    for j in journeys:
        pk = user_pk(TENANT, j.user)
        mfa = db.get_item(TableName=os.environ["MFA_TABLE"], Key={"PK": {"S": pk}, "SK": {"S": SK_MFA}},
                          ConsistentRead=True).get("Item", {})
        if j.attached and not j.deleted:
            if "auth_id" not in mfa or len(mfa.get("recovery", {}).get("SS", [])) != 10 - j.recovery_used:
                lost.append(f"{j.user}: attachment or recovery codes missing")
        if j.deleted and ("auth_id" in mfa or "recovery" in mfa):
            lost.append(f"{j.user}: deleted authenticator still there")
        if j.last_attempts_left is not None and not j.deleted:  # a later success resets the count
            # The count stored is the count the last answer reported (the tenant's max_failures is 5).
            lockout = db.get_item(TableName=os.environ["MFA_TABLE"], Key={"PK": {"S": pk}, "SK": {"S": SK_LOCKOUT}},
                                  ConsistentRead=True).get("Item")
            fails = int(lockout["fails"]["N"]) if lockout else 0
            if fails != MAX_FAILURES - j.last_attempts_left:
                lost.append(f"{j.user}: {fails} failures stored, the last answer said {j.last_attempts_left} left")
    return lost


def main() -> None:
    """Serve the API as `make run` does, in a child process (its own interpreter, as a server would
    be), then load it from this one; the check reads the child's moto (or DynamoDB Local) over loopback."""
    import re
    import subprocess
    import tempfile
    import urllib.request

    from infra.local import dynamodb_engine

    engine = dynamodb_engine()  # the child reads DYNAMODB too: a wrong value stops here, before it starts
    seconds = float(os.environ.get("SOAK_SECONDS", "45"))
    workers = int(os.environ.get("SOAK_WORKERS", "16"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    errors = tempfile.TemporaryFile("w+")  # the child's stderr, read only if it dies before serving
    child = subprocess.Popen([sys.executable, "-m", "infra.local"], env=os.environ | {"PORT": str(port)},
                             stdout=subprocess.PIPE, stderr=errors, text=True)
    try:
        moto_port = dynamodb_port = None
        for line in child.stdout:  # the launcher says where it serves, where moto is, and DynamoDB Local
            found = re.search(r"moto on 127\.0\.0\.1:(\d+)(?:, DynamoDB Local on 127\.0\.0\.1:(\d+))?", line)
            if found:
                moto_port, dynamodb_port = found.groups()
                break
        if moto_port is None:
            child.wait(timeout=10)
            errors.seek(0)
            said = [line for line in errors.read().splitlines() if line.strip()]
            sys.exit(f"soak: the server did not start: {said[-1] if said else f'exit status {child.returncode}'}")
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/v1/health", timeout=1)  # noqa: S310 (loopback)
                break
            except OSError:
                time.sleep(0.1)
        os.environ.update(LOCAL_ENV | {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{moto_port}"})
        if (engine == "local") != bool(dynamodb_port):
            sys.exit(f"soak: asked for DYNAMODB={engine}, the server said: {line.strip()}")
        os.environ.pop("AWS_ENDPOINT_URL_DYNAMODB", None)
        if dynamodb_port:  # the table checks must read the engine the server wrote to
            os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = f"http://127.0.0.1:{dynamodb_port}"
        name = "DynamoDB Local" if dynamodb_port else "moto"
        print(f"soak: {workers} workers for {seconds:.0f} s against {base}, DynamoDB on {name}"
              f"{' (KMS and SNS on moto)' if dynamodb_port else ''}", flush=True)
        result = {"dynamodb": name} | run(base, seconds, workers)
    finally:
        child.terminate()
        child.wait(timeout=10)
    print(json.dumps(result, indent=2))
    print(f"soak ({result['dynamodb']}): {result['requests_per_second']} req/s, p50 {result['p50_ms']} ms, "
          f"p99 {result['p99_ms']} ms")
    ok = not result["errors"] and not result["lost_writes"] and not result["double_accepts"]
    print("soak: OK" if ok else "soak: FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
