"""GET and PUT /v1/policy (API.md "Policy (admin)"): defaults, versions, validation, and what a change affects."""

import copy
import json
from urllib.parse import parse_qs, urlsplit

import boto3

from tests.conftest import attach, code_for

POLICY = "/v1/policy"
DEFAULTS = {
    "two_factor": "off",
    "methods": ["authenticator", "phone"],
    "trusted_device_days": 30,
    "app_passwords": True,
    "totp": {"issuer": "demo", "algorithm": "SHA1", "digits": 6, "period": 30, "window": 1},
    "lockout": {"max_failures": 5, "lock_seconds": 900},
    "enroll_grace_days": 0,
    "sms": {"countries": [], "per_number_per_day": 10, "per_tenant_per_day": 1000},
    "version": 0,
}
# A whole policy as an admin console sends it (no version: overwrite).
EXAMPLE = {
    "two_factor": "on",
    "methods": ["phone", "authenticator"],
    "trusted_device_days": 14,
    "app_passwords": False,
    "totp": {"issuer": "Example Mail", "algorithm": "SHA1", "digits": 6, "period": 30, "window": 1},
    "lockout": {"max_failures": 3, "lock_seconds": 600},
    "enroll_grace_days": 7,
    "sms": {"countries": ["+86", "+852"], "per_number_per_day": 5, "per_tenant_per_day": 200},
}


def get_policy(api, tenant="demo"):
    r = api.as_user("GET", POLICY, scope="mfa:admin", tenant=tenant)
    assert r.status_code == 200, r.json
    return r.json


def put_policy(api, body, tenant="demo"):
    return api.as_user("PUT", POLICY, body, scope="mfa:admin", tenant=tenant)


def contract_fields(policy: dict) -> dict:
    """The fields the contract names (the service may add others)."""
    return {name: policy[name] for name in DEFAULTS}


def changed(policy: dict, path: str, value) -> dict:
    """`policy` with the field at `path` ("totp.digits") set to `value`."""
    doc = copy.deepcopy(policy)
    *parents, name = path.split(".")
    target = doc
    for parent in parents:
        target = target[parent]
    target[name] = value
    return doc


def assert_invalid(response, what):
    assert response.status_code == 400, (what, response.status_code, response.json)
    assert response.json["error"] == "invalid_request", (what, response.json)


def verify_at_logon(api, code):
    return api.as_user("POST", "/v1/logon/verify", {"code": code}, scope="mfa:logon")


# --- reading and saving ---------------------------------------------------------------------------


def test_fresh_tenant_has_the_default_policy(api):
    assert contract_fields(get_policy(api)) == DEFAULTS


def test_default_issuer_is_the_tenant_id(api):
    assert get_policy(api, tenant="acme-mail")["totp"]["issuer"] == "acme-mail"


def test_put_answers_the_saved_policy_and_get_returns_it(api):
    r = put_policy(api, EXAMPLE)
    assert r.status_code == 200, r.json
    assert contract_fields(r.json) == EXAMPLE | {"version": 1}
    assert contract_fields(get_policy(api)) == EXAMPLE | {"version": 1}


def test_each_save_adds_one_to_the_version(api):
    for expected, days in [(1, 10), (2, 20), (3, 30)]:
        r = put_policy(api, EXAMPLE | {"trusted_device_days": days})
        assert r.status_code == 200, r.json
        assert r.json["version"] == expected
    assert get_policy(api)["version"] == 3


def test_what_get_returns_can_be_put_back(api):
    put_policy(api, EXAMPLE)
    current = get_policy(api)
    r = put_policy(api, current)
    assert r.status_code == 200, r.json
    assert contract_fields(r.json) == EXAMPLE | {"version": 2}


def test_limits_of_each_range_are_accepted(api):
    low = changed(EXAMPLE, "trusted_device_days", 0)
    low["totp"] = {"issuer": "x", "algorithm": "SHA512", "digits": 8, "period": 60, "window": 0}
    low["lockout"] = {"max_failures": 1, "lock_seconds": 1}
    low["sms"] = {"countries": [], "per_number_per_day": 1, "per_tenant_per_day": 1}
    low |= {"methods": ["phone"], "enroll_grace_days": 0, "two_factor": "off"}
    high = changed(EXAMPLE, "trusted_device_days", 365)
    high["totp"] = {"issuer": "i" * 64, "algorithm": "SHA256", "digits": 6, "period": 30, "window": 2}
    high["lockout"] = {"max_failures": 100, "lock_seconds": 86400}
    high["sms"] = {"countries": ["+1", "+7", "+44", "+86", "+880", "+979"], "per_number_per_day": 100,
                   "per_tenant_per_day": 1_000_000}
    high |= {"methods": ["authenticator"], "enroll_grace_days": 90}
    for version, body in enumerate([low, high], start=1):
        r = put_policy(api, body)
        assert r.status_code == 200, r.json
        assert contract_fields(r.json) == body | {"version": version}


# --- optimistic versions --------------------------------------------------------------------------


def test_put_with_the_current_version_saves(api):
    r = put_policy(api, EXAMPLE | {"version": 0})
    assert r.status_code == 200, r.json
    assert r.json["version"] == 1
    r = put_policy(api, EXAMPLE | {"trusted_device_days": 5, "version": 1})
    assert r.status_code == 200, r.json
    assert r.json["version"] == 2
    assert get_policy(api)["trusted_device_days"] == 5


def test_put_with_a_stale_version_is_a_conflict_and_changes_nothing(api):
    put_policy(api, EXAMPLE)
    put_policy(api, EXAMPLE | {"trusted_device_days": 20})
    before = get_policy(api)
    assert before["version"] == 2
    for version in (0, 1, 3, 99):
        r = put_policy(api, EXAMPLE | {"trusted_device_days": 1, "version": version})
        assert r.status_code == 409, (version, r.json)
        assert r.json["error"] == "conflict"
    assert get_policy(api) == before


def test_put_without_a_version_overwrites(api):
    put_policy(api, EXAMPLE)
    put_policy(api, EXAMPLE | {"trusted_device_days": 20})
    r = put_policy(api, EXAMPLE | {"trusted_device_days": 3})
    assert r.status_code == 200, r.json
    assert r.json["version"] == 3
    assert get_policy(api)["trusted_device_days"] == 3


# --- validation -----------------------------------------------------------------------------------


INVALID = [
    ("methods", []),
    ("methods", ["sms"]),
    ("methods", ["authenticator", "sms"]),
    ("methods", ["authenticator", "authenticator"]),
    ("methods", "authenticator"),
    ("methods", None),
    ("trusted_device_days", -1),
    ("trusted_device_days", 366),
    ("trusted_device_days", "30"),
    ("trusted_device_days", 30.5),
    ("trusted_device_days", True),
    ("totp.algorithm", "MD5"),
    ("totp.digits", 7),
    ("totp.digits", "6"),
    ("totp.digits", True),
    ("totp.period", 45),
    ("totp.window", 3),
    ("totp.window", -1),
    ("lockout.max_failures", 0),
    ("lockout.max_failures", 101),
    ("lockout.lock_seconds", 0),
    ("lockout.lock_seconds", 86401),
    ("enroll_grace_days", 91),
    ("enroll_grace_days", -1),
    ("two_factor", "yes"),
    ("two_factor", True),
    ("app_passwords", "true"),
    ("colour", "blue"),
    ("totp.colour", "blue"),
    ("lockout.colour", "blue"),
    ("totp", "SHA1"),
    ("lockout", [5, 900]),
    ("totp.issuer", ""),
    ("totp.issuer", "   "),
    ("totp.issuer", "i" * 65),
    ("sms", "+86"),
    ("sms.colour", "blue"),
    ("sms.countries", "+86"),
    ("sms.countries", ["86"]),
    ("sms.countries", ["+8"]),  # not a whole code: +81, +82, +84, +86... all start with it
    ("sms.countries", ["+861"]),
    ("sms.countries", ["+12"]),
    ("sms.countries", ["+086"]),
    ("sms.countries", ["+86", "+86"]),
    ("sms.countries", [86]),
    ("sms.countries", [None]),
    ("sms.countries", ["+86 "]),
    ("sms.per_number_per_day", 0),
    ("sms.per_number_per_day", 101),
    ("sms.per_number_per_day", "10"),
    ("sms.per_number_per_day", True),
    ("sms.per_tenant_per_day", 0),
    ("sms.per_tenant_per_day", 1_000_001),
    ("sms.per_tenant_per_day", 10.5),
    ("version", -1),
    ("version", "1"),
    ("version", True),
]


def test_out_of_range_or_wrongly_typed_policy_is_invalid_request(api):
    for path, value in INVALID:
        assert_invalid(put_policy(api, changed(EXAMPLE, path, value)), (path, value))


def test_a_put_without_sms_or_without_some_of_its_fields_takes_their_defaults(api):
    assert put_policy(api, EXAMPLE).json["sms"] == EXAMPLE["sms"]
    without = {name: value for name, value in EXAMPLE.items() if name != "sms"}
    assert put_policy(api, without).json["sms"] == DEFAULTS["sms"]
    r = put_policy(api, changed(EXAMPLE, "sms", {"per_tenant_per_day": 50}))
    assert r.json["sms"] == DEFAULTS["sms"] | {"per_tenant_per_day": 50}
    assert get_policy(api)["sms"] == DEFAULTS["sms"] | {"per_tenant_per_day": 50}


def test_a_policy_saved_before_sms_limits_existed_reads_with_their_defaults(api):
    assert put_policy(api, EXAMPLE).status_code == 200
    db, item_key = boto3.client("dynamodb"), {"PK": {"S": "T#demo"}, "SK": {"S": "POLICY"}}
    doc = json.loads(db.get_item(TableName="mfa", Key=item_key)["Item"]["doc"]["S"])
    del doc["sms"]
    db.update_item(TableName="mfa", Key=item_key, UpdateExpression="SET doc = :doc",
                   ExpressionAttributeValues={":doc": {"S": json.dumps(doc)}})
    assert get_policy(api)["sms"] == DEFAULTS["sms"]


def test_failed_put_changes_nothing(api):
    put_policy(api, EXAMPLE)
    before = get_policy(api)
    assert before["version"] == 1
    good_change = changed(EXAMPLE, "trusted_device_days", 1)
    for path, value in [("methods", ["sms"]), ("totp.digits", 7), ("lockout.lock_seconds", 0), ("colour", "x")]:
        # One bad field spoils the whole PUT, the good change next to it included.
        assert_invalid(put_policy(api, changed(good_change, path, value)), (path, value))
    assert get_policy(api) == before


# --- who may read and change it -------------------------------------------------------------------


def test_only_an_admin_may_read_or_change_the_policy(api):
    for scope in ("mfa:settings", "mfa:logon", "mfa:gateway"):
        r = api.as_user("GET", POLICY, scope=scope)
        assert r.status_code == 403 and r.json["error"] == "forbidden", (scope, r.json)
        r = api.as_user("PUT", POLICY, EXAMPLE, scope=scope)
        assert r.status_code == 403 and r.json["error"] == "forbidden", (scope, r.json)
    assert contract_fields(get_policy(api)) == DEFAULTS


def test_a_tenants_policy_is_not_visible_to_another_tenants_admin(api):
    assert put_policy(api, EXAMPLE, tenant="acme").status_code == 200
    other = get_policy(api, tenant="globex")
    assert contract_fields(other) == changed(DEFAULTS, "totp.issuer", "globex")
    assert put_policy(api, EXAMPLE | {"trusted_device_days": 1}, tenant="globex").json["version"] == 1
    assert contract_fields(get_policy(api, tenant="acme")) == EXAMPLE | {"version": 1}


# --- what a change affects ------------------------------------------------------------------------


def test_new_authenticators_get_the_new_algorithm_digits_and_period(api):
    put_policy(api, changed(EXAMPLE, "totp", EXAMPLE["totp"] | {"algorithm": "SHA256", "digits": 8, "period": 60}))
    enrolled = api.as_user("POST", "/v1/authenticator/enroll", {})
    assert enrolled.status_code == 200, enrolled.json
    query = parse_qs(urlsplit(enrolled.json["otpauth_uri"]).query)
    assert (query["algorithm"], query["digits"], query["period"]) == (["SHA256"], ["8"], ["60"])

    att = attach(api, user="bob@example.com")
    api.clock.advance(60)
    code = code_for(att["uri"], api.clock.now)
    assert len(code) == 8
    r = api.as_user("POST", "/v1/logon/verify", {"code": code}, user="bob@example.com", scope="mfa:logon")
    assert r.status_code == 200, r.json


def test_an_attached_authenticator_keeps_its_own_algorithm_digits_and_period(api):
    att = attach(api)
    assert "algorithm=SHA1" in att["uri"] and "digits=6" in att["uri"] and "period=30" in att["uri"]
    r = put_policy(api, changed(EXAMPLE, "totp", EXAMPLE["totp"] | {"algorithm": "SHA256", "digits": 8, "period": 60}))
    assert r.status_code == 200, r.json
    api.clock.advance(30)
    r = verify_at_logon(api, code_for(att["uri"], api.clock.now, algorithm="SHA1", digits=6, period=30))
    assert r.status_code == 200, r.json


def test_window_zero_refuses_a_code_of_the_previous_step_at_once(api):
    att = attach(api)
    api.clock.advance(90)
    previous = code_for(att["uri"], api.clock.now, offset_steps=-1)
    assert put_policy(api, changed(EXAMPLE, "totp.window", 0)).status_code == 200
    r = verify_at_logon(api, previous)
    assert r.status_code == 400, r.json
    assert r.json["error"] == "invalid_code"
    r = verify_at_logon(api, code_for(att["uri"], api.clock.now, offset_steps=1))
    assert r.status_code == 400, r.json
    r = verify_at_logon(api, code_for(att["uri"], api.clock.now))
    assert r.status_code == 200, r.json


def test_window_two_accepts_a_code_two_steps_old_at_once(api):
    att = attach(api)
    api.clock.advance(90)
    two_old = code_for(att["uri"], api.clock.now, offset_steps=-2)
    r = verify_at_logon(api, two_old)  # the default window is 1
    assert r.status_code == 400, r.json
    assert put_policy(api, changed(EXAMPLE, "totp.window", 2)).status_code == 200
    r = verify_at_logon(api, two_old)
    assert r.status_code == 200, r.json
