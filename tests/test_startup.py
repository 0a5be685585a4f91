"""Start-up configuration: a deployment without a token key does not start; dev-only routes stay local."""

import os
import subprocess
import sys
import zipfile

import pytest

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
