"""Races with real threads over HTTP: the local server (threaded, as `make run` serves it), a moto server, and
DynamoDB on moto or on DynamoDB Local."""

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pyotp
import pytest
import requests

from mfa_core import totp
from mfa_core.lockout import DAY
from mfa_core.storage.keys import sms_day_sk, sms_number_day_sk, tenant_pk
from tests.conftest import make_token

pytestmark = pytest.mark.both_engines  # on moto, then on Amazon's DynamoDB Local (real concurrency)

THREADS = 20


def post(base, path, body, token, method="POST"):
    return requests.request(method, base + path, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def race(n, send):
    """Send `n` requests at the same moment; returns their status codes."""
    barrier = threading.Barrier(n)

    def one(_):
        barrier.wait()
        return send().status_code

    with ThreadPoolExecutor(n) as pool:
        return sorted(pool.map(one, range(n)))


def enroll(base, user):
    token = make_token(user, "race")
    enrolled = post(base, "/v1/authenticator/enroll", {}, token).json()
    return token, enrolled, pyotp.parse_uri(enrolled["otpauth_uri"]).secret


def code_at_step(secret, step):
    return totp.code_at(secret, step, algorithm="SHA1", digits=6)


def test_one_confirm_code_sent_twenty_times_at_once_attaches_once(live):
    token, enrolled, secret = enroll(live, "confirm-race@example.com")
    body = {"enrollment_id": enrolled["enrollment_id"], "code": pyotp.TOTP(secret).now()}
    statuses = race(THREADS, lambda: post(live, "/v1/authenticator/confirm", body, token))
    assert statuses.count(200) == 1, statuses
    assert set(statuses) <= {200, 400, 404, 409, 429}, statuses
    factors = post(live, "/v1/factors", None, token, method="GET").json()
    assert factors["authenticator"]["attached"] is True and factors["recovery_codes_left"] == 10


def attached(base, user):
    """An attached authenticator: (settings token, confirm's answer, secret, the step confirm used)."""
    token, enrolled, secret = enroll(base, user)
    step = totp.step_at(time.time(), 30)
    confirmed = post(
        base,
        "/v1/authenticator/confirm",
        {"enrollment_id": enrolled["enrollment_id"], "code": code_at_step(secret, step)},
        token,
    )
    assert confirmed.status_code == 200
    return token, confirmed.json(), secret, step


def test_one_totp_code_sent_twenty_times_at_once_is_accepted_once(live):
    user = "verify-race@example.com"
    _, _, secret, step = attached(live, user)
    # The next step's code: later than the one confirm used, and inside the window for the next 30-60 s.
    code = code_at_step(secret, step + 1)
    logon = make_token(user, "race", "mfa:logon")
    statuses = race(THREADS, lambda: post(live, "/v1/logon/verify", {"code": code}, logon))
    assert statuses.count(200) == 1, statuses
    assert set(statuses) <= {200, 400, 429}, statuses


def test_one_recovery_code_sent_by_twenty_threads_at_once_is_accepted_once(live):
    user = "recovery-race@example.com"
    _, confirmed, _, _ = attached(live, user)
    code = confirmed["recovery_codes"][0]
    logon = make_token(user, "race", "mfa:logon")
    body = {"method": "recovery_code", "code": code}
    statuses = race(THREADS, lambda: post(live, "/v1/logon/verify", body, logon))
    assert statuses.count(200) == 1, statuses
    assert set(statuses) <= {200, 400, 429}, statuses
    settings = make_token(user, "race")
    assert post(live, "/v1/factors", None, settings, method="GET").json()["recovery_codes_left"] == 9


def test_one_sms_code_sent_by_twenty_threads_at_once_is_accepted_once(live):
    from moto.sns.models import sns_backends

    user, number = "sms-race@example.com", "+8613900001111"
    settings = make_token(user, "race")
    assert post(live, "/v1/phone", {"number": number}, settings).status_code == 202
    sent = [text for to, text in sns_backends["123456789012"]["us-east-1"].sms_messages.values() if to == number]
    code = next(word for word in sent[-1].split() if word.rstrip(".").isdigit() and len(word.rstrip(".")) == 6)
    statuses = race(THREADS, lambda: post(live, "/v1/phone/confirm", {"code": code.rstrip(".")}, settings))
    assert statuses.count(200) == 1, statuses
    assert set(statuses) <= {200, 400, 404, 409, 429}, statuses


def table_item(user, sk, tenant="race"):
    import boto3

    key = {"PK": {"S": f"T#{tenant}#U#{user}"}, "SK": {"S": sk}}
    return (
        boto3.client("dynamodb").get_item(TableName=os.environ["MFA_TABLE"], Key=key, ConsistentRead=True).get("Item")
    )


def test_three_hundred_concurrent_wrong_codes_lock_the_user_and_every_counted_failure_is_answered(live):
    user = "flood@example.com"
    _, confirmed, _, _ = attached(live, user)
    logon = make_token(user, "race", "mfa:logon")
    statuses = race(300, lambda: post(live, "/v1/logon/verify", {"code": "abcdef"}, logon))
    counted = statuses.count(400)
    assert counted == 5, statuses  # the tenant's default max_failures: every counted failure answered 400
    assert set(statuses) == {400, 429}, statuses  # losing a race is never a 503
    assert int(table_item(user, "STATE#LOCKOUT")["fails"]["N"]) == counted
    r = post(live, "/v1/logon/verify", {"method": "recovery_code", "code": confirmed["recovery_codes"][0]}, logon)
    assert r.status_code == 429 and r.json()["error"] == "locked"


def test_concurrent_confirm_and_delete_never_leave_a_half_attached_authenticator(live):
    user = "flip@example.com"
    token, enrolled, secret = enroll(live, user)
    step = totp.step_at(time.time(), 30)
    confirm = {"enrollment_id": enrolled["enrollment_id"], "code": code_at_step(secret, step)}
    delete = {"code": code_at_step(secret, step + 1)}
    barrier = threading.Barrier(20)

    def one(i):
        barrier.wait()
        if i % 2:
            return "confirm", post(live, "/v1/authenticator/confirm", confirm, token).status_code
        return "delete", post(live, "/v1/authenticator", delete, token, method="DELETE").status_code

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(one, range(20)))
    confirms = [s for kind, s in results if kind == "confirm"]
    deletes = [s for kind, s in results if kind == "delete"]
    assert confirms.count(200) == 1, results
    assert deletes.count(200) <= 1, results
    factors = post(live, "/v1/factors", None, token, method="GET").json()
    mfa = table_item(user, "STATE#MFA")
    if deletes.count(200):
        assert factors["authenticator"] is None and factors["recovery_codes_left"] == 0
        assert "secret" not in mfa and "recovery" not in mfa
    else:
        assert factors["authenticator"]["attached"] is True and factors["recovery_codes_left"] == 10


def test_concurrent_policy_writes_with_one_version_one_wins(live):
    admin = make_token("admin@example.com", "race-policy", "mfa:admin")
    current = post(live, "/v1/policy", None, admin, method="GET").json()["version"]
    bodies = iter([{"two_factor": "on", "trusted_device_days": days, "version": current} for days in range(1, 21)])
    lock = threading.Lock()

    def send():
        with lock:
            body = next(bodies)
        return post(live, "/v1/policy", body, admin, method="PUT")

    statuses = race(20, send)
    assert statuses.count(200) == 1 and statuses.count(409) == 19, statuses
    assert post(live, "/v1/policy", None, admin, method="GET").json()["version"] == current + 1


# --- API.md, "Guarantees under concurrency", black box ----------------------------------------------


def answers(n, send):
    """Send `n` requests at the same moment; returns their responses."""
    barrier = threading.Barrier(n)

    def one(_):
        barrier.wait()
        return send()

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


def set_policy(base, tenant, **fields):
    admin = make_token("admin@example.com", tenant, "mfa:admin")
    r = post(base, "/v1/policy", {"two_factor": "on", **fields}, admin, method="PUT")
    assert r.status_code == 200, r.json()


def attached_in(base, tenant, user):
    """attached() for another tenant: (settings token, confirm's answer, secret, step confirm used)."""
    token = make_token(user, tenant)
    enrolled = post(base, "/v1/authenticator/enroll", {}, token).json()
    secret = pyotp.parse_uri(enrolled["otpauth_uri"]).secret
    step = totp.step_at(time.time(), 30)
    body = {"enrollment_id": enrolled["enrollment_id"], "code": code_at_step(secret, step)}
    confirmed = post(base, "/v1/authenticator/confirm", body, token)
    assert confirmed.status_code == 200, confirmed.json()
    return token, confirmed.json(), secret, step


def test_fifty_racers_on_one_valid_code_one_is_accepted_and_every_other_is_a_counted_invalid_code(live):
    set_policy(live, "race-wide", lockout={"max_failures": 100, "lock_seconds": 900})
    user = "fifty@example.com"
    _, _, secret, step = attached_in(live, "race-wide", user)
    logon = make_token(user, "race-wide", "mfa:logon")
    body = {"code": code_at_step(secret, step + 1)}
    replies = answers(50, lambda: post(live, "/v1/logon/verify", body, logon))
    statuses = sorted(r.status_code for r in replies)
    assert statuses == [200] + [400] * 49, statuses
    left = sorted(r.json()["attempts_left"] for r in replies if r.status_code == 400)
    assert left == list(range(51, 100)), left


def test_thirty_wrong_codes_at_once_are_each_counted_once(live):
    set_policy(live, "race-wide", lockout={"max_failures": 100, "lock_seconds": 900})
    user = "thirty@example.com"
    attached_in(live, "race-wide", user)
    logon = make_token(user, "race-wide", "mfa:logon")
    replies = answers(30, lambda: post(live, "/v1/logon/verify", {"code": "000000"}, logon))
    assert sorted(r.status_code for r in replies) == [400] * 30
    assert sorted(r.json()["attempts_left"] for r in replies) == list(range(70, 100))


def test_twenty_five_wrong_codes_at_once_lock_after_ten_and_the_right_code_is_then_locked(live):
    set_policy(live, "race-ten", lockout={"max_failures": 10, "lock_seconds": 900})
    user = "twentyfive@example.com"
    _, _, secret, step = attached_in(live, "race-ten", user)
    logon = make_token(user, "race-ten", "mfa:logon")
    replies = answers(25, lambda: post(live, "/v1/logon/verify", {"code": "000000"}, logon))
    statuses = sorted(r.status_code for r in replies)
    assert statuses == [400] * 10 + [429] * 15, statuses
    assert {r.json()["error"] for r in replies if r.status_code == 429} == {"locked"}
    right = post(live, "/v1/logon/verify", {"code": code_at_step(secret, step + 1)}, logon)
    assert right.status_code == 429 and right.json()["error"] == "locked"


def test_a_right_code_racing_the_failure_that_locks_is_never_accepted_after_the_lock(live):
    set_policy(live, "race-two", lockout={"max_failures": 2, "lock_seconds": 900})
    for trial in range(6):
        user = f"lock-race-{trial}@example.com"
        _, _, secret, step = attached_in(live, "race-two", user)
        logon = make_token(user, "race-two", "mfa:logon")
        assert post(live, "/v1/logon/verify", {"code": "000000"}, logon).json()["attempts_left"] == 1
        bodies = iter([{"code": code_at_step(secret, step + 1)}, {"code": "111111"}])
        lock = threading.Lock()

        def send(bodies=bodies, lock=lock, logon=logon):
            with lock:
                body = next(bodies)
            return body["code"] != "111111", post(live, "/v1/logon/verify", body, logon)

        replies = dict(answers(2, send))
        right, wrong = replies[True], replies[False]
        if wrong.status_code == 400 and wrong.json()["attempts_left"] == 0:  # the failure locked first
            assert right.status_code == 429, (trial, right.json())
            later = post(live, "/v1/logon/verify", {"code": code_at_step(secret, step + 2)}, logon)
            assert later.status_code == 429, (trial, later.json())  # and the lock holds
        else:  # the right code came first and ended the streak: the wrong one starts a new one
            assert right.status_code == 200 and wrong.json()["attempts_left"] == 1, (trial, wrong.json())


def test_forty_wrong_app_password_checks_at_once_get_ten_answers_and_thirty_429(live):
    user = "throttle@example.com"
    settings = make_token(user, "race")
    assert post(live, "/v1/app-passwords", {"label": "Thunderbird"}, settings).status_code == 201
    gateway = make_token("imap", "race", "mfa:gateway")
    body = {"user": user, "password": "not the password"}
    # The throttle counts per clock minute: checks straddling a minute would rightly get two windows' answers.
    if time.time() % 60 > 45:
        time.sleep(60.5 - time.time() % 60)
    replies = answers(40, lambda: post(live, "/v1/app-passwords/check", body, gateway))
    statuses = sorted(r.status_code for r in replies)
    assert statuses == [200] * 10 + [429] * 30, statuses
    assert all(r.json() == {"valid": False} for r in replies if r.status_code == 200)


def test_six_devices_trusted_at_once_on_top_of_eight_keep_the_user_at_ten(live):
    user = "devices@example.com"
    settings, confirmed, secret, step = attached_in(live, "race-devices", user)
    logon = make_token(user, "race-devices", "mfa:logon")
    for code in confirmed["recovery_codes"][:8]:
        r = post(live, "/v1/logon/verify", {"method": "recovery_code", "code": code, "trust_device": True}, logon)
        assert r.status_code == 200, r.json()
    renewed = post(live, "/v1/recovery-codes", {"code": code_at_step(secret, step + 1)}, settings).json()
    codes = iter(renewed["recovery_codes"][:6])
    lock = threading.Lock()

    def trust():
        with lock:
            code = next(codes)
        return post(live, "/v1/logon/verify", {"method": "recovery_code", "code": code, "trust_device": True}, logon)

    replies = answers(6, trust)
    assert sorted(r.status_code for r in replies) == [200] * 6, [r.json() for r in replies]
    assert len(post(live, "/v1/devices", None, settings, method="GET").json()) == 10
    set_policy(live, "race-devices")
    working = [
        r for r in replies
        if post(live, "/v1/logon", {"device_token": r.json()["device_token"]}, logon).json()["next"] == "done"
    ]
    assert len(working) == 6  # the newest six replaced the oldest; none of them beyond ten


def test_ten_app_passwords_created_at_once_on_top_of_thirty_five_stop_at_forty(live):
    user = "forty@example.com"
    settings = make_token(user, "race")
    for n in range(35):
        assert post(live, "/v1/app-passwords", {"label": f"client {n}"}, settings).status_code == 201
    replies = answers(10, lambda: post(live, "/v1/app-passwords", {"label": "late"}, settings))
    assert sorted(r.status_code for r in replies) == [201] * 5 + [409] * 5
    assert len(post(live, "/v1/app-passwords", None, settings, method="GET").json()) == 40


def sms_sent_to(numbers) -> int:
    from moto.sns.models import sns_backends

    return sum(1 for to, _ in sns_backends["123456789012"]["us-east-1"].sms_messages.values() if to in numbers)


def sms_counted(tenant, sk_of_day) -> int:
    """A day's SMS counter as stored, summed over the days the race may have straddled (UTC midnight)."""
    import boto3

    days = {int(time.time()) // DAY, int(time.time() - 60) // DAY}
    items = [
        boto3.client("dynamodb").get_item(
            TableName=os.environ["MFA_TABLE"], Key={"PK": {"S": tenant_pk(tenant)}, "SK": {"S": sk_of_day(day)}}
        ).get("Item")
        for day in days
    ]
    return sum(int(item["sent"]["N"]) for item in items if item)


@pytest.mark.parametrize("limit", ["per_tenant_per_day", "per_number_per_day"])
def test_twenty_sms_sends_at_once_with_a_days_limit_of_five_send_five(live, limit):
    tenant = f"race-sms-{limit.split('_')[1]}"
    set_policy(live, tenant, sms={limit: 5})
    shared = "+8613799999999"
    # Twenty users: each to a number of its own under the tenant's limit, all to one number under the number's.
    numbers = [f"+86137000000{i:02d}" if limit == "per_tenant_per_day" else shared for i in range(THREADS)]
    users = iter(range(THREADS))
    lock = threading.Lock()

    def send():
        with lock:
            i = next(users)
        return post(live, "/v1/phone", {"number": numbers[i]}, make_token(f"sms-{i}@example.com", tenant))

    replies = answers(THREADS, send)
    statuses = sorted(r.status_code for r in replies)
    assert statuses == [202] * 5 + [429] * 15, statuses  # losing the race for the last units is never a 503
    assert {r.json()["error"] for r in replies if r.status_code == 429} == {"rate_limited"}
    assert sms_sent_to(set(numbers)) == 5
    day_sk = sms_day_sk if limit == "per_tenant_per_day" else (lambda day: sms_number_day_sk(day, shared))
    assert sms_counted(tenant, day_sk) == 5


def test_users_attaching_and_logging_on_at_once_are_each_counted_once(live):
    """The tenant's counters and totals (one shard is shared by several of the users) under real threads. Ten
    users on 8 shards: moto's server answers one request at a time, so more would only test its queue."""
    USERS = 10  # noqa: N806

    def attach_and_log_on(n):
        user = f"count-{n}@example.com"
        token = make_token(user, "counts")
        enrolled = post(live, "/v1/authenticator/enroll", {}, token).json()
        secret = pyotp.parse_uri(enrolled["otpauth_uri"]).secret
        step = totp.step_at(time.time(), 30)
        body = {"enrollment_id": enrolled["enrollment_id"], "code": code_at_step(secret, step)}
        assert post(live, "/v1/authenticator/confirm", body, token).status_code == 200
        verified = post(
            live, "/v1/logon/verify", {"code": code_at_step(secret, step + 1)}, make_token(user, "counts", "mfa:logon")
        )
        return verified.status_code

    barrier = threading.Barrier(USERS)

    def one(n):
        barrier.wait()
        return attach_and_log_on(n)

    with ThreadPoolExecutor(USERS) as pool:
        assert list(pool.map(one, range(USERS))) == [200] * USERS
    admin = make_token("admin@example.com", "counts", "mfa:admin")
    report = requests.get(f"{live}/v1/admin/report?days=2", headers={"Authorization": f"Bearer {admin}"}, timeout=30)
    counts = report.json()
    assert counts["users"] == USERS and counts["enrolled"]["any"] == USERS, counts
    assert sum(day["attached"] for day in counts["days"]) == USERS, counts
    assert sum(day["verified"] for day in counts["days"]) == USERS, counts


def test_one_access_pass_sent_by_twenty_threads_at_once_is_accepted_once(live):
    user = "pass-race@example.com"
    attached(live, user)
    admin = make_token("admin@example.com", "race", "mfa:admin")
    issued = post(live, "/v1/admin/users/pass-race%40example.com/access-pass", {"hours": 1}, admin).json()
    body = {"method": "access_pass", "code": issued["access_pass"]}
    logon = make_token(user, "race", "mfa:logon")
    statuses = race(THREADS, lambda: post(live, "/v1/logon/verify", body, logon))
    assert statuses.count(200) == 1, statuses
    assert set(statuses) <= {200, 400, 429}, statuses
