"""`make mail-latency` (with `make mail` running): what an app-password login costs, in three layers.

1. the service's check alone: `POST /v1/app-passwords/check` with a gateway token, over HTTP (on a kept
   connection, and on a new one each time as the program makes it);
2. the checkpassword program alone, run as Dovecot runs it (a new Python process, the request on fd 3): its
   start-up (a mailbox of an unmapped domain: no request), and start-up plus the check;
3. a whole IMAP LOGIN through Dovecot (the command sent -> its OK), and connect + LOGIN + LOGOUT.

Each is measured ROUNDS times (default 30) with a fresh app password of latency@example.com; medians and
95th percentiles are printed."""

from __future__ import annotations

import imaplib
import os
import statistics
import subprocess
import sys
import time

import jwt
import requests

from infra.mail import CHECKPASSWORD, RUN_DIR
from mfa_core.config import DEV_SECRET

USER = "latency@example.com"


def token(sub: str, scope: str) -> str:
    now = int(time.time())
    claims = {"sub": sub, "tenant": "demo", "scope": scope, "aud": "mfa", "iat": now, "exp": now + 600}
    return jwt.encode(claims, DEV_SECRET, algorithm="HS256")


def program(password: str | None) -> None:
    """One run of the program as Dovecot makes it; with no password, one that exits before any request (an
    unmapped domain): its start-up alone."""
    read, write = os.pipe()
    os.write(write, f"{USER if password else 'nobody@unmapped.example'}\0{password or ''}\0\0".encode())
    os.close(write)
    try:
        done = subprocess.run([sys.executable, str(CHECKPASSWORD), str(RUN_DIR / "mfa-gateway.conf"), "/bin/true"],
                              pass_fds=(3,), preexec_fn=lambda: os.dup2(read, 3), capture_output=True)
    finally:
        os.close(read)
    if done.returncode != (0 if password else 1):
        raise SystemExit(f"the checkpassword program answered {done.returncode}: {done.stderr.decode().strip()}")


def imap(port: int, password: str) -> float:
    """Seconds from sending LOGIN to its OK."""
    client = imaplib.IMAP4("127.0.0.1", port, timeout=10)
    started = time.perf_counter()
    client.login(USER, password)
    took = time.perf_counter() - started
    client.logout()
    return took


def timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def show(name: str, seconds: list[float]) -> None:
    ms = sorted(s * 1000 for s in seconds)
    p95 = ms[min(len(ms) - 1, round(0.95 * len(ms)) - 1)]
    print(f"{name:<48} median {statistics.median(ms):6.1f} ms   p95 {p95:6.1f} ms")


def main() -> None:
    base = f"http://127.0.0.1:{os.environ.get('PORT', '8000')}"
    port = int(os.environ.get("IMAP_PORT", "1143"))
    rounds = int(os.environ.get("ROUNDS", "30"))
    if not (RUN_DIR / "mfa-gateway.conf").is_file():
        raise SystemExit("start `make mail` first (in another terminal)")
    settings = {"Authorization": f"Bearer {token(USER, 'mfa:settings')}"}
    try:
        made = requests.post(f"{base}/v1/app-passwords", json={"label": "latency"}, headers=settings, timeout=10)
    except requests.ConnectionError:
        raise SystemExit(f"nothing answers on {base}: start `make mail` first (same PORT)") from None
    password = made.json()["password"]
    gateway = {"Authorization": f"Bearer {token('latency-probe', 'mfa:gateway')}"}
    session = requests.Session()

    def check(fresh: bool = False):
        client = requests if fresh else session
        r = client.post(f"{base}/v1/app-passwords/check", json={"user": USER, "password": password},
                        headers=gateway, timeout=10)
        assert r.json() == {"valid": True}, r.text

    for _ in range(3):  # warm up: first requests, first Dovecot processes
        check(), program(password), imap(port, password)
    show("service check (HTTP, keep-alive)", [timed(check) for _ in range(rounds)])
    show("service check (HTTP, a new connection each)", [timed(lambda: check(fresh=True)) for _ in range(rounds)])
    show("checkpassword program, no request (start-up)", [timed(lambda: program(None)) for _ in range(rounds)])
    show("checkpassword program (process + check)", [timed(lambda: program(password)) for _ in range(rounds)])
    show("IMAP LOGIN through Dovecot", [imap(port, password) for _ in range(rounds)])
    show("IMAP connect + LOGIN + LOGOUT", [timed(lambda: imap(port, password)) for _ in range(rounds)])
    requests.delete(f"{base}/v1/app-passwords/{made.json()['id']}", headers=settings, timeout=10)


if __name__ == "__main__":
    main()
