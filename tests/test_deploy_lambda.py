"""The packaged zips alone, in a fresh interpreter with only the Lambda runtime: the app starts and serves."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import boto3
import pytest

from infra import package as pkg

pytest_plugins = ["tests.helpers_deploy"]  # the `built` stacks

# The Lambda python3.11 runtime: the interpreter, its standard library, and boto3 with its dependencies.
LAMBDA_RUNTIME = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six.py")
START_UP = """
import json, sys, sysconfig
task, layer, runtime = sys.argv[1:4]
sys.path[:0] = [task, layer, runtime]  # /var/task, /opt/python, the runtime's boto3
import app
allowed = (task, layer, runtime, sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"])
print(json.dumps(sorted(
    f"{name}: {module.__file__}" for name, module in sys.modules.items()
    if getattr(module, "__file__", None) and not module.__file__.startswith(allowed)
)))
"""
SERVE = """
import json, os, sys, time
task, layer, runtime, harness, spec_path = sys.argv[1:6]
spec = json.load(open(spec_path))
sys.path[:0] = [task, layer, runtime]
sys.path.append(harness)  # moto and Chalice's test client: the test's tools, after everything the app uses
import chalice
chalice.__path__.append(os.path.join(harness, "chalice"))  # the zip ships chalice/app.py only
import boto3
from moto import mock_aws
from mfa_core import signing  # from the layer, as the function has it

with mock_aws():
    boto3.client("dynamodb").create_table(TableName="acme-mfa", **spec["table"])
    refs = {
        "MfaTable": "acme-mfa",
        "MfaKey": boto3.client("kms").create_key()["KeyMetadata"]["KeyId"],
        "MfaTopic": boto3.client("sns").create_topic(Name="acme-notifications")["TopicArn"],
        "MfaJwtSecret": boto3.client("secretsmanager").create_secret(
            Name="acme-jwt", SecretString=spec["secret"])["ARN"],
        "MfaSigningKey": boto3.client("secretsmanager").create_secret(
            Name="acme-signing", SecretString=signing.to_secret(signing.new_key()))["ARN"],
    }
    env = {k: refs[v["Ref"]] if isinstance(v, dict) else v for k, v in spec["environment"].items()}
    os.environ.update(env)  # as Lambda sets them before the handler's module is imported
    os.makedirs(os.path.join(spec["project"], ".chalice"))
    with open(os.path.join(spec["project"], ".chalice", "config.json"), "w") as f:
        json.dump({"version": "2.0", "app_name": "mfa",
                   "stages": {"acme": {"environment_variables": env}}}, f)
    import app
    import jwt
    from chalice.test import Client

    def token(tenant):
        now = int(time.time())
        claims = {"sub": "alice@acme.example", "tenant": tenant, "scope": "mfa:settings", "aud": "mfa",
                  "iat": now, "exp": now + 300}
        return "Bearer " + jwt.encode(claims, spec["secret"], algorithm="HS256")

    answers = {}
    with Client(app.app, stage_name="acme", project_dir=spec["project"]) as client:
        def call(name, method, path, auth=None, body=b""):
            headers = {"Content-Type": "application/json"} | ({"Authorization": auth} if auth else {})
            r = client.http.request(method, path, headers=headers, body=body)
            json_body = r.headers.get("Content-Type", "").startswith("application/json") and r.body
            answers[name] = [r.status_code, json.loads(r.body) if json_body else None]

        call("health", "GET", "/v1/health")
        call("enroll", "POST", "/v1/authenticator/enroll", token("acme"), b'{"name": "phone"}')
        call("other tenant", "GET", "/v1/factors", token("globex"))
        for path in ("/", "/v1/openapi.json"):
            if path in app.app.routes:
                call(path, "GET", path)

    # API Gateway's catch-all method as Lambda delivers it: Chalice answers a wrong method itself.
    event = {"resource": "/v1/health", "path": "/v1/health", "httpMethod": "DELETE", "headers": {},
             "multiValueHeaders": {}, "queryStringParameters": None, "multiValueQueryStringParameters": None,
             "pathParameters": None, "stageVariables": None, "body": None, "isBase64Encoded": False,
             "requestContext": {"resourcePath": "/v1/health", "httpMethod": "DELETE", "stage": "api",
                                "path": "/api/v1/health", "identity": {"sourceIp": "203.0.113.7"}}}
    response = app.app(event, None)
    answers["wrong method"] = [response["statusCode"], json.loads(response["body"])]

modules = ("app", "functions", "mfa_core", "jwt", "pyotp", "qrcode", "png", "cryptography", "chalice.app", "boto3")
print(json.dumps({"answers": answers, "origins": {m: sys.modules[m].__file__ for m in modules if m in sys.modules}}))
"""


@pytest.fixture(scope="module")
def unpacked(built, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("lambda")
    dirs = {"task": root / "task", "opt": root / "opt", "runtime": root / "runtime"}
    with zipfile.ZipFile(built.acme / pkg.FUNCTION_ZIP) as zf:
        zf.extractall(dirs["task"])
    with zipfile.ZipFile(built.acme / pkg.LAYER_ZIP) as zf:
        zf.extractall(dirs["opt"])
    dirs["layer"] = dirs["opt"] / "python"
    site = Path(boto3.__file__).parent.parent
    dirs["runtime"].mkdir()
    for name in LAMBDA_RUNTIME:
        (dirs["runtime"] / name).symlink_to(site / name)
    dirs["harness"] = site
    return dirs


def _fresh_python(code: str, *args: str, env: dict) -> subprocess.CompletedProcess:
    # -I: no PYTHONPATH, no user site; -S: not even this virtualenv's site-packages.
    clean = {k: v for k, v in os.environ.items() if k.startswith("AWS_") and k != "AWS_ENDPOINT_URL"}
    return subprocess.run(
        [sys.executable, "-I", "-S", "-c", code, *args],
        capture_output=True,
        text=True,
        env=clean | env,
        timeout=120,
    )


def test_the_zips_alone_start_the_app_with_only_the_lambda_runtime(built, unpacked):
    env = built.template()["Resources"]["APIHandler"]["Properties"]["Environment"]["Variables"]
    placeholders = {k: v if isinstance(v, str) else f"placeholder-{v['Ref']}" for k, v in env.items()}
    result = _fresh_python(
        START_UP, str(unpacked["task"]), str(unpacked["layer"]), str(unpacked["runtime"]), env=placeholders
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []  # every module from the function, the layer or the runtime


def test_the_zips_alone_serve_requests_through_the_chalice_test_client(built, unpacked, tmp_path):
    template = built.template()
    table = template["Resources"]["MfaTable"]["Properties"]
    spec = {
        "table": {k: table[k] for k in ("AttributeDefinitions", "KeySchema", "BillingMode")},
        "environment": template["Resources"]["APIHandler"]["Properties"]["Environment"]["Variables"],
        "secret": base64.b64encode(os.urandom(48)).decode(),
        "project": str(tmp_path / "harness"),
    }
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    dirs = [str(unpacked[name]) for name in ("task", "layer", "runtime", "harness")]
    result = _fresh_python(SERVE, *dirs, str(tmp_path / "spec.json"), env={})
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    answers = out["answers"]
    assert answers["health"] == [200, {"status": "ok"}]
    status, body = answers["enroll"]
    assert status == 200 and body["qr_png"].startswith("data:image/png;base64,"), answers["enroll"]
    assert answers["other tenant"][0] == 403 and answers["other tenant"][1]["error"] == "forbidden"
    assert answers["wrong method"][0] == 405 and answers["wrong method"][1]["error"] == "method_not_allowed"
    for path in ("/", "/v1/openapi.json"):
        if path in answers:
            assert answers[path][0] == 200, (path, answers[path])
    origins = out["origins"]
    for module in ("app", "functions", "chalice.app"):
        assert origins[module].startswith(str(unpacked["task"])), (module, origins[module])
    for module in ("mfa_core", "jwt", "pyotp", "qrcode", "png", "cryptography"):
        assert origins[module].startswith(str(unpacked["layer"])), (module, origins[module])
    assert origins["boto3"].startswith(str(unpacked["runtime"]))
