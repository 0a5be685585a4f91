"""The gateway's check of an app password: right, mangled, wrong, revoked, another user or tenant, throttled."""

import pytest

from tests.conftest import attach, code_for
from tests.helpers_app_passwords import ALICE, INVALID, check, created, listed, revoke, set_policy, wrong_password

BOB = "bob@example.com"


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


# --- throttling --------------------------------------------------------------------------------


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
