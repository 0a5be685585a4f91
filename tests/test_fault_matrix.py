"""Every AWS call of every operation fails in turn, with each kind of failure: the answer is 503
`unavailable` with Retry-After (after botocore's standard retries), never a success and never a 500,
and the table is exactly as before. The exceptions: the notification publish after a change is best
effort, so the request succeeds and the change stands; a write that lost a race (TransactionConflict)
is sent again and succeeds; a wrong code's audit event comes after the write that counted it, and the
count stands (storage.py says why).

Failures are injected at the HTTP layer (botocore's before-send event, tests/helpers_fault_injection.py),
on every attempt of the chosen call, so botocore's own retry logic runs; only its backoff sleep is taken
out, to keep this fast. The operations and how each is set up: tests/helpers_fault_cases.py."""

import itertools

import boto3
import pytest

from mfa_core import runtime
from tests.helpers_fault_cases import CASES
from tests.helpers_fault_injection import Injector

# (status, error code) per service; each is injected at each call position. Botocore's standard mode
# retries throttling, 5xx and connection errors (3 attempts in all), not TransactionConflictException.
FAILURES = {
    "dynamodb": [
        (400, "ProvisionedThroughputExceededException"),
        (400, "ThrottlingException"),
        (500, "InternalServerError"),
        (400, "TransactionConflictException"),
        "connection",
    ],
    "kms": [(500, "KMSInternalException"), (503, "DependencyTimeoutException"), "connection"],
    "sns": [(500, "InternalError"), (400, "Throttling"), "connection"],
}
NOT_RETRIED = {"TransactionConflictException"}
# What a write that lost a race to another write is answered; the service sends the same write again.
CONTENTION = {"TransactionConflictException"}
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems"}


def table_state():
    """Everything but the tenant data keys (created once, on first use, whatever happens next)."""
    items = boto3.client("dynamodb").scan(TableName="mfa", ConsistentRead=True)["Items"]
    return sorted(repr(sorted(i.items())) for i in items if i["SK"]["S"] != "DATAKEY")


@pytest.fixture
def no_backoff(monkeypatch):
    """Standard retries as configured, minus their sleep, and minus the retry quota: the quota (a token
    bucket per client that stops retries after many failures) would run dry over hundreds of injected
    failures, which no single request in production sees."""
    from botocore.retries import quota, standard

    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, context: 0)
    monkeypatch.setattr(quota.RetryQuota, "acquire", lambda self, capacity_amount: True)


@pytest.mark.parametrize("cold", [False, True], ids=["warm", "cold"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_every_failure_at_every_call_is_503_and_writes_nothing(api, no_backoff, case, cold):
    rt = runtime.current()
    clients = [rt.dynamodb, rt.kms, rt.sns]
    users = (f"u{n}@example.com" for n in itertools.count())

    def cold_start():
        if cold:  # a new container: no cached policy or data key
            rt.vault._keys.clear()
            rt.policies.clear()

    case.prepare(api, next(users))()  # the tenant's first request also creates its data key
    send = case.prepare(api, next(users))
    cold_start()
    recorder = Injector(clients)
    assert send().status_code == case.status
    recorder.close()
    calls = recorder.calls
    assert calls, f"{case.name} made no AWS call"
    # A failed request leaves the table as it was, so one prepared user takes every injection in turn;
    # only after a notification failure (the change stands) is a new one prepared.
    send = case.prepare(api, next(users))
    for index, call in enumerate(calls):
        service = call.split(":")[0]
        for failure in FAILURES[service]:
            cold_start()
            before = table_state()
            injector = Injector(clients, index, failure)
            r = send()
            injector.close()
            where = f"{case.name}: {failure} at call {index} ({call}) of {calls}"
            assert injector.calls[: index + 1] == calls[: index + 1], f"{where}: other calls {injector.calls}"
            retried = failure == "connection" or failure[1] not in NOT_RETRIED
            assert injector.attempts[index] == (3 if retried else 1), f"{where}: {injector.attempts[index]} attempts"
            if _is_lost_race(call, failure):
                # Losing a race to another write is no outage: the same write goes again and goes through.
                assert r.status_code == case.status, f"{where}: {r.status_code} {r.json}"
                assert injector.calls[index + 1] == call, f"{where}: not sent again: {injector.calls}"
                send = case.prepare(api, next(users))
                continue
            if _is_notification(calls, index, case):
                # The change is made; telling the user by email is best effort.
                assert r.status_code == case.status, where
                send = case.prepare(api, next(users))
                continue
            if _is_audit_of_a_counted_failure(calls, index, case):
                # The failure is counted by the write before; an outage must not buy a guess back.
                assert r.status_code == 400 and r.json["error"] == "invalid_code", f"{where}: {r.json}"
                changed = set(table_state()) ^ set(before)
                assert changed and all("STATE#LOCKOUT" in item for item in changed), f"{where}: {changed}"
                send = case.prepare(api, next(users))
                continue
            assert r.status_code == 503, f"{where}: {r.status_code} {r.json}"
            assert r.json["error"] == "unavailable" and r.headers["Retry-After"] == "1", where
            assert table_state() == before, f"{where}: the table changed"


def _is_lost_race(call, failure):
    return failure != "connection" and failure[1] in CONTENTION and call.split(":")[1] in WRITES


def _is_audit_of_a_counted_failure(calls, index, case):
    """The wrong code's audit event and its day's count, written after the UpdateItem that counted it
    (storage/store.py says why)."""
    written = tuple(calls[max(0, index - 1) : index + 1])
    return case.name == "wrong_code" and written == ("dynamodb:UpdateItem", "dynamodb:TransactWriteItems")


def _is_notification(calls, index, case):
    """A publish after the operation's last write is the notification (an SMS send precedes its release)."""
    if calls[index] != "sns:Publish":
        return False
    return case.name not in ("add_phone", "logon_sms")
