"""integrations/dovecot/mfa_checkpassword.py alone, run as Dovecot runs it (request on fd 3, the reply program
as its last arguments) against a stub of the service: every answer's exit status, the token it signs, and
that neither the password nor the token is ever written out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from infra.processes import free_port
from mfa_core.config import DEV_SECRET
from tests.conftest import ROOT

SCRIPT = ROOT / "integrations" / "dovecot" / "mfa_checkpassword.py"
PASSWORD = "abcd efgh ijkl mnop"
REFUSED, TEMPORARY = 1, 111


class Stub(ThreadingHTTPServer):
    """The service's check endpoint, answering what a test sets; it records what it was sent."""

    daemon_threads = True

    def __init__(self, tls=None):
        super().__init__(("127.0.0.1", 0), StubHandler)
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True)
        self.answer = (200, b'{"valid": true}')
        self.delay = 0.0
        self.requests: list[dict] = []
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def handle_error(self, request, client_address):
        pass  # a client that gave up (the timeout test) or refused our certificate (the TLS test)


class StubHandler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.requests.append({"path": self.path, "headers": dict(self.headers), "body": json.loads(body)})
        time.sleep(self.server.delay)
        status, answer = self.server.answer
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def stub():
    server = Stub()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def service(stub):
    stub.answer, stub.delay = (200, b'{"valid": true}'), 0.0
    stub.requests.clear()
    return stub


def settings_file(tmp_path, url, *, key=DEV_SECRET, algorithm="HS256", extra="") -> str:
    (tmp_path / "domains").write_text("# domain tenant\nexample.com demo\nExample.ORG   acme  # upper case\n")
    (tmp_path / "key").write_text(key + "\n")
    path = tmp_path / "mfa-gateway.conf"
    path.write_text(f"url = {url}\ndomains = {tmp_path / 'domains'}\nkey = {tmp_path / 'key'}\n"
                    f"algorithm = {algorithm}\ngateway = imap-edge-1\n{extra}")
    return str(path)


def run(tmp_path, settings: str, user="alice@example.com", password=PASSWORD, *, stdlib_only=True, env=None):
    """(exit status, stderr, USER the reply program was given or None) of one check as Dovecot makes it."""
    replied = tmp_path / "replied"
    replied.unlink(missing_ok=True)
    reply = [sys.executable, "-I", "-S", "-c", "import os, sys; open(sys.argv[1], 'w').write(os.environ['USER'])",
             str(replied)]
    read, write = os.pipe()
    os.write(write, f"{user}\0{password}\0\0".encode())
    os.close(write)
    flags = ["-I", "-S"] if stdlib_only else []  # -S: no site-packages, so HS256 provably needs the stdlib only
    try:
        done = subprocess.run([sys.executable, *flags, str(SCRIPT), settings, *reply], capture_output=True, text=True,
                              timeout=30, pass_fds=(3,), preexec_fn=lambda: os.dup2(read, 3),
                              env=None if env is None else {**os.environ, **env})
    finally:
        os.close(read)
    return done.returncode, done.stderr, replied.read_text() if replied.exists() else None


def test_a_valid_password_runs_the_reply_program_with_the_user(tmp_path, service):
    settings = settings_file(tmp_path, f"http://127.0.0.1:{service.server_port}/api/")
    status, stderr, user = run(tmp_path, settings)
    assert (status, stderr, user) == (0, "", "alice@example.com")
    [sent] = service.requests
    assert sent["path"] == "/api/v1/app-passwords/check"
    assert sent["body"] == {"user": "alice@example.com", "password": PASSWORD}
    scheme, token = sent["headers"]["Authorization"].split(" ")
    assert scheme == "Bearer"
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}
    claims = jwt.decode(token, DEV_SECRET, algorithms=["HS256"], audience="mfa")
    assert claims == {"sub": "imap-edge-1", "tenant": "demo", "scope": "mfa:gateway", "aud": "mfa",
                      "iat": claims["iat"], "exp": claims["iat"] + 60}
    assert abs(claims["iat"] - time.time()) < 5


def test_the_domain_map_ignores_case_and_picks_the_tenant(tmp_path, service):
    settings = settings_file(tmp_path, f"http://127.0.0.1:{service.server_port}")
    assert run(tmp_path, settings, user="carol@EXAMPLE.org")[0] == 0
    token = service.requests[0]["headers"]["Authorization"].split(" ")[1]
    assert jwt.decode(token, DEV_SECRET, algorithms=["HS256"], audience="mfa")["tenant"] == "acme"


def test_a_tenant_may_have_a_url_and_key_of_its_own(tmp_path, service):
    """One stack per tenant: acme's checks go to acme's URL with acme's secret; demo's to the plain ones."""
    acme_secret = "acme-secret-of-at-least-thirty-two-bytes"
    (tmp_path / "acme.key").write_text(acme_secret)
    settings = settings_file(tmp_path, f"http://127.0.0.1:{service.server_port}/default",
                             extra=f"acme.url = http://127.0.0.1:{service.server_port}/acme-stage/\n"
                                   f"acme.key = {tmp_path / 'acme.key'}\n")
    assert run(tmp_path, settings, user="carol@example.org")[0] == 0
    assert run(tmp_path, settings, user="alice@example.com")[0] == 0
    acme, demo = service.requests
    assert (acme["path"], demo["path"]) == ("/acme-stage/v1/app-passwords/check", "/default/v1/app-passwords/check")
    acme_token = acme["headers"]["Authorization"].split(" ")[1]
    assert jwt.decode(acme_token, acme_secret, algorithms=["HS256"], audience="mfa")["tenant"] == "acme"
    demo_token = demo["headers"]["Authorization"].split(" ")[1]
    assert jwt.decode(demo_token, DEV_SECRET, algorithms=["HS256"], audience="mfa")["tenant"] == "demo"


def test_a_tenant_without_a_url_is_a_temporary_failure(tmp_path, service):
    settings = settings_file(tmp_path, f"http://127.0.0.1:{service.server_port}")
    text = open(settings).read().replace("url = ", "demo.url = ")  # acme (example.org) now has no URL
    open(settings, "w").write(text)
    assert run(tmp_path, settings, user="alice@example.com")[0] == 0
    status, stderr, _ = run(tmp_path, settings, user="carol@example.org")
    assert status == TEMPORARY
    assert stderr == "mfa-checkpassword: temporary failure: bad configuration: no url (nor acme.url) for tenant acme\n"


@pytest.mark.parametrize(
    ("status", "body", "exit_status"),
    [
        (200, b'{"valid": false}', REFUSED),
        (400, b'{"error": "invalid_request", "message": "..."}', REFUSED),
        (429, b'{"error": "rate_limited", "message": "...", "retry_after": 30}', TEMPORARY),
        (401, b'{"error": "unauthorized", "message": "..."}', TEMPORARY),
        (403, b'{"error": "forbidden", "message": "..."}', TEMPORARY),
        (404, b'{"error": "not_found", "message": "..."}', TEMPORARY),
        (500, b"Internal Server Error", TEMPORARY),
        (502, b'{"message": "Internal server error"}', TEMPORARY),
        (503, b'{"error": "unavailable", "message": "..."}', TEMPORARY),
        (200, b"not json", TEMPORARY),
        (200, b'{"valid": "true"}', TEMPORARY),
        (200, b"{}", TEMPORARY),
    ],
)
def test_each_answer_of_the_service(tmp_path, service, status, body, exit_status):
    service.answer = (status, body)
    settings = settings_file(tmp_path, f"http://127.0.0.1:{service.server_port}")
    done, stderr, user = run(tmp_path, settings)
    assert (done, user) == (exit_status, None)
    assert PASSWORD not in stderr and "eyJ" not in stderr
    assert stderr.count("\n") <= 1


def test_a_throttled_check_says_so_in_the_log(tmp_path, service):
    service.answer = (429, b'{"error": "rate_limited", "message": "...", "retry_after": 30}')
    settings = settings_file(tmp_path, f"http://127.0.0.1:{service.server_port}")
    assert run(tmp_path, settings)[1] == (
        "mfa-checkpassword: temporary failure: checks for alice@example.com are throttled (429): "
        "the client may retry later\n"
    )


def test_https_checks_the_certificate(tmp_path, service):
    """A stage is reached over HTTPS: a certificate the system's CA store (here SSL_CERT_FILE) does not vouch
    for is a temporary failure, never a check sent to an impostor."""
    import ssl

    from tests.helpers_mail import self_signed

    cert, key = self_signed(tmp_path)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    secure = Stub(tls)
    try:
        settings = settings_file(tmp_path, f"https://localhost:{secure.server_port}/api")
        status, stderr, _ = run(tmp_path, settings, env={"SSL_CERT_FILE": str(tmp_path / "missing.pem")})
        assert (status, secure.requests) == (TEMPORARY, [])
        assert stderr == "mfa-checkpassword: temporary failure: the service is unreachable (SSLCertVerificationError)\n"
        assert run(tmp_path, settings, env={"SSL_CERT_FILE": str(cert)})[:3] == (0, "", "alice@example.com")
        assert secure.requests[0]["path"] == "/api/v1/app-passwords/check"
    finally:
        secure.shutdown()
        secure.server_close()


def test_an_unreachable_service_is_a_temporary_failure(tmp_path):
    settings = settings_file(tmp_path, f"http://127.0.0.1:{free_port()}")
    status, stderr, user = run(tmp_path, settings)
    assert (status, user) == (TEMPORARY, None)
    assert stderr == "mfa-checkpassword: temporary failure: the service is unreachable (ConnectionRefusedError)\n"


def test_a_slow_service_is_a_temporary_failure_after_the_timeout(tmp_path, service):
    service.delay = 3
    settings = settings_file(tmp_path, f"http://127.0.0.1:{service.server_port}", extra="timeout = 0.5\n")
    started = time.monotonic()
    status, stderr, _ = run(tmp_path, settings)
    assert status == TEMPORARY and "unreachable (TimeoutError)" in stderr
    assert time.monotonic() - started < 2.5


@pytest.mark.parametrize("user", ["alice@unmapped.example", "alice", "@example.com", ""])
def test_a_mailbox_outside_the_map_is_refused_without_a_request(tmp_path, service, user):
    settings = settings_file(tmp_path, f"http://127.0.0.1:{service.server_port}")
    status, _, replied = run(tmp_path, settings, user=user)
    assert (status, replied, service.requests) == (REFUSED, None, [])


@pytest.mark.parametrize(
    "breakage",
    [
        pytest.param(lambda settings: os.remove(settings), id="no-settings-file"),
        pytest.param(lambda settings: os.remove(os.path.join(os.path.dirname(settings), "key")), id="no-key-file"),
        pytest.param(lambda settings: os.remove(os.path.join(os.path.dirname(settings), "domains")), id="no-map"),
        pytest.param(lambda settings: open(settings, "a").write("algorithm = none\n"), id="alg-none"),
        pytest.param(lambda settings: open(settings, "a").write("url = ftp://x\n"), id="not-http"),
        pytest.param(lambda settings: open(settings, "a").write("just words\n"), id="not-name-value"),
        pytest.param(lambda settings: open(settings, "a").write("ulr = http://x\n"), id="unknown-name"),
        pytest.param(lambda settings: open(settings, "a").write("timeout = soon\n"), id="timeout-not-a-number"),
    ],
)
def test_a_broken_configuration_is_a_temporary_failure_never_a_login(tmp_path, service, breakage):
    settings = settings_file(tmp_path, f"http://127.0.0.1:{service.server_port}")
    breakage(settings)
    status, stderr, user = run(tmp_path, settings)
    assert (status, user) == (TEMPORARY, None)
    assert stderr.startswith("mfa-checkpassword: temporary failure: ") and PASSWORD not in stderr


def _pem(private_key) -> str:
    return private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()).decode()


@pytest.mark.parametrize(
    ("algorithm", "make_key"),
    [("ES256", lambda: ec.generate_private_key(ec.SECP256R1())),
     ("RS256", lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048))],
)
def test_asymmetric_keys_sign_a_token_the_public_key_verifies(tmp_path, service, algorithm, make_key):
    private_key = make_key()
    settings = settings_file(tmp_path, f"http://127.0.0.1:{service.server_port}", key=_pem(private_key),
                             algorithm=algorithm, extra="kid = platform-2026\n")
    assert run(tmp_path, settings, stdlib_only=False)[:2] == (0, "")
    token = service.requests[0]["headers"]["Authorization"].split(" ")[1]
    assert jwt.get_unverified_header(token) == {"alg": algorithm, "typ": "JWT", "kid": "platform-2026"}
    claims = jwt.decode(token, private_key.public_key(), algorithms=[algorithm], audience="mfa")
    assert (claims["scope"], claims["tenant"], claims["exp"] - claims["iat"]) == ("mfa:gateway", "demo", 60)


def test_without_a_request_on_fd_3_it_says_how_it_is_run(tmp_path):
    settings = settings_file(tmp_path, "http://127.0.0.1:9")
    done = subprocess.run([sys.executable, "-I", "-S", str(SCRIPT), settings, "/bin/true"], capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 2
    assert "run by Dovecot's checkpassword passdb" in done.stderr


def test_the_shipped_examples_are_what_the_program_reads(tmp_path):
    """mfa-gateway.conf.example and mfa-domains.example parse as they are (an operator edits values only)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("mfa_checkpassword", SCRIPT)
    program = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(program)
    folder = SCRIPT.parent
    settings = program.read_settings(str(folder / "mfa-gateway.conf.example"))
    assert settings["url"] == ("https", "abc123defg.execute-api.eu-west-1.amazonaws.com", 443, "/api")
    assert (settings["domains"], settings["key"], settings["algorithm"]) == (
        "/etc/dovecot/mfa-domains", "/etc/dovecot/mfa-gateway.key", "HS256")
    assert program.read_domains(str(folder / "mfa-domains.example")) == {
        "acme.example": "acme", "mail.acme.example": "acme", "globex.example": "globex"}
    uncommented = (folder / "mfa-gateway.conf.example").read_text().replace("# globex.", "globex.")
    (tmp_path / "two-stacks.conf").write_text(uncommented)
    both = program.read_settings(str(tmp_path / "two-stacks.conf"))
    assert program.for_tenant(both, "globex")["url"][1] == "hij456klmn.execute-api.eu-west-1.amazonaws.com"
    assert program.for_tenant(both, "acme")["url"] == settings["url"]
