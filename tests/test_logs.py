"""No secret, code, otpauth URI or token ever reaches a log line, at any level, from any logger; and the event
lines the stack's alarms count: one per audit event written and per SMS sent, its name and tenant only."""

import json
import logging
import re
from collections import Counter

import pytest
import requests
from moto.sns.models import sns_backends

from mfa_core import runtime
from mfa_core.errors import InvalidCode
from mfa_core.usecases import logon
from tests.conftest import attach, code_for, make_token
from tests.helpers_fault_injection import Injector
from tests.test_interleavings import LOGON, Held, outcome, req
from tests.test_races import THREADS, attached, code_at_step, post, race

NUMBER = "+8613800001234"


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


def test_device_tokens_app_passwords_and_sms_codes_never_reach_logs_audit_or_error_bodies(api, all_logs):
    admin = api.token("admin@example.com", "mfa:admin")
    api.call("PUT", "/v1/policy", {"two_factor": "on"}, token=admin)
    att = attach(api)
    secrets_seen = [att["secret"].replace(" ", ""), att["uri"], *att["recovery_codes"]]
    error_bodies = []

    def call(*args, **kwargs):
        r = api.as_user(*args, **kwargs)
        if r.status_code >= 400:
            error_bodies.append(r.body.decode())
        return r

    api.clock.advance(30)
    trusted = call("POST", "/v1/logon/verify", {"code": code_for(att["uri"], api.clock.now), "trust_device": True},
                   scope="mfa:logon").json
    secrets_seen += [trusted["device_token"], trusted["mfa_token"]]
    call("POST", "/v1/logon", {"device_token": trusted["device_token"]}, scope="mfa:logon")
    call("POST", "/v1/logon", {"device_token": trusted["device_token"] + "x"}, scope="mfa:logon")
    password = call("POST", "/v1/app-passwords", {"label": "Thunderbird"}).json["password"]
    secrets_seen += [password, password.replace(" ", "")]
    gateway = api.token("imap-gateway", "mfa:gateway")
    for attempt in (password, password.upper(), "wrong password"):
        r = api.call("POST", "/v1/app-passwords/check", {"user": "alice@example.com", "password": attempt},
                     token=gateway)
        assert r.status_code == 200
    call("POST", "/v1/phone", {"number": "+8613800001234"})
    sms = [t for _, t in sns_backends["123456789012"]["us-east-1"].sms_messages.values()][-1]
    sms_code = re.search(r"\d{6}", sms).group()
    secrets_seen.append(sms_code)
    call("POST", "/v1/phone/confirm", {"code": "000000" if sms_code != "000000" else "111111"})
    call("POST", "/v1/phone/confirm", {"code": sms_code})
    call("POST", "/v1/logon/verify", {"method": "recovery_code", "code": att["recovery_codes"][1] + "x"},
         scope="mfa:logon")
    events = api.call("GET", "/v1/admin/events?user=alice%40example.com&limit=100", token=admin).json
    assert {"device_trusted", "app_password_created", "app_password_used", "phone_attached", "failed"} <= {
        e["event"] for e in events}

    logs = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in all_logs.records)
    audit = json.dumps(events)
    assert error_bodies and "functions.http" in logs
    for secret in secrets_seen:
        for where, text in (("logs", logs), ("audit trail", audit), ("error bodies", "\n".join(error_bodies))):
            assert secret not in text, f"a secret in the {where}"


# --- the event lines ------------------------------------------------------------------------------


@pytest.fixture
def event_lines(caplog):
    """The event lines logged meanwhile, as (name, tenant), under Lambda's root level (WARNING): the lines must
    be at INFO whatever the root says. Each is checked to be exactly the JSON of its name and tenant."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.WARNING)

    def lines() -> list[tuple[str, str]]:
        found = []
        for record in caplog.records:
            if record.name == "mfa_core.notify" and record.levelno == logging.INFO:
                line = json.loads(record.getMessage())
                assert record.getMessage() == json.dumps({"event": line["event"], "tenant": line["tenant"]})
                found.append((line["event"], line["tenant"]))
        return found

    yield lines
    root.setLevel(level)


def trail(api, tenant: str, *users: str) -> list[str]:
    """The event names of the users' audit trails, as the admin reads them."""
    admin = api.token("admin@example.com", "mfa:admin", tenant=tenant)
    return [e["event"] for user in users
            for e in api.call("GET", f"/v1/admin/events?user={user.replace('@', '%40')}&limit=100", token=admin).json]


def sms_texts() -> list[str]:
    return [text for _, text in sns_backends["123456789012"]["us-east-1"].sms_messages.values()]


def wrong_code(att, now) -> str:
    return "000000" if code_for(att["uri"], now) != "000000" else "111111"


def test_each_audit_event_written_and_each_sms_sent_logs_one_line_of_its_name_and_tenant(api, event_lines):
    admin = api.token("admin@example.com", "mfa:admin")
    lockout = {"max_failures": 2, "lock_seconds": 60}
    assert api.call("PUT", "/v1/policy", {"two_factor": "on", "lockout": lockout}, token=admin).status_code == 200
    att = attach(api)
    for _ in range(2):  # failed, then failed and locked
        r = api.as_user("POST", "/v1/logon/verify", {"code": wrong_code(att, api.clock.now)}, scope="mfa:logon")
        assert r.status_code == 400
    assert api.call("POST", "/v1/admin/users/alice%40example.com/unlock", token=admin).status_code == 200
    api.clock.advance(30)
    verify = {"code": code_for(att["uri"], api.clock.now), "trust_device": True}
    assert api.as_user("POST", "/v1/logon/verify", verify, scope="mfa:logon").status_code == 200
    assert api.as_user("DELETE", "/v1/devices").status_code == 200
    password = api.as_user("POST", "/v1/app-passwords", {"label": "Thunderbird"}).json
    check = {"user": "alice@example.com", "password": password["password"]}
    assert api.call("POST", "/v1/app-passwords/check", check, token=api.token("imap-gateway", "mfa:gateway")).json
    assert api.as_user("DELETE", f"/v1/app-passwords/{password['id']}").status_code == 200
    assert api.as_user("POST", "/v1/phone", {"number": NUMBER}).status_code == 202
    code = re.search(r"\d{6}", sms_texts()[-1]).group()
    assert api.as_user("POST", "/v1/phone/confirm", {"code": code}).status_code == 200

    written = trail(api, "demo", "alice@example.com", "admin@example.com")
    assert {"policy_changed", "attached", "confirmed", "failed", "locked", "unlocked", "verified", "device_trusted",
            "device_revoked", "app_password_created", "app_password_used", "app_password_revoked",
            "phone_attached"} <= set(written), written
    sent = [("sms_sent", "demo")] * len(sms_texts())
    assert sent and Counter(event_lines()) == Counter([(name, "demo") for name in written] + sent)


def test_a_write_or_an_sms_that_failed_logs_no_line_and_the_same_that_went_through_logs_one(api, event_lines):
    rt = runtime.current()
    enroll = ("POST", "/v1/authenticator/enroll", {})
    assert api.as_user(*enroll).status_code == 200  # the policy and data key now cached: the next makes the same calls
    recorder = Injector([rt.dynamodb])
    assert api.as_user(*enroll).status_code == 200
    recorder.close()
    # Errors botocore does not retry, so the first attempt's failure is the answer (503).
    failing_write = Injector([rt.dynamodb], recorder.calls.index("dynamodb:TransactWriteItems"),
                             (400, "ValidationException"))
    assert api.as_user(*enroll).status_code == 503
    failing_write.close()
    failing_sms = Injector([rt.sns], 0, (400, "InvalidParameter"))
    assert api.as_user("POST", "/v1/phone", {"number": NUMBER}).status_code == 503
    failing_sms.close()
    assert event_lines() == [("attached", "demo")] * 2 and sms_texts() == []
    assert api.as_user("POST", "/v1/phone", {"number": NUMBER}).status_code == 202
    assert event_lines()[2:] == [("sms_sent", "demo")]


@pytest.mark.both_engines
def test_a_code_whose_write_lost_to_another_use_of_it_logs_no_verified_line(api, event_lines):
    """One logon held between its read and its write while another uses the same code: the held write is refused
    by its condition, read again and counted as a replay. One `verified` line, for the write that took."""
    att = attach(api)
    api.clock.advance(30)
    code = code_for(att["uri"], api.clock.now)
    before = len(event_lines())
    held = Held(lambda: logon.verify(req(LOGON, api), "authenticator", code))
    meanwhile = outcome(lambda: logon.verify(req(LOGON, api), "authenticator", code))
    first = held.finish()
    assert "mfa_token" in meanwhile and isinstance(first, InvalidCode)
    assert event_lines()[before:] == [("verified", "demo"), ("failed", "demo")]


@pytest.mark.both_engines
def test_one_code_sent_twenty_times_at_once_logs_exactly_the_events_the_trail_holds(live, event_lines):
    """Real threads on the local server: the lines are those of the writes that took, one `verified` among them."""
    user = "lines-race@example.com"
    _, _, secret, step = attached(live, user)
    code = code_at_step(secret, step + 1)
    token = make_token(user, "race", "mfa:logon")
    statuses = race(THREADS, lambda: post(live, "/v1/logon/verify", {"code": code}, token))
    admin = {"Authorization": f"Bearer {make_token('admin@example.com', 'race', 'mfa:admin')}"}
    events = requests.get(f"{live}/v1/admin/events", params={"user": user, "limit": 100}, headers=admin,
                          timeout=10).json()
    lines = [name for name, tenant in event_lines() if tenant == "race"]
    assert statuses.count(200) == 1 and lines.count("verified") == 1, (statuses, lines)
    assert lines.count("failed") == statuses.count(400), (statuses, lines)
    assert Counter(lines) == Counter(e["event"] for e in events)
