"""`make mail`: what `make run` starts, plus Dovecot on 127.0.0.1 serving IMAP and SMTP submission whose password
database is the service's app passwords (integrations/dovecot/).

Dovecot's whole configuration, state, log and mail live in a folder of their own under the project's run
directory (`.run/mail/`, made anew at each start), never in /etc. The passdb is the shipped fragment
(integrations/dovecot/mfa-auth.conf.ext) with its paths pointed there: mfa_checkpassword.py signs a one-minute
`mfa:gateway` token with the local run's key and asks `POST /v1/app-passwords/check`; `domains` maps
example.com to tenant demo. Mail is a throwaway maildir per user; mail sent by submission is relayed to a sink
in this process that keeps each message in `outbox/`.

Local only: plaintext authentication without TLS on loopback. A real deployment requires TLS (README,
"Mail servers")."""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from infra import processes
from infra.local import env_port
from infra.mail_outbox import Outbox
from infra.processes import port_free

ROOT = Path(__file__).resolve().parent.parent
RUN_DIR = ROOT / ".run" / "mail"
INTEGRATION = ROOT / "integrations" / "dovecot"
FRAGMENT = INTEGRATION / "mfa-auth.conf.ext"
CHECKPASSWORD = INTEGRATION / "mfa_checkpassword.py"
# The fragment's paths, as an operator installs them; the local run points them at its own files.
FRAGMENT_PYTHON = "/usr/bin/python3"
FRAGMENT_SCRIPT = "/usr/local/lib/mfa/mfa_checkpassword.py"
FRAGMENT_SETTINGS = "/etc/dovecot/mfa-gateway.conf"
LOCAL_DOMAINS = {"example.com": "demo"}
GATEWAY_NAME = "dovecot-local"
DOVECOT_PACKAGES = "dovecot-imapd dovecot-submissiond"


class Unavailable(Exception):
    """Dovecot cannot run here as asked; str() is one line for the person at the terminal."""


def find_dovecot() -> str:
    """The path of Dovecot 2.3's master binary, or Unavailable saying what to install."""
    path = shutil.which("dovecot", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"]))
    if path is None:
        raise Unavailable(f"Dovecot is not installed: apt-get install {DOVECOT_PACKAGES} (make mail does it as root)")
    version = subprocess.run([path, "--version"], capture_output=True, text=True).stdout.strip()
    if not version.startswith("2.3."):
        raise Unavailable(f"Dovecot {version or '?'} found; this integration needs 2.3 (its checkpassword passdb "
                          "is gone in 2.4)")
    return path


def _mail_user() -> tuple[int, int, str, str, bool]:
    """(uid, gid, user, group, as_root) of the mail processes. Dovecot never opens mail as root: run as root,
    the mailboxes belong to `nobody` and each mail process is chrooted to the maildirs (so folders above them
    need not be open to it); otherwise everything runs as the current user."""
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        return nobody.pw_uid, nobody.pw_gid, "nobody", grp.getgrgid(nobody.pw_gid).gr_name, True
    me = pwd.getpwuid(os.geteuid())
    return me.pw_uid, me.pw_gid, me.pw_name, grp.getgrgid(me.pw_gid).gr_name, False


def fragment(python: str, settings: Path) -> str:
    """The shipped fragment with its interpreter, program and settings paths pointed at the local run's."""
    text = FRAGMENT.read_text()
    for shipped, local in ((FRAGMENT_PYTHON, python), (FRAGMENT_SCRIPT, str(CHECKPASSWORD)),
                           (FRAGMENT_SETTINGS, str(settings))):
        if shipped not in text:
            raise Unavailable(f"{FRAGMENT.name} no longer names {shipped}")
        text = text.replace(shipped, local)
    return text


def write_config(run_dir: Path, *, service_url: str, imap_port: int, submission_port: int, relay_port: int,
                 domains: dict[str, str] | None = None, key: str | None = None, algorithm: str = "HS256",
                 extra: str = "") -> Path:
    """Make `run_dir` anew with everything Dovecot needs; returns its dovecot.conf. The gateway's key is, unless
    given, the one the local run verifies callers' tokens with (what `make token` signs with)."""
    if key is None:
        from infra.local import LOCAL_ENV
        from mfa_core.config import Settings

        local = Settings.from_environ(LOCAL_ENV)
        if local.jwt_algorithm != "HS256":
            raise Unavailable(f"the local run verifies {local.jwt_algorithm} tokens: give the gateway a private key")
        key, algorithm = local.jwt_verify_key, "HS256"

    for path in (run_dir, ROOT, Path(sys.executable)):
        if " " in str(path):  # Dovecot splits the checkpassword command line at spaces
            raise Unavailable(f"Dovecot's checkpassword command cannot hold a space: {path}")
    master_pid = run_dir / "base" / "master.pid"
    with contextlib.suppress(OSError, ValueError):
        pid = int(master_pid.read_text())
        if b"dovecot" not in Path(f"/proc/{pid}/cmdline").read_bytes():  # a stale file: the pid is another's now
            raise ValueError
        raise Unavailable(f"another Dovecot (pid {pid}) uses {run_dir}: stop that make mail first")
    shutil.rmtree(run_dir, ignore_errors=True)
    for sub in ("base", "state", "outbox"):
        (run_dir / sub).mkdir(parents=True)
    uid, gid, user, group, as_root = _mail_user()
    maildirs = run_dir / "maildirs"
    maildirs.mkdir()
    os.chown(maildirs, uid, gid)
    os.chmod(maildirs, 0o700)

    key_file = run_dir / "gateway.key"
    key_file.touch(mode=0o600)
    key_file.write_text(key + "\n")
    domains_file = run_dir / "domains"
    domains_file.write_text("# mail domain -> tenant (integrations/dovecot/README.md)\n" + "".join(
        f"{domain} {tenant}\n" for domain, tenant in (domains or LOCAL_DOMAINS).items()))
    settings = run_dir / "mfa-gateway.conf"
    settings.write_text(f"url = {service_url}\ndomains = {domains_file}\nkey = {key_file}\n"
                        f"algorithm = {algorithm}\ngateway = {GATEWAY_NAME}\ntimeout = 5\n")
    (run_dir / "mfa-auth.conf.ext").write_text(fragment(sys.executable, settings))

    login_chroot = "" if as_root else "  chroot =\n"  # a chroot needs root
    if as_root:
        privileges = f"""# Run as root: the auth process runs the checkpassword program as root (so it reads the key and
# this project's interpreter wherever the clone is); mail processes run as {user}, chrooted to the maildirs.
service auth {{
  user = root
}}
mail_chroot = {maildirs}
valid_chroot_dirs = {maildirs}
mail_location = maildir:/%d/%n
"""
    else:
        privileges = f"""# Run unprivileged: every process runs as {user}; no chroot.
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
service anvil {{
  chroot =
}}
service ipc {{
  chroot =
}}
mail_location = maildir:{maildirs}/%d/%n
"""
    conf = run_dir / "dovecot.conf"
    conf.write_text(f"""# Written by `make mail` (infra/mail.py) at each start: edits are lost.
instance_name = mfa-mail-{imap_port}
base_dir = {run_dir / "base"}
state_dir = {run_dir / "state"}
log_path = {run_dir / "dovecot.log"}
protocols = imap submission
listen = 127.0.0.1
hostname = localhost

# Loopback only, for trying it: passwords in the clear, no TLS. A real deployment requires TLS.
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login

# The MFA service's app passwords (integrations/dovecot/mfa-auth.conf.ext, paths pointed here).
!include mfa-auth.conf.ext
userdb {{
  driver = static
  args = uid={uid} gid={gid}
}}
first_valid_uid = {uid}
first_valid_gid = {gid}
{privileges}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
{login_chroot}}}
service submission-login {{
  inet_listener submission {{
    address = 127.0.0.1
    port = {submission_port}
  }}
{login_chroot}}}
submission_relay_host = 127.0.0.1
submission_relay_port = {relay_port}
submission_relay_trusted = yes
{extra}""")
    return conf


class Dovecot:
    """A Dovecot master in the foreground, in a process group of its own; stop() ends it and its children."""

    def __init__(self, conf: Path, ports: tuple[int, ...]) -> None:
        self.conf, self.ports = conf, ports
        self.log = conf.parent / "dovecot.log"
        self.process: subprocess.Popen | None = None
        self.early = None

    def start(self, timeout: float = 15.0) -> Dovecot:
        binary = find_dovecot()
        checked = subprocess.run([binary, "-c", str(self.conf), "-n"], capture_output=True, text=True)
        if checked.returncode != 0:
            said = [line for line in checked.stderr.splitlines() if line.strip()] or ["no output"]
            raise Unavailable(f"Dovecot refuses its configuration: {said[-1]}")
        self.early = tempfile.TemporaryFile()  # what the master says before its log process runs
        self.process = subprocess.Popen([binary, "-F", "-c", str(self.conf)], stdin=subprocess.DEVNULL,
                                        stdout=self.early, stderr=subprocess.STDOUT,
                                        start_new_session=True, preexec_fn=processes.die_with_parent)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise Unavailable(f"Dovecot stopped at start: {self.last_fatal()}")
            if all(processes.answers(port) for port in self.ports):
                return self
            time.sleep(0.05)
        self.stop()
        raise Unavailable(f"Dovecot did not answer on 127.0.0.1:{self.ports} within {timeout:.0f} s")

    def last_fatal(self) -> str:
        lines = []
        with contextlib.suppress(OSError):
            lines = self.log.read_text(errors="replace").splitlines()
        if self.early is not None:
            self.early.seek(0)
            lines += self.early.read().decode(errors="replace").splitlines()
        fatal = [line for line in lines if "Fatal:" in line] or [line for line in lines if line.strip()]
        return fatal[-1].split("Fatal: ", 1)[-1] if fatal else f"exit status {self.process.returncode}"

    def stop(self) -> None:
        """SIGTERM to the master, which stops its children; whatever of its group is left after that is killed."""
        if self.process is None:
            return
        processes.stop(self.process)
        for _ in range(100):  # the children exit a moment after the master
            try:
                os.killpg(self.process.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.02)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)


def start(run_dir: Path, *, service_url: str, imap_port: int, submission_port: int, **config) -> tuple[Dovecot, Outbox]:
    """Dovecot answering on both ports, and its relay; stop both when done."""
    find_dovecot()
    for name, port in (("IMAP_PORT", imap_port), ("SUBMISSION_PORT", submission_port)):
        if not port_free(port):
            raise Unavailable(f"port {port} on 127.0.0.1 is taken: choose another ({name}=...)")
    outbox = Outbox(run_dir / "outbox")
    try:
        conf = write_config(run_dir, service_url=service_url, imap_port=imap_port, submission_port=submission_port,
                            relay_port=outbox.port, **config)
        return Dovecot(conf, (imap_port, submission_port)).start(), outbox
    except BaseException:
        outbox.stop()
        raise


def _interrupt(_signum, _frame):
    raise KeyboardInterrupt


def main() -> None:
    from infra import local

    run_dir = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else RUN_DIR
    try:
        port, imap_port = env_port("PORT", 8000), env_port("IMAP_PORT", 1143)
        submission_port = env_port("SUBMISSION_PORT", 1587)
        if not port_free(port):
            raise Unavailable(f"port {port} on 127.0.0.1 is taken: choose another (PORT=...)")
        dovecot, outbox = start(run_dir, service_url=f"http://127.0.0.1:{port}", imap_port=imap_port,
                                submission_port=submission_port)
    except Unavailable as e:
        sys.exit(f"make mail: {e}")
    shown = run_dir.relative_to(ROOT) if run_dir.is_relative_to(ROOT) else run_dir
    print(f"Dovecot on 127.0.0.1: IMAP {imap_port}, submission {submission_port} (plaintext, loopback only); "
          f"config, log and mail in {shown}/")
    print(f"Mailboxes of {', '.join(LOCAL_DOMAINS)} are users of tenant demo ({shown}/domains); "
          "log in with an app password (README, \"Mail servers\")")
    sys.stdout.flush()
    # A SIGTERM ends the run as Ctrl-C does, so Dovecot is stopped below (DYNAMODB=local replaces this
    # handler with one that dies by the signal; Dovecot then goes by its parent-death signal).
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        local.main()  # returns after Ctrl-C or SIGTERM
    finally:
        dovecot.stop()
        outbox.stop()
    sys.stdout.flush()
    os._exit(0)  # all is stopped: skip collecting the heap, which takes seconds after a long run


if __name__ == "__main__":
    main()
