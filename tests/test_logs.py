"""No secret, code, otpauth URI or token ever reaches a log line, at any level, from any logger."""

import logging

import pytest

from tests.conftest import attach, code_for


@pytest.fixture
def all_logs(caplog):
    caplog.set_level(logging.DEBUG)
    chalice_log = logging.getLogger("mfa")  # Chalice's app logger does not propagate to the root
    chalice_log.addHandler(caplog.handler)
    yield caplog
    chalice_log.removeHandler(caplog.handler)


def test_a_full_flow_logs_no_secret_code_uri_or_token(api, all_logs):
    secrets_seen = []
    admin = api.token("admin@example.com", "mfa:admin")
    settings = api.token()
    logon = api.token(scope="mfa:logon")
    secrets_seen += [admin, settings, logon]
    api.call("PUT", "/v1/policy", {"two_factor": "on"}, token=admin)
    att = attach(api)
    secrets_seen += [att["secret"], att["secret"].replace(" ", ""), att["uri"]]
    secrets_seen += att["recovery_codes"]
    api.clock.advance(30)
    code = code_for(att["uri"], api.clock.now)
    ok = api.call("POST", "/v1/logon/verify", {"code": code}, token=logon)
    secrets_seen += [code, ok.json["mfa_token"]]
    api.call("POST", "/v1/logon/verify", {"code": code}, token=logon)  # replay
    api.call("POST", "/v1/logon/verify", {"code": "98765 4"}, token=logon)
    used = api.call(
        "POST", "/v1/logon/verify", {"method": "recovery_code", "code": att["recovery_codes"][0]}, token=logon
    )
    secrets_seen.append(used.json["mfa_token"])
    api.call("POST", "/v1/logon/verify", {"code": "not json"}, token="garbage." + settings)
    api.call("POST", "/v1/logon/verify", raw=b"{not json", token=logon)
    api.clock.advance(30)
    delete_code = code_for(att["uri"], api.clock.now)
    secrets_seen.append(delete_code)
    assert api.call("DELETE", "/v1/authenticator", {"code": delete_code}, token=settings).status_code == 200

    text = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in all_logs.records)
    assert "functions.http" in text  # the access log is captured, so the search below means something
    for secret in secrets_seen:
        assert secret not in text
    assert "98765" not in text and "not json" not in text
