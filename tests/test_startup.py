"""Start-up configuration: a deployment without a token key does not start; dev-only routes stay local;
a container makes each AWS client when a request first needs it, and only once."""

import os
import subprocess
import sys
import threading
import time
import zipfile

import boto3
import pytest

from mfa_core import runtime
from tests.conftest import ROOT, run_python

BASE = {
    "MFA_TABLE": "mfa",
    "MFA_KMS_KEY_ID": "alias/mfa",
    "MFA_SIGNING_KEY_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:mfa-signing-key",
}


def test_missing_token_key_stops_the_app_at_import():
    result = run_python("import app", env=BASE, check=False)
    assert result.returncode != 0
    assert "MFA_JWT_SECRET" in result.stderr


def test_the_default_secret_exists_only_in_dev_mode():
    result = run_python("import app; print(app.SETTINGS.jwt_verify_key)", env=BASE | {"MFA_DEV_MODE": "1"})
    assert result.stdout.strip() == "local-dev-secret-not-for-production"
    result = run_python("import app", env=BASE | {"MFA_DEV_MODE": "0"}, check=False)
    assert result.returncode != 0


def test_dev_routes_exist_only_in_dev_mode():
    code = "import app; print(sorted(p for p in app.app.routes if p.startswith('/v1/dev/')))"
    assert run_python(code, env=BASE | {"MFA_JWT_SECRET": "s" * 40}).stdout.strip() == "[]"
    assert run_python(code, env=BASE | {"MFA_DEV_MODE": "1"}).stdout.strip() == "['/v1/dev/outbox', '/v1/dev/token']"


def test_no_signing_keys_stop_the_app():
    env = {k: v for k, v in BASE.items() if k != "MFA_SIGNING_KEY_ARN"} | {"MFA_JWT_SECRET": "s" * 40}
    result = run_python("import app", env=env, check=False)
    assert result.returncode != 0
    assert "MFA_SIGNING_KEY_ARN" in result.stderr


def test_invalid_pinned_tenant_stops_the_app():
    result = run_python("import app", env=BASE | {"MFA_DEV_MODE": "1", "MFA_TENANT": "Not A Tenant"}, check=False)
    assert result.returncode != 0 and "MFA_TENANT" in result.stderr


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    out = tmp_path_factory.mktemp("package")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MFA_")}
    env |= {"MFA_JWT_SECRET": "packaging-only-" + "x" * 32, "AWS_DEFAULT_REGION": "us-east-1",
            "MFA_SIGNING_KEY_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:mfa-signing-key"}
    chalice = os.path.join(os.path.dirname(sys.executable), "chalice")
    subprocess.run(
        [chalice, "package", "--stage", "dev", str(out)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return out


def test_chalice_package_ships_the_handlers_and_the_shared_core(package):
    with zipfile.ZipFile(package / "deployment.zip") as zf:
        names = set(zf.namelist())
    assert "app.py" in names
    for module in ("enroll", "confirm", "verify", "delete", "policy", "http"):
        assert f"functions/{module}.py" in names
    for module in ("totp", "crypto", "storage/store", "auth", "config", "usecases/kernel", "policy", "lockout", "qr"):
        assert f"mfa_core/{module}.py" in names
    assert not any(n.startswith(("boto3/", "botocore/", "moto/", "PIL/", "tests/", "infra/")) for n in names)
    assert (package / "sam.json").exists()


@pytest.fixture
def clients_made(aws):
    """The services whose boto3 clients are made from here on, in order, by a new container's runtime."""
    made = []

    def count(event_name, **_):
        made.append(event_name.rpartition(".")[2])

    events = boto3._get_default_session().events
    events.register("creating-client-class", count, unique_id="clients-made")
    yield made
    events.unregister("creating-client-class", unique_id="clients-made")


def test_a_request_makes_only_the_clients_it_needs(api, clients_made):
    runtime.reset()
    runtime.current().clock = api.clock
    assert clients_made == []  # a container makes nothing before its first request
    r = api.as_user("GET", "/v1/policy", user="admin@example.com", scope="mfa:admin")
    assert r.status_code == 200, r.json
    assert clients_made == ["dynamodb"]
    assert api.as_user("POST", "/v1/authenticator/enroll", {}).status_code == 200  # seals the secret: KMS
    assert clients_made == ["dynamodb", "kms"]


def test_threads_asking_at_once_share_one_client(aws, clients_made):
    """Real threads, each asking while the first is still making the client (slowed down)."""
    runtime.reset()
    rt = runtime.current()
    events = boto3._get_default_session().events
    events.register("creating-client-class.dynamodb", lambda **_: time.sleep(0.2), unique_id="slow-client")
    start = threading.Barrier(8)
    stores = []

    def ask():
        start.wait()
        stores.append(rt.store)

    try:
        threads = [threading.Thread(target=ask) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
    finally:
        events.unregister("creating-client-class.dynamodb", unique_id="slow-client")
    assert clients_made == ["dynamodb"] and len(stores) == 8 and len({id(s) for s in stores}) == 1
