"""The mfa_core layer of `make package` (infra/package.py): layers/mfa_core/python plus the runtime wheels
of requirements.txt, as the Lambda runtime loads them (manylinux2014 x86_64, CPython 3.11), in one zip.

Wheels are cached under build/ by requirements.txt's content; everything ships as bytecode for the runtime's
Python, and the zip is the same for the same code (fixed timestamps), so a new build makes no new layer version.
"""

from __future__ import annotations

import compileall
import hashlib
import os
import py_compile
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYER_SOURCE = ROOT / "layers" / "mfa_core" / "python"
REQUIREMENTS = ROOT / "requirements.txt"

LAYER_ZIP = "mfa-core-layer.zip"  # the name infra/tenant-stack.yaml's ContentUri gives

# What the Lambda runtime (python3.11 on Amazon Linux 2, glibc 2.26) can load.
PYTHON_VERSION = "3.11"
PLATFORM = "manylinux2014_x86_64"
# In the layer, not the function: a copy in the function would shadow the layer's.
LAYER_PACKAGES = {"mfa_core"}
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed, so the same code gives the same zip (and no new layer version)


def runtime_dependencies(cache: Path, requirements: Path = REQUIREMENTS) -> Path:
    """requirements.txt installed for the Lambda runtime, cached by its content: the layer's site dir."""
    args = ["--platform", PLATFORM, "--implementation", "cp", "--python-version", PYTHON_VERSION]
    args += ["--only-binary=:all:", "--no-compile"]
    key = hashlib.sha256(requirements.read_bytes() + " ".join(args).encode()).hexdigest()[:16]
    target = cache / "layer-deps" / key
    if target.is_dir():
        return target
    partial = target.with_name(f"{key}.{os.getpid()}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--target", str(partial)]
        + args
        + ["-r", str(requirements)],
        check=True,
    )
    # Console scripts carry this machine's interpreter path and are never run in Lambda.
    shutil.rmtree(partial / "bin", ignore_errors=True)
    _compile(partial)
    try:
        partial.rename(target)
    except OSError:  # another packaging run finished the same build first
        shutil.rmtree(partial)
    return target


def _compile(directory: Path) -> None:
    """Bytecode for the runtime's Python, so a cold start does not compile (the layer is read-only).

    Unchecked hashes: valid whatever the zip's timestamps; named as Lambda mounts them (/opt/python)."""
    if sys.version_info[:2] != tuple(int(p) for p in PYTHON_VERSION.split(".")):
        return
    compileall.compile_dir(
        directory,
        ddir="/opt/python",
        quiet=2,
        workers=1,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )


def build_layer(out: Path, work: Path, cache: Path) -> Path:
    """The layer zip: python/ = mfa_core + the runtime dependencies."""
    core = work / "layer" / "python"
    shutil.rmtree(core.parent, ignore_errors=True)
    for name in sorted(LAYER_PACKAGES):
        shutil.copytree(LAYER_SOURCE / name, core / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    _compile(core)
    write_zip(out, [(runtime_dependencies(cache), "python"), (core, "python")])
    return out


def write_zip(out: Path, trees: Iterable[tuple[Path, str]]) -> None:
    files = {}
    for tree, prefix in trees:
        for path in tree.rglob("*"):
            if path.is_file():
                files[f"{prefix}/{path.relative_to(tree).as_posix()}"] = path
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o755 if os.access(files[name], os.X_OK) else 0o644) << 16
            zf.writestr(info, files[name].read_bytes())
