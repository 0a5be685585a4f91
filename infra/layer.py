"""The mfa_core layer of `make package` (infra/package.py): layers/mfa_core/python plus the runtime wheels
of requirements.txt, as the Lambda runtime loads them (python3.13 on Amazon Linux 2023: CPython 3.13, glibc
2.34, x86_64), in one zip.

Wheels are cached under build/ by requirements.txt's content; everything ships as bytecode compiled by a
CPython 3.13 (the runtime's own version: a .pyc of another version is ignored and recompiled at every cold
start), and the zip is the same for the same code (fixed timestamps), so a new build makes no new layer version.
"""

from __future__ import annotations

import functools
import glob
import hashlib
import os
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

# What the Lambda runtime can load: glibc 2.34 runs every older manylinux wheel, which pip takes only when
# each platform tag is named.
RUNTIME = "python3.13"
PYTHON_VERSION = "3.13"
PLATFORMS = ("manylinux_2_34_x86_64", "manylinux_2_28_x86_64", "manylinux2014_x86_64")
# In the layer, not the function: a copy in the function would shadow the layer's.
LAYER_PACKAGES = {"mfa_core"}
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed, so the same code gives the same zip (and no new layer version)


class NoLambdaPython(RuntimeError):
    pass


@functools.cache
def lambda_python() -> str:
    """A CPython of the runtime's version, to compile the bytecode: $LAMBDA_PYTHON, pyenv's, or one on the
    PATH (a pyenv shim there may be a stub that does not run: each is tried)."""
    pyenv_root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    candidates = [os.environ.get("LAMBDA_PYTHON")]
    candidates += sorted(glob.glob(f"{pyenv_root}/versions/{PYTHON_VERSION}.*/bin/python{PYTHON_VERSION}"))
    candidates.append(shutil.which(f"python{PYTHON_VERSION}"))
    check = f"import sys; sys.exit(sys.version_info[:2] != ({PYTHON_VERSION.replace('.', ', ')}))"
    for candidate in filter(None, candidates):
        if subprocess.run([candidate, "-c", check], capture_output=True).returncode == 0:
            return candidate
    raise NoLambdaPython(
        f"no Python {PYTHON_VERSION} found to compile the {RUNTIME} bytecode: install it (pyenv install "
        f"{PYTHON_VERSION}) or name it with LAMBDA_PYTHON=/path/to/python{PYTHON_VERSION}"
    )


def runtime_dependencies(cache: Path, requirements: Path = REQUIREMENTS) -> Path:
    """requirements.txt installed for the Lambda runtime, cached by its content: the layer's site dir."""
    args = [arg for platform in PLATFORMS for arg in ("--platform", platform)]
    args += ["--implementation", "cp", "--python-version", PYTHON_VERSION]
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
    compile_tree(partial, "/opt/python")
    try:
        partial.rename(target)
    except OSError:  # another packaging run finished the same build first
        shutil.rmtree(partial)
    return target


def compile_tree(directory: Path, mounted_at: str) -> None:
    """Bytecode for the runtime's Python, so a cold start does not compile (the code is read-only there).

    Unchecked hashes: valid whatever the zip's timestamps; source paths named as Lambda mounts them
    (/opt/python for the layer, /var/task for the function) so tracebacks read right."""
    subprocess.run(
        [lambda_python(), "-m", "compileall", "-q", "-j", "1", "--invalidation-mode", "unchecked-hash",
         "-d", mounted_at, str(directory)],
        check=True,
    )


def build_layer(out: Path, work: Path, cache: Path) -> Path:
    """The layer zip: python/ = mfa_core + the runtime dependencies."""
    core = work / "layer" / "python"
    shutil.rmtree(core.parent, ignore_errors=True)
    for name in sorted(LAYER_PACKAGES):
        shutil.copytree(LAYER_SOURCE / name, core / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    compile_tree(core, "/opt/python")
    write_zip(out, [(runtime_dependencies(cache), "python"), (core, "python")])
    return out


def write_zip(out: Path, trees: Iterable[tuple[Path, str]]) -> None:
    files = {}
    for tree, prefix in trees:
        for path in tree.rglob("*"):
            if path.is_file():
                files[f"{prefix}/{path.relative_to(tree).as_posix()}".lstrip("/")] = path
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o755 if os.access(files[name], os.X_OK) else 0o644) << 16
            zf.writestr(info, files[name].read_bytes())


if __name__ == "__main__":
    # `python -m infra.layer --python`: the CPython 3.13 the build uses (the Makefile's 3.13 test venv).
    if sys.argv[1:] != ["--python"]:
        sys.exit("usage: python -m infra.layer --python")
    try:
        print(lambda_python())
    except NoLambdaPython as e:
        sys.exit(f"layer: {e}")
