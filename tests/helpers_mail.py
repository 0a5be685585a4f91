"""What the mail tests share: `make mail` (or the service alone) in a subprocess, real IMAP and SMTP clients
that connect from a loopback address of their own, and the API calls that make, revoke and throttle app
passwords.

Dovecot delays each failed login by `auth_failure_delay` (2 s) and, for the next logins from the same IP,
by a penalty that doubles up to 15 s: every client here connects from its own 127.0.0.x, so no test pays for
another's failures."""

from __future__ import annotations

import contextlib
import imaplib
import itertools
import os
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

from infra.processes import free_port
from mfa_core.config import DEV_SECRET
from tests.conftest import ROOT, make_token

ALICE = "alice@example.com"
GATEWAY = "dovecot-local"  # infra/mail.py's gateway name: the `sub` of the tokens it signs
_sources = itertools.count(10)


def source_address() -> str:
    """A loopback address no earlier client used (127.0.0.10, .11, ...; 127/8 is all loopback on Linux)."""
    n = next(_sources)
    return f"127.0.{n // 250}.{n % 250 + 2}"


class IMAP(imaplib.IMAP4):
    """imaplib's client, connecting from its own loopback address."""

    def __init__(self, port: int) -> None:
        self._source = source_address()
        super().__init__("127.0.0.1", port, timeout=20)

    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout, source_address=(self._source, 0))


def smtp(port: int) -> smtplib.SMTP:
    client = smtplib.SMTP("127.0.0.1", port, timeout=20, source_address=(source_address(), 0))
    client.ehlo("client.example")
    return client


def _said(error: Exception) -> bytes:
    said = error.args[0] if error.args else b""
    return said if isinstance(said, bytes) else str(said).encode()


def imap_login(port: int, user: str, password: str) -> tuple[str, bytes]:
    """(status, text) of IMAP LOGIN: ("OK", b"Logged in") or ("NO", b"[AUTHENTICATIONFAILED] ...")."""
    return _imap_answer(port, lambda client: client.login(user, password))


def imap_authenticate_plain(port: int, user: str, password: str) -> tuple[str, bytes]:
    """(status, text) of IMAP AUTHENTICATE PLAIN."""
    return _imap_answer(port, lambda client: client.authenticate("PLAIN", lambda _: f"\0{user}\0{password}".encode()))


def _imap_answer(port: int, log_in) -> tuple[str, bytes]:
    client = IMAP(port)
    try:
        status, data = log_in(client)
        return status, data[-1]
    except imaplib.IMAP4.error as e:
        return "NO", _said(e)
    finally:
        with contextlib.suppress(Exception):
            client.logout()


def smtp_auth_plain(port: int, user: str, password: str) -> tuple[int, bytes]:
    """(code, text) of SMTP AUTH PLAIN: 235, 535 or 454."""
    client = smtp(port)
    try:
        return client.auth("PLAIN", lambda challenge=None: f"\0{user}\0{password}", initial_response_ok=True)
    except smtplib.SMTPResponseException as e:  # 535 is its subclass SMTPAuthenticationError
        return e.smtp_code, e.smtp_error
    finally:
        with contextlib.suppress(Exception):
            client.quit()


def at_once(*calls):
    """Run the calls (each `lambda: ...`) in parallel and return their results in order: each failed login
    waits out Dovecot's delay (2 s), and these wait for theirs together."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(len(calls)) as pool:
        return [f.result() for f in [pool.submit(call) for call in calls]]


class Api:
    """The service over HTTP, with tokens signed by the local run's key."""

    def __init__(self, url: str) -> None:
        self.url = url

    def call(self, method: str, path: str, token: str, body: dict | None = None) -> requests.Response:
        return requests.request(method, self.url + path, json=body, timeout=10,
                                headers={"Authorization": f"Bearer {token}"})

    def app_password(self, user: str = ALICE, tenant: str = "demo") -> dict:
        r = self.call("POST", "/v1/app-passwords", make_token(user, tenant, "mfa:settings"), {"label": "Mail client"})
        assert r.status_code == 201, r.text
        return r.json()

    def revoke(self, made: dict, user: str = ALICE, tenant: str = "demo") -> None:
        r = self.call("DELETE", f"/v1/app-passwords/{made['id']}", make_token(user, tenant, "mfa:settings"))
        assert r.status_code == 200, r.text

    def check(self, user: str, password: str, tenant: str = "demo") -> requests.Response:
        return self.call("POST", "/v1/app-passwords/check", make_token(GATEWAY, tenant, "mfa:gateway"),
                         {"user": user, "password": password})

    def throttle(self, user: str, tenant: str = "demo") -> None:
        """Wrong checks until the service answers 429 for `user`, early enough in a clock minute (the
        throttle's window) that the next check, a moment later, falls in the same one."""
        if time.time() % 60 > 50:
            time.sleep(60.5 - time.time() % 60)
        for _ in range(30):
            if self.check(user, "aaaa bbbb cccc dddd", tenant).status_code == 429:
                return
        raise AssertionError(f"no 429 for {user}")


def _env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MFA_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "layers" / "mfa_core" / "python")])
    env.update(extra)
    return env


class Process:
    """A `python -m MODULE` of this project in a process group of its own, read line by line; ready once
    it says `ready`."""

    def __init__(self, module: str, args: list[str], env: dict, ready: str, timeout: float = 60) -> None:
        self.lines: list[str] = []
        self.process = subprocess.Popen([sys.executable, "-m", module, *args], cwd=ROOT, env=env, text=True,
                                        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        seen = threading.Event()

        def read():
            for line in self.process.stdout:
                self.lines.append(line.rstrip("\n"))
                if ready in line:
                    seen.set()

        threading.Thread(target=read, daemon=True).start()
        deadline = time.monotonic() + timeout
        while not seen.wait(0.1):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"{module} did not start:\n" + "\n".join(self.lines[-20:]))

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        return self.process.returncode


class MailRun:
    """`make mail` (python -m infra.mail) on free ports, with its run directory at `run_dir`."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.port, self.imap, self.submission = free_port(), free_port(), free_port()
        env = _env(PORT=str(self.port), IMAP_PORT=str(self.imap), SUBMISSION_PORT=str(self.submission))
        self.process = Process("infra.mail", [str(run_dir)], env, ready="Serving on")
        self.api = Api(f"http://127.0.0.1:{self.port}")

    @property
    def log(self) -> str:
        return (self.run_dir / "dovecot.log").read_text(errors="replace")

    def stop(self) -> int:
        return self.process.stop()


class Service:
    """The service alone (python -m infra.local, as `make run` starts it) on `port`, to stop under Dovecot."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.process = Process("infra.local", [], _env(PORT=str(port)), ready="Serving on")
        self.api = Api(f"http://127.0.0.1:{port}")

    def stop(self) -> int:
        return self.process.stop()


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def dovecot_master(run_dir: Path) -> int:
    return int((run_dir / "base" / "master.pid").read_text())


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for localhost and its key (PEM files), for Dovecot's TLS."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.touch(mode=0o600)
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


def stock_dovecot(root: Path, *, service_url: str, imap_port: int, submission_port: int):
    """Debian's own Dovecot configuration (its pristine copy in /usr/share/dovecot) set up as
    integrations/dovecot/README.md tells an operator: the program and the fragment installed, 10-auth.conf's
    system passdb swapped for the fragment, a static userdb, maildirs, `ssl = required`. Only what a test
    must change besides goes to local.conf: folders under `root` instead of /etc, /run and /var, loopback ports.
    Runs as Debian runs it: the auth process, and so the program, as user dovecot. Needs root."""
    import grp
    import pwd
    import shutil

    from infra.mail import FRAGMENT, FRAGMENT_SCRIPT, FRAGMENT_SETTINGS, Dovecot

    dovecot_gid = grp.getgrnam("dovecot").gr_gid
    etc, lib, vmail = root / "etc", root / "lib", root / "vmail"
    root.chmod(0o755)  # user dovecot runs the program from here
    shutil.copytree("/usr/share/dovecot/conf.d", etc / "conf.d")
    shutil.copy("/usr/share/dovecot/dovecot.conf", etc / "dovecot.conf")
    lib.mkdir()
    shutil.copy(ROOT / "integrations" / "dovecot" / "mfa_checkpassword.py", lib / "mfa_checkpassword.py")
    (lib / "mfa_checkpassword.py").chmod(0o755)

    def private(path: Path, text: str) -> Path:  # install -m 0640 -g dovecot
        path.write_text(text)
        path.chmod(0o640)
        os.chown(path, 0, dovecot_gid)
        return path

    domains = private(etc / "mfa-domains", "example.com demo\n")
    key = private(etc / "mfa-gateway.key", DEV_SECRET + "\n")
    settings = private(etc / "mfa-gateway.conf", f"domains = {domains}\nurl = {service_url}\nkey = {key}\n"
                                                 "gateway = dovecot-stock\n")
    (etc / "conf.d" / "mfa-auth.conf.ext").write_text(
        FRAGMENT.read_text().replace(FRAGMENT_SCRIPT, str(lib / "mfa_checkpassword.py"))
        .replace(FRAGMENT_SETTINGS, str(settings)))

    auth = etc / "conf.d" / "10-auth.conf"
    text = auth.read_text()
    assert "\n!include auth-system.conf.ext\n" in text
    userdb = f"userdb {{\n  driver = static\n  args = uid=nobody gid=nogroup home={vmail}/%d/%n\n}}\n"
    auth.write_text(text.replace("\n!include auth-system.conf.ext\n",
                                 "\n#!include auth-system.conf.ext\n!include mfa-auth.conf.ext\n" + userdb))
    mail = etc / "conf.d" / "10-mail.conf"
    mail.write_text(mail.read_text().replace("\nmail_location = mbox:~/mail:INBOX=/var/mail/%u\n",
                                             "\nmail_location = maildir:~/Maildir\n"))
    cert, cert_key = self_signed(etc)
    tls = etc / "conf.d" / "10-ssl.conf"
    tls.write_text(tls.read_text().replace("\nssl = yes\n", "\nssl = required\n")
                   .replace("</etc/dovecot/private/dovecot.pem", f"<{cert}")
                   .replace("</etc/dovecot/private/dovecot.key", f"<{cert_key}"))
    vmail.mkdir()
    nobody = pwd.getpwnam("nobody")
    os.chown(vmail, nobody.pw_uid, nobody.pw_gid)
    for folder in ("base", "state"):
        (root / folder).mkdir()
    (etc / "local.conf").write_text(f"""base_dir = {root / "base"}
state_dir = {root / "state"}
log_path = {root / "dovecot.log"}
instance_name = mfa-stock-{imap_port}
listen = 127.0.0.1
protocols = imap submission
hostname = localhost
submission_relay_host = 127.0.0.1
submission_relay_port = 9
service imap-login {{
  inet_listener imap {{
    port = {imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service submission-login {{
  inet_listener submission {{
    port = {submission_port}
  }}
}}
""")
    return Dovecot(etc / "dovecot.conf", (imap_port, submission_port)).start()


def users_of(pgid: int, title_end: str) -> set[str]:
    """The users running the processes of group `pgid` whose title ends with `title_end` ("/auth")."""
    import pwd

    users = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if os.getpgid(int(entry.name)) == pgid and (entry / "cmdline").read_bytes().rstrip(b"\0").endswith(
                    title_end.encode()):
                users.add(pwd.getpwuid(entry.stat().st_uid).pw_name)
    return users
