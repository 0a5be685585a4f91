"""Trusted devices: a device token skips the code; its label, the ways it ends, ten at most, its calls."""

import pytest

from mfa_core import runtime
from tests.conftest import attach, code_for
from tests.helpers_logon import LOGON, amr, logon, policy, verify


def trusted(api, att, **extra):
    api.clock.advance(30)
    r = verify(api, code_for(att["uri"], api.clock.now), trust_device=True, **extra)
    assert r.status_code == 200, r.json
    return r.json


def test_trusted_device_skips_the_code_on_that_device(api):
    policy(api, trusted_device_days=30)
    att = attach(api)
    r = trusted(api, att, device_label="Alice's laptop")
    token = r["device_token"]
    assert len(token) > 40 and r["device_expires_at"] == "2027-02-14T08:00:30Z"
    decision = logon(api, token)
    assert decision.json["next"] == "done" and amr(decision.json["mfa_token"]) == ["device"]
    devices = api.as_user("GET", "/v1/devices").json
    assert [(d["label"], d["last_used_at"]) for d in devices] == [("Alice's laptop", "2027-01-15T08:00:30Z")]
    assert api.as_user("GET", "/v1/factors").json["trusted_devices"] == 1


def test_device_label_defaults_to_the_user_agent(api):
    policy(api)
    att = attach(api)
    api.clock.advance(30)
    r = api.call("POST", "/v1/logon/verify", {"code": code_for(att["uri"], api.clock.now), "trust_device": True},
                 token=api.token(scope=LOGON), headers={"User-Agent": "Thunderbird/128"})
    assert r.status_code == 200
    assert api.as_user("GET", "/v1/devices").json[0]["label"] == "Thunderbird/128"


def test_device_tokens_of_others_modified_or_expired_are_not_trusted(api):
    policy(api, trusted_device_days=1)
    att = attach(api)
    token = trusted(api, att)["device_token"]
    bob = attach(api, user="bob@example.com")
    assert bob
    assert logon(api, token, user="bob@example.com").json["next"] == "verify"  # another user
    api.as_user("PUT", "/v1/policy", {"two_factor": "on"}, tenant="other", scope="mfa:admin")
    assert logon(api, token, tenant="other").json["next"] == "enroll"  # another tenant
    modified = token[:-1] + ("A" if token[-1] != "A" else "B")
    for bad in (modified, "dt1.x.y", "garbage", ""):
        assert logon(api, bad).json["next"] == "verify"
    api.clock.advance(86400)  # expired; moto never deletes it, so the item lingers
    assert logon(api, token).json["next"] == "verify"
    assert api.as_user("GET", "/v1/devices").json == []


def test_a_lock_does_not_stop_a_valid_device_token(api):
    policy(api, lockout={"max_failures": 3, "lock_seconds": 900})
    att = attach(api)
    token = trusted(api, att)["device_token"]
    for _ in range(3):
        verify(api, "000000" if code_for(att["uri"], api.clock.now) != "000000" else "111111")
    assert verify(api, "123456").status_code == 429
    r = logon(api, token)
    assert r.json["next"] == "done" and amr(r.json["mfa_token"]) == ["device"]


@pytest.mark.parametrize("ending", ["delete_authenticator", "admin_reset", "devices_off", "revoke_all"])
def test_every_existing_device_token_stops_counting(api, ending):
    policy(api)
    att = attach(api)
    token = trusted(api, att)["device_token"]
    assert logon(api, token).json["next"] == "done"
    api.clock.advance(30)
    if ending == "delete_authenticator":
        r = api.as_user("DELETE", "/v1/authenticator", {"code": code_for(att["uri"], api.clock.now)})
        att = attach(api)
    elif ending == "admin_reset":
        r = api.as_user("POST", "/v1/admin/users/alice%40example.com/reset", {}, user="admin@example.com",
                        scope="mfa:admin")
        att = attach(api)
    elif ending == "devices_off":
        r = api.as_user("PUT", "/v1/policy", {"two_factor": "on", "trusted_device_days": 0},
                        user="admin@example.com", scope="mfa:admin")
        assert logon(api, token).json["next"] == "verify"
        api.clock.advance(1)
        r = api.as_user("PUT", "/v1/policy", {"two_factor": "on", "trusted_device_days": 30},
                        user="admin@example.com", scope="mfa:admin")  # on again: old tokens stay dead
    else:
        r = api.as_user("DELETE", "/v1/devices")
        assert r.json == {"deleted": 1}
    assert r.status_code == 200
    assert logon(api, token).json["next"] == "verify"
    assert api.as_user("GET", "/v1/devices").json == []
    assert trusted(api, att)["device_token"]  # a new device can be trusted afterwards
    assert len(api.as_user("GET", "/v1/devices").json) == 1


def test_trust_device_is_ignored_while_the_policy_has_it_off(api):
    policy(api, trusted_device_days=0)
    att = attach(api)
    r = trusted(api, att)
    assert "device_token" not in r and r["verified"] is True
    assert logon(api).json["trusted_device_allowed"] is False


def test_a_user_keeps_at_most_ten_devices_the_oldest_goes(api):
    policy(api)
    att = attach(api)
    tokens = [trusted(api, att, device_label=f"device {i}")["device_token"] for i in range(11)]
    labels = [d["label"] for d in api.as_user("GET", "/v1/devices").json]
    assert labels == [f"device {i}" for i in range(1, 11)]
    assert logon(api, tokens[0]).json["next"] == "verify"
    assert logon(api, tokens[10]).json["next"] == "done"


def test_revoke_one_device(api):
    policy(api)
    att = attach(api)
    first = trusted(api, att)["device_token"]
    second = trusted(api, att)["device_token"]
    device_id = api.as_user("GET", "/v1/devices").json[0]["id"]
    assert api.as_user("DELETE", f"/v1/devices/{device_id}").json == {"deleted": True}
    assert api.as_user("DELETE", f"/v1/devices/{device_id}").status_code == 404
    assert logon(api, first).json["next"] == "verify"
    assert logon(api, second).json["next"] == "done"


def test_logon_with_a_device_token_is_one_read_and_one_write(api):
    from tests.test_storage_crypto import CallCounter

    policy(api)
    att = attach(api)
    token = trusted(api, att)["device_token"]
    counter = CallCounter(runtime.current().dynamodb, runtime.current().kms)
    assert logon(api, token).json["next"] == "done"
    assert counter.take() == {"dynamodb:Query": 1, "dynamodb:TransactWriteItems": 1}


def test_warm_verify_with_its_audit_write_is_two_calls(api):
    from tests.test_storage_crypto import CallCounter

    policy(api)
    att = attach(api)
    api.clock.advance(30)
    verify(api, code_for(att["uri"], api.clock.now))
    counter = CallCounter(runtime.current().dynamodb, runtime.current().kms)
    api.clock.advance(30)
    assert verify(api, code_for(att["uri"], api.clock.now)).status_code == 200
    assert counter.take() == {"dynamodb:Query": 1, "dynamodb:TransactWriteItems": 1}
