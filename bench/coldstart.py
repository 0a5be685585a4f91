"""Cold start: fresh interpreters (bench/coldstart_child.py) each import boto3 + chalice, then the app, and
serve the first POST /v1/logon/verify against a moto server on loopback, as a new Lambda container would.

`python -m bench.coldstart --runs 7` prints one JSON line: the medians, the per-run figures, and an
`-X importtime` breakdown of what importing the app costs on top of boto3 + chalice."""

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

from bench.harness import ROOT, TENANT, prepare_environment, token

CHILD = Path(__file__).with_name("coldstart_child.py")
OURS = ("app", "functions", "mfa_core")
CHILD_TIMEOUT_S = 60


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


def own_imports(importtime_stderr: str, top: int = 10) -> dict:
    """From `-X importtime`: the app's import tree, as third-party packages it pulls in (cumulative ms,
    counted where our code first imports them) and our own modules (self ms)."""
    rows = []
    for line in importtime_stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        self_us, cumulative_us, name = line[len("import time:") :].split("|", 2)
        depth = (len(name) - len(name.lstrip(" ")) - 1) // 2  # "| " then two spaces per level
        rows.append((int(self_us), int(cumulative_us), depth, name.strip()))
    # importtime prints a module after its imports: the app's tree is everything before `app` at depth 0.
    end = next((i for i, r in enumerate(rows) if r[3] == "app" and r[2] == 0), None)
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


def _forget_bytecode(pycache: Path, sources: list[Path]) -> None:
    """Delete the cached bytecode of these files/directories from a PYTHONPYCACHEPREFIX tree."""
    for source in sources:
        mirrored = pycache.joinpath(*source.resolve().parts[1:])
        if source.is_dir():
            for pyc in mirrored.rglob("*.pyc"):
                pyc.unlink()
        else:
            for pyc in mirrored.parent.glob(f"{source.stem}.*.pyc"):
                pyc.unlink()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from infra.local import start_moto

    server, _ = start_moto()
    endpoint = os.environ["AWS_ENDPOINT_URL"]
    prepare_environment()
    os.environ["AWS_ENDPOINT_URL"] = endpoint  # this process and the children talk to the moto server
    try:
        result = run(args.runs)
    finally:
        server.shutdown()
    print(json.dumps(result))


def run(runs: int) -> dict:
    import boto3
    import pyotp
    from chalice.test import Client

    from infra import resources

    resources.create_table(boto3.client("dynamodb"), os.environ["MFA_TABLE"])
    resources.create_key(boto3.client("kms"))
    if hasattr(resources, "create_topic"):
        os.environ["MFA_TOPIC_ARN"] = resources.create_topic(boto3.client("sns"))
    os.environ["MFA_SIGNING_KEY_ARN"] = resources.create_signing_key(boto3.client("secretsmanager"))
    from app import app

    users = [f"cold{i}@example.com" for i in range(2 * runs + 2)]
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

    samples, source_samples, importtime = [], [], {}
    with tempfile.TemporaryDirectory() as tmp:
        pycache = Path(tmp) / "pycache"
        base_env = dict(os.environ)
        base_env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "layers" / "mfa_core" / "python")])
        base_env["PYTHONPYCACHEPREFIX"] = str(pycache)
        writing = {k: v for k, v in base_env.items() if k != "PYTHONDONTWRITEBYTECODE"}
        read_only = base_env | {"PYTHONDONTWRITEBYTECODE": "1"}  # Lambda's /var/task and /opt are read-only

        def child(i: int, env: dict, profile: bool = False) -> tuple[dict, str]:
            user = users[i]
            totp, step = attached[user]
            # The next step's code: later than the one confirm used, and inside the window for 60 s.
            event = verify_event(user, totp.at((step + 1) * 30), time.time())
            event_file = Path(tmp) / f"event{i}.json"
            event_file.write_text(json.dumps(event))
            command = [sys.executable, *(["-X", "importtime"] if profile else []), str(CHILD), str(event_file)]
            done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True,  # noqa: S603
                                  timeout=CHILD_TIMEOUT_S, check=False)
            if done.returncode != 0:
                raise RuntimeError(f"cold start child failed: {done.stderr[-2000:]}")
            sample = json.loads(done.stdout.strip().splitlines()[-1])
            if sample["status"] != 200:
                raise RuntimeError(f"cold start: first verify answered {sample['status']}")
            return sample, done.stderr

        # As deployed (infra/package.py, infra/layer.py): the layer (mfa_core + wheels) ships bytecode, the function zip
        # (app.py, functions/) does not, so those compile at every cold start.
        child(0, writing)  # writes bytecode for everything it imports
        _forget_bytecode(pycache, [ROOT / "app.py", ROOT / "functions"])
        for i in range(1, runs + 1):
            samples.append(child(i, read_only)[0])
        importtime = own_imports(child(runs + 1, read_only, profile=True)[1])
        # Without any bytecode for our code (a layer built without it): mfa_core compiles too.
        _forget_bytecode(pycache, [ROOT / "layers" / "mfa_core" / "python" / "mfa_core"])
        for i in range(runs + 2, len(users)):
            source_samples.append(child(i, read_only)[0])

    def median(key: str) -> float:
        return round(statistics.median(s[key] for s in samples), 1)

    bare = median("bare_ms")
    import_app = median("import_app_ms")
    first = median("first_verify_ms")
    app_ms = round(statistics.median(s["bare_ms"] + s["import_app_ms"] + s["first_verify_ms"] for s in samples), 1)
    return {
        "bare": bare,
        "app": app_ms,
        "own": round(app_ms - bare, 1),
        "import_own": import_app,
        # The fastest run: the least disturbed by whatever else the machine was running.
        "min": {"bare": round(min(s["bare_ms"] for s in samples), 1),
                "import_own": round(min(s["import_app_ms"] for s in samples), 1)},
        "first_verify": first,
        "first_verify_clients": median("first_verify_clients_ms"),
        "first_verify_client_ms": {
            name: round(statistics.median(s["first_verify_client_ms"].get(name, 0.0) for s in samples), 1)
            for name in samples[0]["first_verify_client_ms"]
        },
        "first_verify_aws": median("first_verify_aws_ms"),
        "first_verify_aws_calls": samples[0]["first_verify_aws_calls"],
        "first_verify_rest": round(
            statistics.median(
                s["first_verify_ms"] - s["first_verify_clients_ms"] - s["first_verify_aws_ms"] for s in samples
            ),
            1,
        ),
        "cpu": {
            "bare": median("bare_cpu_ms"),
            "import_own": median("import_app_cpu_ms"),
            "first_verify": median("first_verify_cpu_ms"),
        },
        "import_own_without_bytecode": round(statistics.median(s["import_app_ms"] for s in source_samples), 1),
        "runs": len(samples),
        "bytecode": "as deployed: mfa_core and wheels (the layer) precompiled, app.py and functions/ compiled "
        "at import; import_own_without_bytecode: mfa_core compiled too",
        "enroll_only_modules_loaded": sorted({m for s in samples for m in s["enroll_only_modules_loaded"]}),
        "x509_loaded": any(s["x509_loaded"] for s in samples),
        "import_breakdown": importtime,
        "tenant": TENANT,
    }


if __name__ == "__main__":
    main()
