"""App passwords in the audit trail, the notifications and the logs: created, used, revoked, never the password."""

import json
import os

from moto.sns.models import sns_backends

from tests.helpers_app_passwords import ALICE, check, created, revoke, wrong_password


def topic_messages() -> list[dict]:
    topic = sns_backends["123456789012"]["us-east-1"].topics[os.environ["MFA_TOPIC_ARN"]]
    return [json.loads(sent[1]) for sent in topic.sent_notifications]


def events_of(api, user=ALICE) -> list[dict]:
    r = api.as_user("GET", f"/v1/admin/events?user={user}", user="admin@example.com", scope="mfa:admin")
    assert r.status_code == 200, r.json
    return r.json


def test_create_use_and_revoke_are_in_the_audit_trail(api):
    made = created(api)
    api.clock.advance(1)
    assert check(api, made["password"]).json == {"valid": True}
    api.clock.advance(1)
    assert revoke(api, made["id"]).status_code == 200
    events = [e["event"] for e in events_of(api)]
    assert events == ["app_password_revoked", "app_password_used", "app_password_created"]


def test_a_wrong_check_is_not_recorded_as_a_use(api):
    made = created(api)
    check(api, wrong_password(made["password"]))
    assert "app_password_used" not in [e["event"] for e in events_of(api)]


def test_creating_an_app_password_is_published_to_the_topic(api):
    created(api)
    messages = topic_messages()
    assert [m["event"] for m in messages] == ["app_password_created"]
    message = messages[0]
    assert set(message) == {"event", "tenant", "user", "at", "ip"}
    assert message["tenant"] == "demo" and message["user"] == ALICE
    assert message["at"] == "2027-01-15T08:00:00Z"
    assert isinstance(message["ip"], str)


def test_no_password_in_any_audit_event_or_log_line(api, all_logs):
    made = created(api)
    password = made["password"]
    check(api, password)
    check(api, password.upper().replace(" ", "-"))
    check(api, wrong_password(password))
    revoke(api, made["id"])
    check(api, password)
    forms = {
        password,
        password.replace(" ", ""),
        password.upper(),
        password.replace(" ", "-"),
        password.upper().replace(" ", "-"),
    }

    dumped = json.dumps(events_of(api))
    assert "app_password_created" in dumped  # the trail is there to search
    log_text = "\n".join(r.getMessage() for r in all_logs.records)
    assert log_text  # the logs are captured at all
    for form in forms:
        assert form not in dumped
        assert form not in log_text
    assert all(password.replace(" ", "") not in json.dumps(m) for m in topic_messages())
