"""Races with real threads over HTTP: the local server (threaded, as `make run` serves it) and a moto server."""

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pyotp
import requests

from mfa_core import totp
from tests.conftest import make_token

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
    assert set(statuses) <= {400, 429, 503}, statuses
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
