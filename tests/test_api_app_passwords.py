"""Third-party client security passwords (app passwords) through the HTTP contract: the user creates,
lists and revokes them; the IMAP/SMTP gateway checks them (chalice.test.Client + moto)."""

import json
import os
import re

import pytest
from moto.sns.models import sns_backends

from tests.conftest import attach, code_for

ALICE = "alice@example.com"
BOB = "bob@example.com"
PASSWORD_FORM = re.compile(r"[a-z]{4} [a-z]{4} [a-z]{4} [a-z]{4}")
INVALID = {"valid": False}


def create(api, label="Thunderbird", *, user=ALICE, scope="mfa:settings"):
    return api.as_user("POST", "/v1/app-passwords", {"label": label}, user=user, scope=scope)


def created(api, label="Thunderbird", *, user=ALICE) -> dict:
    r = create(api, label, user=user)
    assert r.status_code == 201, r.json
    return r.json


def listed(api, *, user=ALICE) -> list:
    r = api.as_user("GET", "/v1/app-passwords", user=user)
    assert r.status_code == 200, r.json
    return r.json


def check(api, password, *, user=ALICE, body=None):
    gateway = api.token("imap-gateway", "mfa:gateway")
    sent = {"user": user, "password": password} if body is None else body
    return api.call("POST", "/v1/app-passwords/check", sent, token=gateway)


def revoke(api, password_id, *, user=ALICE):
    return api.as_user("DELETE", f"/v1/app-passwords/{password_id}", user=user)


def set_policy(api, **policy):
    r = api.as_user("PUT", "/v1/policy", policy, user="admin@example.com", scope="mfa:admin")
    assert r.status_code == 200, r.json


def wrong_password(right: str) -> str:
    return "aaaa bbbb cccc dddd" if right != "aaaa bbbb cccc dddd" else "eeee ffff gggg hhhh"


def topic_messages() -> list[dict]:
    topic = sns_backends["123456789012"]["us-east-1"].topics[os.environ["MFA_TOPIC_ARN"]]
    return [json.loads(sent[1]) for sent in topic.sent_notifications]


# --- create and list ---------------------------------------------------------------------------


def test_create_returns_201_with_a_sixteen_letter_password_in_groups_of_four(api):
    r = create(api)
    assert r.status_code == 201
    body = r.json
    assert set(body) >= {"id", "label", "password", "created_at"}
    assert body["label"] == "Thunderbird"
    assert PASSWORD_FORM.fullmatch(body["password"]), body["password"]
    assert body["created_at"] == "2027-01-15T08:00:00Z"  # T0
    assert isinstance(body["id"], str) and body["id"]
    assert r.headers["Cache-Control"] == "no-store"


def test_create_without_a_label_still_names_the_password(api):
    r = api.as_user("POST", "/v1/app-passwords", {})
    assert r.status_code == 201
    assert isinstance(r.json["label"], str) and r.json["label"]
    assert PASSWORD_FORM.fullmatch(r.json["password"])


@pytest.mark.parametrize("label", [5, None, "", "x" * 65, "tab\tlabel"])
def test_create_with_a_bad_label_is_400(api, label):
    r = api.as_user("POST", "/v1/app-passwords", {"label": label})
    assert r.status_code == 400 and r.json["error"] == "invalid_request"
    assert listed(api) == []


def test_two_passwords_are_different(api):
    first, second = created(api, "Thunderbird"), created(api, "Outlook")
    assert first["id"] != second["id"]
    assert first["password"] != second["password"]


def test_list_shows_id_label_and_times_but_never_the_password(api):
    made = created(api)
    r = api.as_user("GET", "/v1/app-passwords")
    assert r.status_code == 200
    assert r.json == [
        {"id": made["id"], "label": "Thunderbird", "created_at": "2027-01-15T08:00:00Z", "last_used_at": None}
    ]
    text = r.body.decode() if isinstance(r.body, bytes) else r.body
    assert made["password"] not in text
    assert made["password"].replace(" ", "") not in text


def test_factors_count_the_app_passwords(api):
    created(api)
    created(api, "Outlook")
    assert api.as_user("GET", "/v1/factors").json["app_passwords"] == 2


def test_a_logon_token_cannot_create_an_app_password(api):
    r = create(api, scope="mfa:logon")
    assert r.status_code == 403 and r.json["error"] == "forbidden"
    assert listed(api) == []


def test_a_gateway_token_cannot_list_or_create_app_passwords(api):
    created(api)
    gateway = api.token("imap-gateway", "mfa:gateway")
    r = api.call("GET", "/v1/app-passwords", token=gateway)
    assert r.status_code == 403 and r.json["error"] == "forbidden"
    r = api.call("POST", "/v1/app-passwords", {"label": "x"}, token=gateway)
    assert r.status_code == 403 and r.json["error"] == "forbidden"


def test_a_settings_token_cannot_check_an_app_password(api):
    made = created(api)
    r = api.as_user("POST", "/v1/app-passwords/check", {"user": ALICE, "password": made["password"]})
    assert r.status_code == 403 and r.json["error"] == "forbidden"


# --- check -------------------------------------------------------------------------------------


def test_gateway_check_of_the_right_password_is_valid_and_records_last_use(api):
    made = created(api)
    api.clock.advance(120)
    r = check(api, made["password"])
    assert r.status_code == 200 and r.json == {"valid": True}
    [entry] = listed(api)
    assert entry["last_used_at"] == "2027-01-15T08:02:00Z"  # T0 + 120 s: the check, not the creation
    assert entry["created_at"] == "2027-01-15T08:00:00Z"


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda p: p.upper(), id="upper-case"),
        pytest.param(lambda p: p.replace(" ", ""), id="no-spaces"),
        pytest.param(lambda p: p.replace(" ", "-"), id="hyphens"),
        pytest.param(lambda p: " " + p.title().replace(" ", " - ") + " ", id="mixed"),
    ],
)
def test_check_ignores_case_spaces_and_hyphens(api, mangle):
    made = created(api)
    typed = mangle(made["password"])
    assert typed != made["password"]
    r = check(api, typed)
    assert r.status_code == 200 and r.json == {"valid": True}


def test_a_wrong_password_is_just_not_valid(api):
    made = created(api)
    r = check(api, wrong_password(made["password"]))
    assert r.status_code == 200 and r.json == INVALID


def test_a_password_of_another_user_is_not_valid(api):
    made = created(api, user=BOB)
    r = check(api, made["password"], user=ALICE)
    assert r.status_code == 200 and r.json == INVALID


def test_an_unknown_user_looks_like_a_wrong_password(api):
    made = created(api)
    r = check(api, made["password"], user="nobody@example.com")
    assert r.status_code == 200 and r.json == INVALID


def test_a_revoked_password_looks_like_a_wrong_one(api):
    made = created(api)
    assert check(api, made["password"]).json == {"valid": True}
    r = revoke(api, made["id"])
    assert r.status_code == 200 and r.json == {"deleted": True}
    assert listed(api) == []
    assert api.as_user("GET", "/v1/factors").json["app_passwords"] == 0
    r = check(api, made["password"])
    assert r.status_code == 200 and r.json == INVALID


def test_revoking_one_password_keeps_the_others(api):
    first, second = created(api, "Thunderbird"), created(api, "Outlook")
    assert revoke(api, first["id"]).status_code == 200
    assert [p["id"] for p in listed(api)] == [second["id"]]
    assert check(api, second["password"]).json == {"valid": True}


def test_a_gateway_of_another_tenant_finds_nothing(api):
    made = created(api)
    gateway = api.token("imap-gateway", "mfa:gateway", tenant="other")
    r = api.call("POST", "/v1/app-passwords/check", {"user": ALICE, "password": made["password"]}, token=gateway)
    assert r.status_code == 200 and r.json == INVALID


def test_an_mfa_lock_does_not_stop_app_passwords(api):
    set_policy(api, lockout={"max_failures": 1, "lock_seconds": 900})
    att = attach(api)
    made = created(api)
    good = {code_for(att["uri"], api.clock.now, offset_steps=k) for k in (-1, 0, 1)}
    wrong_code = next(c for c in ("000000", "111111", "222222") if c not in good)
    r = api.as_user("POST", "/v1/logon/verify", {"code": wrong_code}, scope="mfa:logon")
    assert r.status_code == 400 and r.json["attempts_left"] == 0
    r = api.as_user("POST", "/v1/logon/verify", {"code": wrong_code}, scope="mfa:logon")
    assert r.status_code == 429 and r.json["error"] == "locked"
    assert check(api, made["password"]).json == {"valid": True}  # a lock stops code checks only


def test_revoking_an_unknown_id_is_404(api):
    r = revoke(api, "no-such-id")
    assert r.status_code == 404 and r.json["error"] == "not_found"


def test_a_user_cannot_revoke_another_users_password(api):
    made = created(api, user=BOB)
    r = revoke(api, made["id"], user=ALICE)
    assert r.status_code == 404 and r.json["error"] == "not_found"
    assert check(api, made["password"], user=BOB).json == {"valid": True}


def test_the_user_field_is_compared_after_ascii_lower_casing(api):
    made = created(api)
    r = check(api, made["password"], user="ALICE@Example.COM")
    assert r.status_code == 200 and r.json == {"valid": True}


@pytest.mark.parametrize(
    "body",
    [
        {"user": 5, "password": "aaaa bbbb cccc dddd"},
        {"user": None, "password": "aaaa bbbb cccc dddd"},
        {"user": ["alice@example.com"], "password": "aaaa bbbb cccc dddd"},
        {"user": ALICE, "password": 1234},
        {"user": ALICE, "password": None},
        {"user": ALICE},
        {"password": "aaaa bbbb cccc dddd"},
        {},
    ],
)
def test_check_with_a_missing_or_non_string_field_is_invalid_request(api, body):
    r = check(api, None, body=body)
    assert r.status_code == 400 and r.json["error"] == "invalid_request"


# --- policy ------------------------------------------------------------------------------------


def test_policy_off_forbids_creating_and_stops_existing_passwords_until_back_on(api):
    made = created(api)
    set_policy(api, app_passwords=False)
    r = create(api, "Outlook")
    assert r.status_code == 403 and r.json["error"] == "forbidden"
    r = check(api, made["password"])
    assert r.status_code == 200 and r.json == INVALID
    assert api.as_user("GET", "/v1/factors").json["allowed"]["app_passwords"] is False

    set_policy(api, app_passwords=True)
    assert check(api, made["password"]).json == {"valid": True}
    assert create(api, "Outlook").status_code == 201


def test_passwords_can_still_be_listed_and_revoked_while_the_policy_is_off(api):
    made = created(api)
    set_policy(api, app_passwords=False)
    assert [p["id"] for p in listed(api)] == [made["id"]]
    r = revoke(api, made["id"])
    assert r.status_code == 200 and r.json == {"deleted": True}
    set_policy(api, app_passwords=True)
    assert check(api, made["password"]).json == INVALID  # revoked for good, not just paused


# --- limits ------------------------------------------------------------------------------------


def test_at_most_forty_app_passwords_and_a_revoke_makes_room(api):
    made = [created(api, f"Client {i}") for i in range(40)]
    r = create(api, "One too many")
    assert r.status_code == 409 and r.json["error"] == "limit_reached"
    assert len(listed(api)) == 40
    assert revoke(api, made[7]["id"]).status_code == 200
    assert create(api, "Replacement").status_code == 201
    r = create(api, "One too many again")
    assert r.status_code == 409 and r.json["error"] == "limit_reached"


def test_ten_wrong_checks_in_a_minute_throttle_even_the_right_password_until_the_minute_passes(api):
    made = created(api)
    wrong = wrong_password(made["password"])
    answers = [check(api, wrong) for _ in range(10)]
    assert [(a.status_code, a.json) for a in answers] == [(200, INVALID)] * 10
    r = check(api, made["password"])
    assert r.status_code == 429 and r.json["error"] == "rate_limited"
    retry_after = r.json["retry_after"]
    assert isinstance(retry_after, int) and 1 <= retry_after <= 60
    assert r.headers["Retry-After"] == str(retry_after)
    api.clock.advance(60)
    r = check(api, made["password"])
    assert r.status_code == 200 and r.json == {"valid": True}


def test_nine_wrong_checks_do_not_throttle(api):
    made = created(api)
    for _ in range(9):
        assert check(api, wrong_password(made["password"])).json == INVALID
    assert check(api, made["password"]).json == {"valid": True}


def test_one_users_throttle_does_not_touch_another_user(api):
    alices = created(api)
    bobs = created(api, user=BOB)
    for _ in range(10):
        check(api, wrong_password(alices["password"]))
    assert check(api, alices["password"]).status_code == 429
    r = check(api, bobs["password"], user=BOB)
    assert r.status_code == 200 and r.json == {"valid": True}


def test_app_password_failures_never_count_toward_the_mfa_lock(api):
    att = attach(api)
    made = created(api)
    for i in range(15):
        if i and i % 9 == 0:
            api.clock.advance(61)  # stay under the app-password throttle
        r = check(api, wrong_password(made["password"]))
        assert r.status_code == 200 and r.json == INVALID
    api.clock.advance(61)
    good = {code_for(att["uri"], api.clock.now, offset_steps=k) for k in (-1, 0, 1)}
    wrong_code = next(c for c in ("000000", "111111", "222222") if c not in good)
    r = api.as_user("POST", "/v1/logon/verify", {"code": wrong_code}, scope="mfa:logon")
    assert r.status_code == 400 and r.json["error"] == "invalid_code"
    assert r.json["attempts_left"] == 4


# --- audit, notifications, logs ----------------------------------------------------------------


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
