"""Failed codes and lockout, as API.md says: the limit's answer, the lock, its doubling and its resets."""

import pytest

from mfa_core.lockout import DAY, Lockout
from mfa_core.policy import LockoutSettings
from tests.conftest import attach, code_for

pytestmark = pytest.mark.both_engines  # the API tests run on moto, then on DynamoDB Local

RULES = LockoutSettings(max_failures=3, lock_seconds=100)


# --- the arithmetic ----------------------------------------------------------------------------


def test_no_record_is_not_locked_and_has_all_attempts():
    assert Lockout().retry_after(RULES, 1000) is None
    assert Lockout().attempts_left(RULES) == 3


def test_reaching_the_limit_locks_for_lock_seconds_from_the_last_failure():
    record = Lockout(fails=3, level=0, last_fail_at=1000)
    assert record.retry_after(RULES, 1000) == 100
    assert record.retry_after(RULES, 1099.5) == 1
    assert record.retry_after(RULES, 1100) is None


def test_each_lock_in_a_streak_doubles_up_to_a_day():
    assert Lockout(fails=3, level=1, last_fail_at=1000).locked_until(RULES) == 1200
    assert Lockout(fails=3, level=3, last_fail_at=1000).locked_until(RULES) == 1800
    assert Lockout(fails=3, level=20, last_fail_at=1000).locked_until(RULES) == 1000 + DAY


def test_a_failure_after_a_served_lock_starts_a_round_one_level_up():
    served = Lockout(fails=3, level=0, last_fail_at=1000)
    assert served.restart(RULES, 1050) is None  # still locked: nothing restarts
    assert served.restart(RULES, 1100) == Lockout(fails=1, level=1, last_fail_at=1100)


def test_a_day_without_failures_ends_the_streak():
    old = Lockout(fails=2, level=4, last_fail_at=1000)
    assert old.restart(RULES, 1000 + DAY) == Lockout(fails=1, level=0, last_fail_at=1000 + DAY)
    assert old.restart(RULES, 1000 + DAY - 1) is None  # within the day the round goes on


# --- through the API ---------------------------------------------------------------------------


def set_lockout(api, max_failures=3, lock_seconds=100):
    r = api.as_user(
        "PUT",
        "/v1/policy",
        {"two_factor": "on", "lockout": {"max_failures": max_failures, "lock_seconds": lock_seconds}},
        user="admin@example.com",
        scope="mfa:admin",
    )
    assert r.status_code == 200


def verify(api, code):
    return api.as_user("POST", "/v1/logon/verify", {"code": code}, scope="mfa:logon")


def wrong_code(uri, now):
    good = {code_for(uri, now, offset_steps=k) for k in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in good)


def fail_until_locked(api, uri, failures=3):
    answers = [verify(api, wrong_code(uri, api.clock.now)) for _ in range(failures)]
    return answers


def test_the_failure_that_reaches_the_limit_is_invalid_code_with_zero_attempts_left(api):
    set_lockout(api)
    att = attach(api)
    answers = fail_until_locked(api, att["uri"])
    assert [a.status_code for a in answers] == [400, 400, 400]
    assert [a.json["attempts_left"] for a in answers] == [2, 1, 0]


def test_locked_user_gets_429_for_right_and_wrong_codes_until_the_lock_ends(api):
    set_lockout(api)
    att = attach(api)
    fail_until_locked(api, att["uri"])
    api.clock.advance(30)
    right = verify(api, code_for(att["uri"], api.clock.now))
    wrong = verify(api, wrong_code(att["uri"], api.clock.now))
    malformed_code = verify(api, "abc")
    for r in (right, wrong, malformed_code):
        assert r.status_code == 429
        assert r.json == {"error": "locked", "message": right.json["message"], "retry_after": 70}
        assert r.headers["Retry-After"] == "70"
    api.clock.advance(70)
    assert verify(api, code_for(att["uri"], api.clock.now)).status_code == 200


def test_consecutive_locks_double_and_a_success_resets_the_doubling(api):
    set_lockout(api)
    att = attach(api)
    fail_until_locked(api, att["uri"])
    assert verify(api, "000000").json["retry_after"] == 100
    api.clock.advance(100)
    answers = fail_until_locked(api, att["uri"])
    assert [a.json["attempts_left"] for a in answers] == [2, 1, 0]
    assert verify(api, "000000").json["retry_after"] == 200  # second lock: twice as long
    api.clock.advance(200)
    fail_until_locked(api, att["uri"])
    assert verify(api, "000000").json["retry_after"] == 400
    api.clock.advance(400)
    assert verify(api, code_for(att["uri"], api.clock.now)).status_code == 200  # success resets both
    api.clock.advance(30)
    fail_until_locked(api, att["uri"])
    assert verify(api, "000000").json["retry_after"] == 100


def test_a_day_without_a_failure_resets_the_count_and_the_doubling(api):
    set_lockout(api)
    att = attach(api)
    fail_until_locked(api, att["uri"])
    api.clock.advance(100)
    fail_until_locked(api, att["uri"], failures=2)
    api.clock.advance(DAY)
    assert verify(api, wrong_code(att["uri"], api.clock.now)).json["attempts_left"] == 2
    fail_until_locked(api, att["uri"], failures=2)
    assert verify(api, "000000").json["retry_after"] == 100  # level 0 again


def test_a_success_resets_the_count(api):
    set_lockout(api)
    att = attach(api)
    fail_until_locked(api, att["uri"], failures=2)
    api.clock.advance(30)
    assert verify(api, code_for(att["uri"], api.clock.now)).status_code == 200
    assert verify(api, wrong_code(att["uri"], api.clock.now)).json["attempts_left"] == 2


def test_failures_count_across_confirm_verify_and_delete(api):
    set_lockout(api, max_failures=4)
    enrolled = api.as_user("POST", "/v1/authenticator/enroll", {}).json
    r = api.as_user(
        "POST",
        "/v1/authenticator/confirm",
        {"enrollment_id": enrolled["enrollment_id"], "code": wrong_code(enrolled["otpauth_uri"], api.clock.now)},
    )
    assert r.json["attempts_left"] == 3
    r = api.as_user(
        "POST",
        "/v1/authenticator/confirm",
        {"enrollment_id": enrolled["enrollment_id"], "code": code_for(enrolled["otpauth_uri"], api.clock.now)},
    )
    assert r.status_code == 200  # the success resets the count
    uri = enrolled["otpauth_uri"]
    assert verify(api, wrong_code(uri, api.clock.now)).json["attempts_left"] == 3
    r = api.as_user("DELETE", "/v1/authenticator", {"code": wrong_code(uri, api.clock.now)})
    assert r.json["attempts_left"] == 2
    r = api.as_user("DELETE", "/v1/authenticator", {"recovery_code": "zzzz-zzzz"})
    assert r.json["attempts_left"] == 1


def test_malformed_requests_do_not_count(api):
    set_lockout(api)
    att = attach(api)
    for body in ({"code": 123456}, {"code": None}, {"method": "nope", "code": "123456"}):
        assert api.as_user("POST", "/v1/logon/verify", body, scope="mfa:logon").status_code == 400
    assert verify(api, wrong_code(att["uri"], api.clock.now)).json["attempts_left"] == 2


def test_lowering_max_failures_applies_at_once(api):
    set_lockout(api, max_failures=5)
    att = attach(api)
    fail_until_locked(api, att["uri"], failures=3)
    set_lockout(api, max_failures=3)
    api.clock.advance(30)
    assert verify(api, code_for(att["uri"], api.clock.now)).status_code == 429
