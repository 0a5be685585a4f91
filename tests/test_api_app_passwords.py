"""App passwords the user creates, lists and revokes: their form, the scopes, the policy switch, the limit of 40."""

import re

import pytest

from tests.helpers_app_passwords import ALICE, INVALID, check, create, created, listed, revoke, set_policy

PASSWORD_FORM = re.compile(r"[a-z]{4} [a-z]{4} [a-z]{4} [a-z]{4}")


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
