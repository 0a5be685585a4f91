"""Cold start, side by side with a bare Chalice app in the same run: fresh interpreters
(bench/coldstart_child.py) each import boto3 + chalice, then an entry module, and serve the first POST
/v1/logon/verify from an API Gateway event against a moto server on loopback, as a new Lambda container
would. Ours is functions.entry.verify (the verify function as deployed, its token key and signing keys in
Secrets Manager); the yardstick is bench/bare_app.py (one route making a DynamoDB client and one GetItem),
run alternately with ours so both see the same load. Every other group's entry module is imported too.

Our own share is what ours takes beyond the bare app: the import of the entry module (target <= 60 ms) and
the first verify minus the bare app's first request, paired run by run (target <= 150 ms).

`python -m bench.coldstart --runs 7` prints the figures and the package sizes (dist/, when `make package`
made one) on stderr, then one JSON line (what `make bench` keeps) on stdout. `--python PATH` runs the fresh
interpreters with another Python that has boto3, chalice and requirements.txt (Lambda's is 3.13)."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.harness import BENCH_SECRET, ROOT, TENANT, prepare_environment, token

CHILD = Path(__file__).with_name("coldstart_child.py")
VERIFY = "functions.entry.verify"
BARE = "bench.bare_app"
OURS = ("app", "functions", "mfa_core")
TARGETS_MS = {"import_own": 60, "first_verify_own": 150}  # issue 11
CHILD_TIMEOUT_S = 60


def entry_module(group: str) -> str:
    return f"functions.entry.{group}"


def verify_event(user: str, code: str, now: float) -> dict:
    """The API Gateway (REST, proxy) event Lambda hands the function for POST /v1/logon/verify."""
    path = "/v1/logon/verify"
    return {
        "resource": path,
        "path": path,
        "httpMethod": "POST",
        "headers": {
            "authorization": f"Bearer {token(user, 'mfa:logon', now=now)}",
            "content-type": "application/json",
            "user-agent": "bench-coldstart",
        },
        "multiValueHeaders": None,
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": path,
            "httpMethod": "POST",
            "path": "/api" + path,
            "stage": "api",
            "requestId": "cold-start",
            "identity": {"sourceIp": "127.0.0.1", "userAgent": "bench-coldstart"},
        },
        "body": json.dumps({"code": code}),
        "isBase64Encoded": False,
    }


def own_imports(importtime_stderr: str, module: str, top: int = 10) -> dict:
    """From `-X importtime`: the import tree of `module`, as third-party packages it pulls in (cumulative ms,
    counted where our code first imports them) and our own modules (self ms)."""
    rows = []
    for line in importtime_stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        self_us, cumulative_us, name = line[len("import time:") :].split("|", 2)
        depth = (len(name) - len(name.lstrip(" ")) - 1) // 2  # "| " then two spaces per level
        rows.append((int(self_us), int(cumulative_us), depth, name.strip()))
    # importtime prints a module after its imports: its tree is everything before it at depth 0.
    end = next((i for i, r in enumerate(rows) if r[3] == module and r[2] == 0), None)
    if end is None:
        return {}
    start = max((i for i, r in enumerate(rows[:end]) if r[2] == 0), default=-1) + 1
    tree = rows[start : end + 1]
    third_party: dict[str, float] = {}
    ours_self = 0.0
    parents: dict[int, str] = {}
    for self_us, cumulative_us, depth, name in reversed(tree):  # parents before their children
        parents[depth] = name
        top_package = name.split(".")[0]
        if top_package in OURS:
            ours_self += self_us
            continue
        parent = parents.get(depth - 1, "")
        if parent.split(".")[0] in OURS:
            third_party[top_package] = third_party.get(top_package, 0.0) + cumulative_us
    ranked = sorted(third_party.items(), key=lambda kv: -kv[1])[:top]
    return {
        "total_ms": round(tree[-1][1] / 1000, 1),
        "ours_self_ms": round(ours_self / 1000, 1),
        "third_party_ms": {name: round(us / 1000, 1) for name, us in ranked},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--python", default=sys.executable, help="the interpreter of the cold starts")
    args = parser.parse_args()

    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from infra.local import start_moto

    server, _ = start_moto()
    endpoint = os.environ["AWS_ENDPOINT_URL"]
    prepare_environment()
    os.environ["AWS_ENDPOINT_URL"] = endpoint  # this process and the children talk to the moto server
    try:
        result = run(args.runs, args.python)
    finally:
        server.shutdown()
    from bench.package import from_dist
    from bench.report import print_cold_start, print_package

    print_cold_start(result, file=sys.stderr)
    print_package(from_dist() or {"source": "no dist/<tenant>/: `make package TENANT=...` makes one"}, file=sys.stderr)
    print(json.dumps(result))


def deploy_like_resources() -> None:
    """The stack's resources in moto, and a verify function's environment naming them (the token key and
    the signing keys in Secrets Manager, as deployed)."""
    import boto3

    from infra import resources

    resources.create_table(boto3.client("dynamodb"), os.environ["MFA_TABLE"])
    resources.create_key(boto3.client("kms"))
    os.environ["MFA_TOPIC_ARN"] = resources.create_topic(boto3.client("sns"))
    secrets = boto3.client("secretsmanager")
    os.environ["MFA_SIGNING_KEY_ARN"] = resources.create_signing_key(secrets)
    os.environ["MFA_JWT_SECRET_ARN"] = secrets.create_secret(Name="mfa-jwt", SecretString=BENCH_SECRET)["ARN"]
    os.environ.pop("MFA_JWT_SECRET", None)


def attach_users(users: list[str]) -> dict:
    """Each user with an authenticator attached (through the whole app in this process): user -> (totp, step)."""
    import pyotp
    from chalice.test import Client

    from app import app

    attached = {}
    with Client(app, stage_name="dev", project_dir=str(ROOT)) as client:

        def call(method, path, body, user, scope):
            headers = {
                "Content-Type": "application/json",
                "Authorization": f"Bearer {token(user, scope, now=time.time())}",
            }
            r = client.http.request(method, path, headers=headers, body=json.dumps(body).encode())
            if r.status_code != 200:
                raise RuntimeError(f"cold start setup: {method} {path} -> {r.status_code} {r.body!r}")
            return json.loads(r.body)

        call("PUT", "/v1/policy", {"two_factor": "on"}, "admin@example.com", "mfa:admin")
        for user in users:
            enrolled = call("POST", "/v1/authenticator/enroll", {}, user, "mfa:settings")
            totp = pyotp.parse_uri(enrolled["otpauth_uri"])
            step = int(time.time() // 30)
            body = {"enrollment_id": enrolled["enrollment_id"], "code": totp.at(step * 30)}
            call("POST", "/v1/authenticator/confirm", body, user, "mfa:settings")
            attached[user] = (totp, step)
    return attached


def run(runs: int, python: str = sys.executable) -> dict:
    from functions.handlers import GROUPS

    deploy_like_resources()
    users = [f"cold{i}@example.com" for i in range(runs + 1)]
    attached = attach_users(users)
    others = [g for g in GROUPS if entry_module(g) != VERIFY]

    with tempfile.TemporaryDirectory() as tmp:
        base_env = dict(os.environ)
        base_env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "layers" / "mfa_core" / "python")])
        base_env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        writing = {k: v for k, v in base_env.items() if k != "PYTHONDONTWRITEBYTECODE"}
        read_only = base_env | {"PYTHONDONTWRITEBYTECODE": "1"}  # Lambda's /var/task and /opt are read-only

        def logon(user: str) -> dict:
            totp, confirmed = attached[user]
            # A step later than the one confirm used (a replay otherwise), and the current one when it is.
            step = max(confirmed + 1, int(time.time() // 30))
            return verify_event(user, totp.at(step * 30), time.time())

        def child(module: str, env: dict, event: dict | None = None, profile: bool = False) -> tuple[dict, str]:
            command = [python, *(["-X", "importtime"] if profile else []), str(CHILD), module]
            if event is not None:
                event_file = Path(tmp) / "event.json"
                event_file.write_text(json.dumps(event))
                command.append(str(event_file))
            done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True,  # noqa: S603
                                  timeout=CHILD_TIMEOUT_S, check=False)
            if done.returncode != 0:
                raise RuntimeError(f"cold start child {module} failed: {done.stderr[-2000:]}")
            sample = json.loads(done.stdout.strip().splitlines()[-1])
            if sample.get("status", 200) != 200:
                raise RuntimeError(f"cold start: the first request of {module} answered {sample['status']}")
            return sample, done.stderr

        # As deployed (infra/package.py): both zips ship bytecode. These runs write it for everything.
        bare_event = verify_event("bare@example.com", "000000", time.time())  # the bare app reads no code
        child(VERIFY, writing, logon(users[0]))
        child(BARE, writing, bare_event)
        for group in others:
            child(entry_module(group), writing)
        ours, bare = [], []
        for user in users[1:]:  # alternately, so that both see the same load
            ours.append(child(VERIFY, read_only, logon(user))[0])
            bare.append(child(BARE, read_only, bare_event)[0])
        groups = {group: [child(entry_module(group), read_only)[0] for _ in range(runs)] for group in others}
        breakdown = own_imports(child(VERIFY, read_only, profile=True)[1], VERIFY)
    version = subprocess.run([python, "-c", "import platform; print(platform.python_version())"],  # noqa: S603
                             capture_output=True, text=True, check=True).stdout.strip()
    return figures(ours, bare, groups, breakdown) | {"python": version}


def figures(ours: list[dict], bare: list[dict], groups: dict[str, list[dict]], breakdown: dict) -> dict:
    def median(samples: list[dict], key) -> float:
        return round(statistics.median(key(s) if callable(key) else s[key] for s in samples), 1)

    def paired(key: str) -> float:
        return round(statistics.median(o[key] - b[key] for o, b in zip(ours, bare, strict=True)), 1)

    def whole(s: dict) -> float:
        return s["bare_ms"] + s["import_ms"] + s["first_ms"]

    import_own, first_own = median(ours, "import_ms"), paired("first_ms")
    app_ms = median(ours, whole)
    return {
        "entry": VERIFY,
        "bare": median(ours, "bare_ms"),
        "app": app_ms,
        "own": round(app_ms - median(ours, "bare_ms"), 1),
        "import_own": import_own,
        "first_verify": median(ours, "first_ms"),
        "first_verify_own": first_own,
        "targets_ms": TARGETS_MS,
        "targets_met": {"import_own": import_own <= TARGETS_MS["import_own"],
                        "first_verify_own": first_own <= TARGETS_MS["first_verify_own"]},
        # The fastest run: the least disturbed by whatever else the machine was running.
        "min": {"bare": round(min(s["bare_ms"] for s in ours), 1),
                "import_own": round(min(s["import_ms"] for s in ours), 1)},
        "first_verify_clients": median(ours, "first_clients_ms"),
        "first_verify_client_ms": {
            name: median(ours, lambda s, name=name: s["first_client_ms"].get(name, 0.0))
            for name in ours[0]["first_client_ms"]
        },
        "first_verify_aws": median(ours, "first_aws_ms"),
        "first_verify_aws_calls": ours[0]["first_aws_calls"],
        "first_verify_rest": median(ours, lambda s: s["first_ms"] - s["first_clients_ms"] - s["first_aws_ms"]),
        "cpu": {
            "bare": median(ours, "bare_cpu_ms"),
            "import_own": median(ours, "import_cpu_ms"),
            "first_verify": median(ours, "first_cpu_ms"),
            "first_verify_own": paired("first_cpu_ms"),
        },
        "bare_app": {
            "module": BARE,
            "import": median(bare, "import_ms"),
            "first": median(bare, "first_ms"),
            "first_clients": median(bare, "first_clients_ms"),
            "first_aws": median(bare, "first_aws_ms"),
            "first_aws_calls": bare[0]["first_aws_calls"],
            "cpu": {"import": median(bare, "import_cpu_ms"), "first": median(bare, "first_cpu_ms")},
        },
        "groups_import_own": {
            "verify": import_own,
            **{group: median(samples, "import_ms") for group, samples in groups.items()},
        },
        "groups_import_own_cpu": {
            "verify": median(ours, "import_cpu_ms"),
            **{group: median(samples, "import_cpu_ms") for group, samples in groups.items()},
        },
        "runs": len(ours),
        "bytecode": "as deployed: both zips precompiled (infra/package.py)",
        "enroll_only_modules_loaded": sorted({m for s in ours for m in s["enroll_only_modules_loaded"]}),
        "yaml_loaded": any(s["yaml_loaded"] for s in ours),
        "x509_loaded": any(s["x509_loaded"] for s in ours),
        "import_breakdown": breakdown,
        "tenant": TENANT,
    }


if __name__ == "__main__":
    main()
