"""The out-of-band notifications: security events published to the tenant's topic, best effort."""

import json
import logging
import os

import botocore.exceptions
from moto.sns.models import sns_backends

import mfa_core.runtime
from tests.conftest import attach, code_for
from tests.helpers_admin import ALICE, ALICE_PATH, LOGON, as_admin, attach_phone, events_of, lock, lockout_policy, names

NOTIFICATION_FIELDS = {"event", "tenant", "user", "at", "ip"}


def topic_messages() -> list[dict]:
    topic = sns_backends["123456789012"]["us-east-1"].topics[os.environ["MFA_TOPIC_ARN"]]
    return [json.loads(sent[1]) for sent in topic.sent_notifications]


def test_security_events_are_published_to_the_topic(api):
    lockout_policy(api, max_failures=3)
    att = attach(api)  # confirmed
    api.clock.advance(1)
    r = api.as_user(
        "POST", "/v1/logon/verify", {"method": "recovery_code", "code": att["recovery_codes"][0]}, scope=LOGON
    )
    assert r.status_code == 200  # recovery_used
    api.clock.advance(1)
    lock(api, att["uri"])  # locked
    api.clock.advance(1)
    as_admin(api, "POST", f"/v1/admin/users/{ALICE_PATH}/reset")  # reset
    api.clock.advance(1)
    uri = attach(api)["uri"]  # confirmed
    api.clock.advance(30)
    r = api.as_user("DELETE", "/v1/authenticator", {"code": code_for(uri, api.clock.now)})
    assert r.status_code == 200  # deleted

    messages = topic_messages()
    assert [m["event"] for m in messages] == ["confirmed", "recovery_used", "locked", "reset", "confirmed", "deleted"]
    for message in messages:
        assert set(message) == NOTIFICATION_FIELDS
        assert message["tenant"] == "demo" and message["user"] == ALICE
        assert isinstance(message["ip"], str)
    assert [m["at"] for m in messages] == [
        "2027-01-15T08:00:00Z",
        "2027-01-15T08:00:01Z",
        "2027-01-15T08:00:02Z",
        "2027-01-15T08:00:03Z",
        "2027-01-15T08:00:04Z",
        "2027-01-15T08:00:34Z",
    ]


def test_attaching_a_phone_is_published(api):
    attach_phone(api)
    assert [m["event"] for m in topic_messages()] == ["phone_attached"]


def test_a_failing_publish_never_fails_the_request(api, caplog):
    uri = attach(api)["uri"]
    refused = []

    def raiser(**kwargs):
        refused.append(kwargs["model"].name)
        raise botocore.exceptions.ClientError({"Error": {"Code": "InternalError", "Message": "x"}}, "Publish")

    rt = mfa_core.runtime.current()
    rt.sns.meta.events.register("before-call.sns.Publish", raiser)
    caplog.set_level(logging.WARNING)
    api.clock.advance(30)
    r = api.as_user("DELETE", "/v1/authenticator", {"code": code_for(uri, api.clock.now)})
    assert r.status_code == 200 and r.json == {"deleted": True}
    assert refused == ["Publish"]  # the notification was attempted, and refused
    assert api.as_user("GET", "/v1/factors").json["authenticator"] is None
    assert "deleted" in names(events_of(api))
    assert [m["event"] for m in topic_messages()] == ["confirmed"]  # the refused one never reached the topic
    assert any(r.levelno >= logging.WARNING and "deleted" in r.getMessage() for r in caplog.records)
