"""The packaged zips alone, as Lambda runs them: CPython 3.13 (the python3.13 runtime), the function zip at
/var/task, the layer at /opt/python and only the runtime's boto3; each route sent to the function API Gateway
sends it to, with API Gateway's proxy events, against a moto server."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import boto3
import jwt
import pytest

from infra import package as pkg
from infra.layer import lambda_python
from infra.processes import answers, free_port, stop
from infra.resources import create_signing_key

pytest_plugins = ["tests.helpers_deploy"]  # the `built` stacks

# The Lambda runtime: the interpreter, its standard library, and boto3 with its dependencies (pure Python).
LAMBDA_RUNTIME = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six.py")
START_UP = """
import json, os, sys, sysconfig
task, layer, runtime = sys.argv[1:4]
sys.path[:0] = [task, layer, runtime]  # /var/task, /opt/python, the runtime's boto3
import importlib
for group in sys.argv[4:]:
    importlib.import_module(f"functions.entry.{group}")
allowed = (task, layer, runtime, sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"])
print(json.dumps({
    "version": list(sys.version_info[:2]),
    "outside": sorted(f"{name}: {module.__file__}" for name, module in sys.modules.items()
                      if getattr(module, "__file__", None) and not module.__file__.startswith(allowed)),
    # With -B nothing is written: a module whose bytecode is not on disk was compiled by this cold start.
    "compiled_on_import": sorted(name for name, module in sys.modules.items()
                                 if getattr(module, "__cached__", None) and module.__cached__.startswith((task, layer))
                                 and not os.path.exists(module.__cached__)),
}))
"""
# Each step as API Gateway delivers it to the function its path and method go to; pyotp is the layer's.
SERVE = """
import importlib, json, sys, time
task, layer, runtime, spec_path = sys.argv[1:5]
sys.path[:0] = [task, layer, runtime]
spec = json.load(open(spec_path))
import pyotp

def event(method, path, token=None, body=None):
    headers = {"content-type": "application/json", "user-agent": "lambda-test"}
    if token:
        headers["authorization"] = "Bearer " + token
    return {"resource": path, "path": path, "httpMethod": method, "headers": headers,
            "multiValueHeaders": {}, "queryStringParameters": None, "multiValueQueryStringParameters": None,
            "pathParameters": None, "stageVariables": None, "isBase64Encoded": False,
            "body": json.dumps(body) if body is not None else None,
            "requestContext": {"resourcePath": path, "httpMethod": method, "stage": "api", "path": "/api" + path,
                               "requestId": "test", "identity": {"sourceIp": "203.0.113.7"}}}

answers = {}
def call(name, method, path, token=None, body=None):
    handler = spec["handlers"][f"{method} {path}"]
    module, attr = handler.rsplit(".", 1)
    response = getattr(importlib.import_module(module), attr)(event(method, path, token, body), None)
    is_json = response["headers"].get("Content-Type", "").startswith("application/json")
    answers[name] = [handler, response["statusCode"], json.loads(response["body"]) if is_json else None]
    return answers[name][2]

tokens = spec["tokens"]
call("health", "GET", "/v1/health")
call("openapi", "GET", "/v1/openapi.json")
call("policy", "PUT", "/v1/policy", tokens["admin"], {"two_factor": "on"})
enrolled = call("enroll", "POST", "/v1/authenticator/enroll", tokens["settings"], {"name": "phone"})
totp = pyotp.parse_uri(enrolled["otpauth_uri"])
call("confirm", "POST", "/v1/authenticator/confirm", tokens["settings"],
     {"enrollment_id": enrolled["enrollment_id"], "code": totp.now()})
call("logon", "POST", "/v1/logon", tokens["logon"], {})
# The confirm used this step's code: the next step's is within the policy's window and not yet used.
call("verify", "POST", "/v1/logon/verify", tokens["logon"], {"code": totp.at(time.time() + totp.interval)})
call("wrong method", "DELETE", "/v1/health")
modules = ("functions", "mfa_core", "jwt", "pyotp", "qrcode", "cryptography", "chalice", "boto3")
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
    return dirs


def _lambda_python(code: str, *args: str, env: dict) -> subprocess.CompletedProcess:
    # -I: no PYTHONPATH, no user site; -S: not even a site-packages. -B: nothing written (the code is read-only).
    clean = {k: v for k, v in os.environ.items() if k.startswith("AWS_") and not k.startswith("AWS_ENDPOINT_URL")}
    return subprocess.run(
        [lambda_python(), "-I", "-S", "-B", "-c", code, *args],
        capture_output=True,
        text=True,
        env=clean | env,
        timeout=120,
    )


def _handlers(template: dict) -> dict[str, str]:
    """'METHOD /path' -> the Handler of the function API Gateway sends it to."""
    resources = template["Resources"]
    handlers = {}
    for path, methods in resources["RestAPI"]["Properties"]["DefinitionBody"]["paths"].items():
        for method, operation in methods.items():
            if method.startswith("x-amazon"):
                continue
            uri = operation["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
            function = uri.split("/functions/${")[1].split(".Arn}")[0]
            handlers[f"{method.upper()} {path}"] = resources[function]["Properties"]["Handler"]
    any_method = resources["RestAPI"]["Properties"]["DefinitionBody"]["paths"]["/v1/health"]
    uri = any_method["x-amazon-apigateway-any-method"]["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
    handlers["DELETE /v1/health"] = resources[uri.split("/functions/${")[1].split(".Arn}")[0]]["Properties"]["Handler"]
    return handlers


def test_each_function_starts_on_python_313_with_only_its_zips_and_the_runtime(built, unpacked):
    env = built.template()["Resources"]["VerifyFunction"]["Properties"]["Environment"]["Variables"]
    placeholders = {k: v if isinstance(v, str) else f"placeholder-{v['Ref']}" for k, v in env.items()}
    groups = ["enroll", "confirm", "verify", "delete", "policy", "settings"]
    result = _lambda_python(
        START_UP, str(unpacked["task"]), str(unpacked["layer"]), str(unpacked["runtime"]), *groups, env=placeholders
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["version"] == [3, 13]
    assert out["outside"] == []  # every module from the function, the layer or the runtime
    assert out["compiled_on_import"] == []  # the shipped bytecode was used


@pytest.fixture
def moto_server():
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not answers(port):
        assert time.monotonic() < deadline and server.poll() is None, "moto server did not start"
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    stop(server)


def test_the_zips_serve_health_policy_enroll_confirm_verify_through_api_gateway_events(
    built, unpacked, moto_server, tmp_path
):
    template = built.template()
    aws = {"endpoint_url": moto_server, "region_name": "us-east-1"}
    table = template["Resources"]["MfaTable"]["Properties"]
    boto3.client("dynamodb", **aws).create_table(
        TableName="acme-mfa",
        **{k: table[k] for k in ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "BillingMode")},
    )
    secret = base64.b64encode(os.urandom(48)).decode()
    secrets = boto3.client("secretsmanager", **aws)
    refs = {
        "MfaTable": "acme-mfa",
        "MfaKey": boto3.client("kms", **aws).create_key()["KeyMetadata"]["KeyId"],
        "MfaTopic": boto3.client("sns", **aws).create_topic(Name="acme-notifications")["TopicArn"],
        "MfaJwtSecret": secrets.create_secret(Name="acme-jwt", SecretString=secret)["ARN"],
        "MfaSigningKey": create_signing_key(secrets, "acme-signing"),
    }
    env = template["Resources"]["VerifyFunction"]["Properties"]["Environment"]["Variables"]
    env = {k: refs[v["Ref"]] if isinstance(v, dict) else v for k, v in env.items()}
    env |= {"AWS_ENDPOINT_URL": moto_server, "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}

    def token(scope: str, user: str = "alice@acme.example") -> str:
        now = int(time.time())
        claims = {"sub": user, "tenant": "acme", "scope": scope, "aud": "mfa", "iat": now, "exp": now + 300}
        return jwt.encode(claims, secret, algorithm="HS256")

    spec = {
        "handlers": _handlers(template),
        "tokens": {"admin": token("mfa:admin", "admin@acme.example"), "settings": token("mfa:settings"),
                   "logon": token("mfa:logon")},
    }
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    dirs = [str(unpacked[name]) for name in ("task", "layer", "runtime")]
    result = _lambda_python(SERVE, *dirs, str(tmp_path / "spec.json"), env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    answers_ = out["answers"]

    def served(name: str, group: str, status: int) -> dict:
        handler, got, body = answers_[name]
        assert (handler, got) == (f"functions.entry.{group}.app", status), (name, answers_[name])
        return body

    assert served("health", "settings", 200) == {"status": "ok"}
    assert served("openapi", "settings", 200)["openapi"].startswith("3.")
    assert served("policy", "policy", 200)["two_factor"] == "on"
    assert served("enroll", "enroll", 200)["qr_png"].startswith("data:image/png;base64,")
    assert len(served("confirm", "confirm", 200)["recovery_codes"]) == 10
    assert served("logon", "verify", 200)["next"] == "verify"
    mfa_token = served("verify", "verify", 200)["mfa_token"]
    assert jwt.get_unverified_header(mfa_token)["alg"] == "ES256"
    assert served("wrong method", "settings", 405)["error"] == "method_not_allowed"
    origins = out["origins"]
    for module in ("functions", "chalice"):
        assert origins[module].startswith(str(unpacked["task"])), (module, origins[module])
    for module in ("mfa_core", "jwt", "pyotp", "qrcode", "cryptography"):
        assert origins[module].startswith(str(unpacked["layer"])), (module, origins[module])
    assert origins["boto3"].startswith(str(unpacked["runtime"]))
