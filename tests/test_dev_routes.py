"""The local run's helpers: tokens for the page's dev bar (the outbox is tested with the SMS flows)."""
import socket

import pytest

from infra.local import LOCAL_ENV
from tests.conftest import run_python


def test_dev_token_is_a_working_caller_token(api):
    r = api.call("POST", "/v1/dev/token", {"user": "Alice@Example.com", "tenant": "demo", "scope": "mfa:settings"})
    assert r.status_code == 200
    factors = api.call("GET", "/v1/factors", token=r.json["token"])
    assert factors.status_code == 200 and factors.json["authenticator"] is None


@pytest.mark.parametrize("body", [{}, {"user": "a@b.c", "tenant": "demo"}, {"user": "a@b.c", "tenant": "Demo!",
                                  "scope": "mfa:settings"}, {"user": "a@b.c", "tenant": "demo", "scope": "root"},
                                  {"user": "a@b.c", "tenant": "demo", "scope": " "}, {"user": 1, "tenant": "demo",
                                                                                     "scope": "mfa:admin"}])
def test_dev_token_refuses_bad_input(api, body):
    r = api.call("POST", "/v1/dev/token", body)
    assert r.status_code == 400 and r.json["error"] == "invalid_request"


@pytest.mark.parametrize(("body", "says"), [
    ({"user": "alice@example.com", "tenant": "DEMO", "scope": "mfa:settings"}, "tenant must be lower-case"),
    ({"user": " alice@example.com", "tenant": "demo", "scope": "mfa:settings"}, "user must be a mailbox address"),
    ({"user": "alice@example.com", "tenant": "demo", "scope": "mfa:root"}, "scope must be one or more of"),
])
def test_dev_token_says_which_claim_is_wrong(api, body, says):
    r = api.call("POST", "/v1/dev/token", body)
    assert r.status_code == 400 and says in r.json["message"]


@pytest.mark.parametrize(("command", "says"), [
    (["infra.code", ""], "make code: SECRET= must be the secret enroll showed"),
    (["infra.code", "not base32!"], "make code: SECRET= must be the secret enroll showed"),
    (["infra.token", "--tenant", "DEMO"], "make token: tenant must be lower-case letters, digits and hyphens"),
])
def test_the_make_helpers_answer_a_mistake_in_one_line(command, says):
    r = run_python(f"import runpy, sys; sys.argv = {command!r}; runpy.run_module({command[0]!r}, run_name='__main__')",
                   env=LOCAL_ENV, check=False)
    assert r.returncode == 1 and r.stderr.strip().splitlines() == [r.stderr.strip()] and says in r.stderr, r.stderr


def test_make_run_on_a_taken_port_says_so_in_one_line():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = run_python("from infra.local import main; main()", env=LOCAL_ENV | {"PORT": str(port)}, check=False)
    assert r.returncode == 1 and r.stderr.strip() == (
        f"make run: port {port} on 127.0.0.1 is taken: stop what uses it, or choose another (PORT=...)"
    )
    r = run_python("from infra.local import main; main()", env=LOCAL_ENV | {"PORT": "eighty"}, check=False)
    assert r.returncode == 1 and r.stderr.strip() == "PORT=eighty: say a port number from 1 to 65535"
