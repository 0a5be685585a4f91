"""`make mail` against a real Dovecot (Debian's 2.3, installed by `make test`), with Python's imaplib and
smtplib as the mail clients: app passwords log in by IMAP LOGIN, IMAP AUTHENTICATE PLAIN and SMTP AUTH PLAIN;
wrong, revoked and unmapped are refused; a throttled check and a stopped service are temporary failures."""

from __future__ import annotations

import imaplib
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from infra.mail import find_dovecot, start
from infra.processes import free_port
from tests.helpers_mail import (
    ALICE,
    IMAP,
    MailRun,
    Service,
    _env,
    at_once,
    dovecot_master,
    group_alive,
    imap_authenticate_plain,
    imap_login,
    smtp,
    smtp_auth_plain,
    stock_dovecot,
    users_of,
)

AUTHENTICATION_FAILED = b"[AUTHENTICATIONFAILED] Authentication failed."
TEMPORARY = b"[UNAVAILABLE] Temporary authentication failure."
WRONG = "aaaa bbbb cccc dddd"
used_passwords: list[str] = []  # every password a test sent: none may reach a log


def temporary(answer: tuple[str, bytes]) -> bool:
    """IMAP's temporary failure; Dovecot adds "[host:time]" so that its log can be searched for it."""
    status, text = answer
    return status == "NO" and text.startswith(TEMPORARY + b" [")


def smtp_temporary(answer: tuple[int, bytes]) -> bool:
    code, text = answer
    return code == 454 and text.startswith(b"4.7.0 Temporary authentication failure. [")


@pytest.fixture(scope="module")
def mail(tmp_path_factory):
    find_dovecot()  # Dovecot missing here means `make test` did not install it: fail loudly, never skip
    run = MailRun(tmp_path_factory.mktemp("mail"))
    yield run
    run.stop()


def app_password(mail, user=ALICE) -> str:
    password = mail.api.app_password(user)["password"]
    used_passwords.append(password)
    return password


# --- a valid app password logs in --------------------------------------------------------------


def test_imap_login_with_an_app_password_opens_the_inbox(mail):
    password = app_password(mail)
    client = IMAP(mail.imap)
    assert client.login(ALICE, password) == ("OK", [b"Logged in"])
    assert client.select("INBOX") == ("OK", [b"0"])
    assert client.append("INBOX", None, None, b"Subject: hello\r\n\r\nFirst message.\r\n")[0] == "OK"
    assert client.select("INBOX") == ("OK", [b"1"])
    client.logout()


def test_imap_authenticate_plain_logs_in(mail):
    password = app_password(mail)
    assert imap_authenticate_plain(mail.imap, ALICE, password) == ("OK", b"Logged in")


def test_the_password_may_be_typed_without_spaces_and_in_capitals(mail):
    password = app_password(mail)
    assert imap_login(mail.imap, ALICE, password.replace(" ", "").upper()) == ("OK", b"Logged in")


def test_smtp_submission_auth_plain_logs_in_and_sends(mail):
    password = app_password(mail)
    client = smtp(mail.submission)
    assert "PLAIN" in client.esmtp_features["auth"].split()
    assert client.login(ALICE, password) == (235, b"2.7.0 Logged in.")
    refused = client.sendmail(ALICE, ["bob@example.com"], b"Subject: hi\r\n\r\nSent by submission.\r\n")
    assert refused == {}
    client.quit()
    [kept] = (mail.run_dir / "outbox").iterdir()
    assert b"Sent by submission." in kept.read_bytes()


# --- refused -----------------------------------------------------------------------------------


def test_a_wrong_password_is_refused_by_imap_and_smtp(mail):
    app_password(mail)
    assert at_once(
        lambda: imap_login(mail.imap, ALICE, WRONG),
        lambda: imap_authenticate_plain(mail.imap, ALICE, WRONG),
        lambda: smtp_auth_plain(mail.submission, ALICE, WRONG),
    ) == [("NO", AUTHENTICATION_FAILED), ("NO", AUTHENTICATION_FAILED), (535, b"5.7.8 Authentication failed.")]


def test_a_revoked_password_is_refused_at_the_next_login(mail):
    made = mail.api.app_password(ALICE)
    used_passwords.append(made["password"])
    open_session = IMAP(mail.imap)
    assert open_session.login(ALICE, made["password"])[0] == "OK"
    mail.api.revoke(made)
    assert at_once(
        lambda: imap_login(mail.imap, ALICE, made["password"]),
        lambda: smtp_auth_plain(mail.submission, ALICE, made["password"]),
    ) == [("NO", AUTHENTICATION_FAILED), (535, b"5.7.8 Authentication failed.")]
    # A session opened before the revocation is not checked again; `doveadm kick` ends it (as the docs say).
    assert open_session.noop()[0] == "OK"
    doveadm = shutil.which("doveadm", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/bin", "/usr/sbin"]))
    kicked = subprocess.run([doveadm, "-c", str(mail.run_dir / "dovecot.conf"), "kick", ALICE], capture_output=True,
                            text=True, timeout=30)
    assert kicked.returncode == 0, kicked.stderr
    with pytest.raises(imaplib.IMAP4.abort):
        for _ in range(50):  # the kick reaches the imap process a moment later
            open_session.noop()
            time.sleep(0.05)


def test_a_mailbox_of_an_unmapped_domain_or_not_an_address_is_refused_without_asking_the_service(mail):
    password = app_password(mail)  # alice@example.com's: the same name under another domain is no one
    assert at_once(
        lambda: imap_login(mail.imap, "alice@unmapped.example", password),
        lambda: smtp_auth_plain(mail.submission, "alice@unmapped.example", password),
        lambda: imap_login(mail.imap, "alice", password),  # not an address
    ) == [("NO", AUTHENTICATION_FAILED), (535, b"5.7.8 Authentication failed."), ("NO", AUTHENTICATION_FAILED)]
    assert "no tenant for the domain of 'alice@unmapped.example'" in mail.log


# --- temporary failures: never a login --------------------------------------------------------


def test_a_throttled_check_is_a_temporary_failure_even_with_the_right_password(mail):
    user = "bob@example.com"
    password = app_password(mail, user)
    mail.api.throttle(user)  # 10 wrong checks this minute: the service answers 429 even for the right one
    imap, authenticate, submission = at_once(
        lambda: imap_login(mail.imap, user, password),
        lambda: imap_authenticate_plain(mail.imap, user, password),
        lambda: smtp_auth_plain(mail.submission, user, password),
    )
    assert temporary(imap) and temporary(authenticate) and smtp_temporary(submission)
    assert "checks for bob@example.com are throttled (429)" in mail.log


def test_a_stopped_service_is_a_temporary_failure_and_dovecot_never_caches(tmp_path):
    """The service stopped under a running Dovecot: every login is a temporary failure until it is back.
    This Dovecot runs with its auth cache turned on, and still nothing is cached: a revoked password is
    refused at once, and with the service gone a password that just logged in is not let in again."""
    service = Service(free_port())
    dovecot, outbox = start(tmp_path / "mail", service_url=service.api.url, imap_port=free_port(),
                            submission_port=free_port(), extra="auth_cache_size = 10M\nauth_cache_ttl = 1 hour\n")
    imap, submission = dovecot.ports
    try:
        revoked, kept = service.api.app_password(), service.api.app_password()
        used_passwords.extend([revoked["password"], kept["password"]])
        assert imap_login(imap, ALICE, revoked["password"])[0] == "OK"
        service.api.revoke(revoked)
        assert imap_login(imap, ALICE, revoked["password"]) == ("NO", AUTHENTICATION_FAILED)

        assert imap_login(imap, ALICE, kept["password"])[0] == "OK"
        assert smtp_auth_plain(submission, ALICE, kept["password"])[0] == 235
        open_session = IMAP(imap)
        assert open_session.login(ALICE, kept["password"])[0] == "OK"
        service.stop()
        login, authenticate, smtp_auth = at_once(
            lambda: imap_login(imap, ALICE, kept["password"]),
            lambda: imap_authenticate_plain(imap, ALICE, kept["password"]),
            lambda: smtp_auth_plain(submission, ALICE, kept["password"]),
        )
        assert temporary(login) and temporary(authenticate) and smtp_temporary(smtp_auth)
        assert open_session.noop()[0] == "OK"  # mail already open is served by Dovecot alone
        open_session.logout()
        log = dovecot.log.read_text()
        assert "temporary failure: the service is unreachable (ConnectionRefusedError)" in log

        # Back again (a new, empty local run on the same port): the client's retry logs in.
        service = Service(service.port)
        again = service.api.app_password()
        used_passwords.append(again["password"])
        assert imap_login(imap, ALICE, again["password"])[0] == "OK"
    finally:
        service.stop()
        dovecot.stop()
        outbox.stop()


# --- the fragment in Debian's own configuration, as an operator installs it --------------------


def test_the_fragment_in_debians_configuration_logs_in_over_tls_only(mail):
    if os.geteuid() != 0:
        pytest.skip("Debian's configuration runs Dovecot's processes as its own users: root only")
    root = Path(tempfile.mkdtemp(prefix="mfa-stock-"))
    dovecot = stock_dovecot(root, service_url=mail.api.url, imap_port=free_port(), submission_port=free_port())
    imap, submission = dovecot.ports
    tls = ssl.create_default_context(cafile=root / "etc" / "cert.pem")
    try:
        password = app_password(mail)
        client = IMAP(imap)
        client.starttls(tls)
        assert client.login(ALICE, password) == ("OK", [b"Logged in"])
        assert client.select("INBOX")[0] == "OK"
        client.logout()
        client = smtp(submission)
        client.starttls(context=tls)
        client.ehlo("client.example")
        assert client.login(ALICE, password)[0] == 235
        client.quit()
        # Without TLS (from an address that is not the server's own), no password is taken at all.
        client = IMAP(imap)
        assert "LOGINDISABLED" in client.capabilities
        status, said = client._simple_command("LOGIN", ALICE, client._quote(password))  # as a careless client would
        assert (status, said[-1]) == ("NO", b"[PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure "
                                            b"(SSL/TLS) connections.")
        client.logout()
        # The program ran as Debian runs the auth process: as user dovecot, reading its 0640 root:dovecot files.
        assert users_of(dovecot.process.pid, "/auth") == {"dovecot"}
    finally:
        dovecot.stop()
        shutil.rmtree(root, ignore_errors=True)


# --- the logs, and `make mail` itself ---------------------------------------------------------


def test_no_password_or_token_reaches_dovecots_log(mail):
    log = mail.log
    assert used_passwords and "Login: user=<alice@example.com>" in log
    for password in used_passwords:
        for form in (password, password.replace(" ", ""), password.replace(" ", "").upper()):
            assert form not in log
    assert "eyJ" not in log  # a JWT's header, base64url of '{"'


def test_make_mail_says_one_line_when_a_port_is_taken(tmp_path):
    with socket.socket() as held:
        held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        env = _env(PORT=str(free_port()), IMAP_PORT=str(port), SUBMISSION_PORT=str(free_port()))
        r = subprocess.run([sys.executable, "-m", "infra.mail", str(tmp_path)], env=env, capture_output=True,
                           text=True, timeout=60)
    assert r.returncode == 1
    assert r.stderr == f"make mail: port {port} on 127.0.0.1 is taken: choose another (IMAP_PORT=...)\n"


def test_make_mail_says_one_line_when_dovecot_is_missing(tmp_path, monkeypatch, capsys):
    import infra.mail

    monkeypatch.setattr(infra.mail.shutil, "which", lambda *args, **kwargs: None)
    monkeypatch.setattr(sys, "argv", ["infra.mail", str(tmp_path)])
    for name in ("PORT", "IMAP_PORT", "SUBMISSION_PORT"):
        monkeypatch.setenv(name, str(free_port()))
    with pytest.raises(SystemExit) as stopped:
        infra.mail.main()
    assert str(stopped.value) == ("make mail: Dovecot is not installed: apt-get install dovecot-imapd "
                                  "dovecot-submissiond (make mail does it as root)")


def test_stopping_make_mail_stops_dovecot(mail):
    """Last in this file: it ends the module's run. SIGTERM (and Ctrl-C, which is SIGINT to the group) stops
    the service and Dovecot with all its processes; the ports are free again."""
    master = dovecot_master(mail.run_dir)
    assert group_alive(master)
    assert mail.process.stop(signal.SIGTERM) == 0
    deadline = time.monotonic() + 5
    while group_alive(master) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not group_alive(master)
    for port in (mail.port, mail.imap, mail.submission):
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0
