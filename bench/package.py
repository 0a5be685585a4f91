"""Package sizes: the real per-tenant zips of `make package` (dist/<tenant>/) when they exist, else what
`chalice package` produces for the dev stage, with its zip split into our code and third-party wheels."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from bench.harness import ROOT

FUNCTION_ZIP = "deployment.zip"
LAYER_ZIP = "mfa-core-layer.zip"
OURS = ("app.py", "functions/", "mfa_core/", "web/", "openapi.json", "openapi.yaml")
LAMBDA_LIMIT_UNZIPPED = 250 * 1024 * 1024  # function + layers, unzipped


def _unzipped(path: Path) -> int:
    with zipfile.ZipFile(path) as zf:
        return sum(i.file_size for i in zf.infolist())


def _split(path: Path) -> dict:
    """Compressed bytes of our own files vs. everything else in a zip (top-level names)."""
    ours = other = 0
    packages: dict[str, int] = {}
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            name = info.filename.removeprefix("python/")
            if name.startswith(OURS):
                ours += info.compress_size
            else:
                other += info.compress_size
                top = name.split("/")[0]
                packages[top] = packages.get(top, 0) + info.compress_size
    biggest = dict(sorted(packages.items(), key=lambda kv: -kv[1])[:5])
    return {"ours": ours, "third_party": other, "largest_third_party": biggest}


def _built(path: Path) -> str:
    import datetime

    return datetime.datetime.fromtimestamp(path.stat().st_mtime, datetime.UTC).strftime("%Y-%m-%dT%H:%MZ")


def from_dist() -> dict | None:
    dist = ROOT / "dist"
    tenants = sorted(
        (d for d in dist.glob("*") if (d / FUNCTION_ZIP).is_file() and (d / LAYER_ZIP).is_file()),
        key=lambda d: (d / FUNCTION_ZIP).stat().st_mtime,
    )
    if not tenants:
        return None
    d = tenants[-1]
    function, layer = d / FUNCTION_ZIP, d / LAYER_ZIP
    return {
        "function": function.stat().st_size,
        "layer": layer.stat().st_size,
        "function_unzipped": _unzipped(function),
        "layer_unzipped": _unzipped(layer),
        "layer_split": _split(layer),
        "source": f"dist/{d.name}/ (make package, built {_built(function)})",
    }


def from_chalice_package(timeout_s: int = 600) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MFA_")}
    env |= {"MFA_JWT_SECRET": "packaging-only-" + "x" * 32, "AWS_DEFAULT_REGION": "us-east-1",
            "MFA_SIGNING_KEY_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:mfa-signing-key"}
    chalice = str(Path(sys.executable).with_name("chalice"))
    with tempfile.TemporaryDirectory() as out:
        done = subprocess.run(  # noqa: S603 (our own venv's chalice, fixed arguments)
            [chalice, "package", "--stage", "dev", out],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
        if done.returncode != 0:
            return {"function": None, "layer": None, "source": "chalice package failed", "error": done.stderr[-500:]}
        function = Path(out) / FUNCTION_ZIP
        layers = sorted(Path(out).glob("*layer*.zip"))
        return {
            "function": function.stat().st_size,
            "layer": layers[0].stat().st_size if layers else None,
            "function_unzipped": _unzipped(function),
            "function_split": _split(function),
            "source": "chalice package --stage dev (no dist/<tenant>/ yet: one zip, our code and wheels together)",
        }


def measure() -> dict:
    return from_dist() or from_chalice_package()
