"""Per-tenant packaging (`make package TENANT=...`, infra/package.py): the tenant folder, cfn-lint, the zips."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from infra import package as pkg
from tests.conftest import ROOT

pytest_plugins = ["tests.helpers_deploy"]  # the `built` stacks


def _names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as zf:
        return zf.namelist()


def test_the_tenant_dir_holds_the_template_and_both_zips(built):
    assert sorted(p.name for p in built.acme.iterdir()) == ["deployment.zip", "mfa-core-layer.zip", "sam.yaml"]
    resources = built.template()["Resources"]
    functions = [r for r in resources.values() if r["Type"] == "AWS::Serverless::Function"]
    assert len(functions) == 6 and all(f["Properties"]["CodeUri"] == "./deployment.zip" for f in functions)
    assert resources["MfaCoreLayer"]["Properties"]["ContentUri"] == "./mfa-core-layer.zip"


def test_cfn_lint_passes_on_both_templates(built):
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    result = subprocess.run(
        [str(cfn_lint), str(built.acme / "sam.yaml"), str(built.globex / "sam.yaml")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_function_zip_is_small_and_holds_only_the_handlers_and_chalice(built):
    path = built.acme / pkg.FUNCTION_ZIP
    assert path.stat().st_size < 1024 * 1024
    names = _names(path)
    tops = {n.split("/")[0] for n in names}
    # The contract as JSON made at packaging (no YAML parser in the function), not openapi.yaml.
    vendored = _vendored_tops() - {"openapi.yaml"}
    assert tops == {"app.py", "__pycache__", "functions", "chalice", "openapi.json"} | vendored
    for module in ("http", "enroll", "confirm", "verify", "delete", "policy", "settings", "gateway", "health"):
        assert f"functions/{module}.py" in names
    assert "functions/dev.py" not in names  # the local run's token minting is never deployed
    assert not any(n.endswith((".dist-info/METADATA", ".so")) for n in names)  # no wheel at all
    forbidden = ("boto3", "botocore", "moto", "PIL", "tests", "mfa_core", "jwt", "cryptography", "qrcode", "infra")
    assert not tops & set(forbidden)
    # Bytecode for the runtime's Python beside every module, as Lambda mounts the code (/var/task).
    sources = [n for n in names if n.endswith(".py")]
    for source in sources:
        folder, _, module = source.rpartition("/")
        compiled = f"{folder + '/' if folder else ''}__pycache__/{module[:-3]}.cpython-313.pyc"
        assert compiled in names, source
    with zipfile.ZipFile(path) as zf:
        assert b"/var/task/functions/verify.py" in zf.read("functions/__pycache__/verify.cpython-313.pyc")


def _vendored_tops() -> set[str]:
    """What else vendor/ ships (the web page's files, say): everything but the layer's packages."""
    return {p.name for p in (ROOT / "vendor").iterdir()} - pkg.LAYER_PACKAGES


def test_layer_zip_holds_mfa_core_and_the_runtime_wheels_for_lambda(built):
    path = built.acme / pkg.LAYER_ZIP
    names = _names(path)
    assert all(n.startswith("python/") for n in names)
    tops = {n.split("/")[1] for n in names}
    assert {"mfa_core", "jwt", "cryptography", "pyotp", "qrcode", "png.py"} <= tops
    for module in ("totp", "crypto", "storage/store", "auth", "config", "runtime", "usecases/logon"):
        assert f"python/mfa_core/{module}.py" in names
        folder, _, name = module.rpartition("/")
        assert f"python/mfa_core/{folder + '/' if folder else ''}__pycache__/{name}.cpython-313.pyc" in names
    assert not tops & {"boto3", "botocore", "moto", "PIL", "pillow", "tests", "bin", "functions", "chalice"}
    assert not [n for n in names if "/tests/" in n and n.startswith("python/mfa_core")]
    # Binary wheels for the runtime: CPython 3.13 (or the stable ABI), glibc <= 2.34 (Amazon Linux 2023), x86_64.
    with zipfile.ZipFile(path) as zf:
        wheels = {
            name: {line.split(":", 1)[1].strip() for line in zf.read(name).decode().splitlines() if line[:4] == "Tag:"}
            for name in names
            if name.endswith(".dist-info/WHEEL")
        }
    assert len(wheels) >= 5
    for name, tags in wheels.items():
        assert any(_runs_on_lambda(tag) for tag in tags), (name, tags)


def _runs_on_lambda(tag: str) -> bool:
    python, abi, platform = tag.split("-")
    if platform == "any":
        return abi == "none"
    manylinux = {"manylinux1_x86_64": 5, "manylinux2010_x86_64": 12, "manylinux2014_x86_64": 17}.get(platform)
    if platform.startswith("manylinux_2_") and platform.endswith("_x86_64"):
        manylinux = int(platform.split("_")[2])
    return (
        manylinux is not None
        and manylinux <= 34
        and (abi == "cp313" or (abi == "abi3" and python.startswith("cp3") and int(python[3:]) <= 13))
    )
