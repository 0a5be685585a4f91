"""Every AWS call of every operation fails in turn, with each kind of failure: the answer is 503
`unavailable` with Retry-After (after botocore's standard retries), never a success and never a 500,
and the table is exactly as before. The exceptions: the notification publish after a change is best
effort, so the request succeeds and the change stands; a write that lost a race (TransactionConflict)
is sent again and succeeds; a wrong code's audit event comes after the write that counted it, and the
count stands (storage.py says why).

Failures are injected at the HTTP layer (botocore's before-send event), on every attempt of the chosen
call, so botocore's own retry logic runs; only its backoff sleep is taken out, to keep this fast."""

import collections
import itertools
import re
from dataclasses import dataclass

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import EndpointConnectionError
from moto.sns.models import sns_backends

from mfa_core import runtime
from tests.conftest import attach, code_for

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
NUMBER = "+8613800001234"


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_):
        yield self._body


def error_response(service: str, status: int, code: str, url: str) -> AWSResponse:
    if service == "sns":  # the query protocol answers in XML
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>injected</Message>"
            f"</Error><RequestId>x</RequestId></ErrorResponse>"
        ).encode()
        headers = {"Content-Type": "text/xml"}
    else:
        body = f'{{"__type": "{code}", "message": "injected"}}'.encode()
        headers = {"Content-Type": "application/x-amz-json-1.0"}
    return AWSResponse(url, status, headers, _Raw(body))


class Injector:
    """Records the AWS calls a request makes; fails the `fail_at`-th one on every attempt."""

    def __init__(self, clients, fail_at: int | None = None, failure=None) -> None:
        self.calls: list[str] = []
        self.attempts = collections.Counter()
        self._fail_at, self._failure = fail_at, failure
        for client in clients:
            client.meta.events.register("before-call", self._before_call)
            client.meta.events.register_first("before-send", self._before_send)  # ahead of moto's own
        self._clients = clients

    def _before_call(self, model, **_):
        self.calls.append(f"{model.service_model.service_name}:{model.name}")

    def _before_send(self, request, **_):
        index = len(self.calls) - 1
        if index != self._fail_at:
            return None
        self.attempts[index] += 1
        service = self.calls[index].split(":")[0]
        if self._failure == "connection":
            raise EndpointConnectionError(endpoint_url=request.url)
        status, code = self._failure
        url, request.url = request.url, "http://fault-injected.invalid/"  # so moto's own handler ignores it
        return error_response(service, status, code, url)

    def close(self) -> None:
        for client in self._clients:
            client.meta.events.unregister("before-call", self._before_call)
            client.meta.events.unregister("before-send", self._before_send)


@dataclass
class Case:
    """One operation: `prepare(api, user)` sets the user up and returns `send()`, the request under test."""

    name: str
    prepare: object
    status: int


def _attached(api, user):
    return attach(api, user=user)


def _next_code(api, att):
    api.clock.advance(30)
    return code_for(att["uri"], api.clock.now)


def _with_phone(api, user):
    assert api.as_user("POST", "/v1/phone", {"number": NUMBER}, user=user).status_code == 202
    code = _last_sms_code()
    assert api.as_user("POST", "/v1/phone/confirm", {"code": code}, user=user).status_code == 200
    api.clock.advance(31)


def _last_sms_code():
    texts = [t for n, t in sns_backends["123456789012"]["us-east-1"].sms_messages.values() if n == NUMBER]
    return re.search(r"\d{6}", texts[-1]).group()


def _trusted(api, user):
    att = _attached(api, user)
    r = api.as_user(
        "POST", "/v1/logon/verify", {"code": _next_code(api, att), "trust_device": True}, user=user, scope="mfa:logon"
    )
    return att, r.json["device_token"]


def prep_enroll(api, user):
    return lambda: api.as_user("POST", "/v1/authenticator/enroll", {}, user=user)


def prep_confirm(api, user):
    enrolled = api.as_user("POST", "/v1/authenticator/enroll", {}, user=user).json
    body = {"enrollment_id": enrolled["enrollment_id"], "code": code_for(enrolled["otpauth_uri"], api.clock.now)}
    return lambda: api.as_user("POST", "/v1/authenticator/confirm", body, user=user)


def prep_verify(api, user):
    code = _next_code(api, _attached(api, user))
    return lambda: api.as_user("POST", "/v1/logon/verify", {"code": code}, user=user, scope="mfa:logon")


def prep_verify_trusting(api, user):
    code = _next_code(api, _attached(api, user))
    return lambda: api.as_user(
        "POST", "/v1/logon/verify", {"code": code, "trust_device": True}, user=user, scope="mfa:logon"
    )


def prep_wrong_code(api, user):
    _attached(api, user)
    return lambda: api.as_user("POST", "/v1/logon/verify", {"code": "abcdef"}, user=user, scope="mfa:logon")


def prep_recovery(api, user):
    att = _attached(api, user)
    return lambda: api.as_user(
        "POST",
        "/v1/logon/verify",
        {"method": "recovery_code", "code": att["recovery_codes"][0]},
        user=user,
        scope="mfa:logon",
    )


def _two_factor_on(api):
    assert (
        api.as_user("PUT", "/v1/policy", {"two_factor": "on"}, user="admin@example.com", scope="mfa:admin").status_code
        == 200
    )


def prep_logon_device(api, user):
    _two_factor_on(api)
    _, token = _trusted(api, user)
    return lambda: api.as_user("POST", "/v1/logon", {"device_token": token}, user=user, scope="mfa:logon")


def prep_logon(api, user):
    _two_factor_on(api)
    _attached(api, user)
    return lambda: api.as_user("POST", "/v1/logon", {}, user=user, scope="mfa:logon")


def prep_delete(api, user):
    code = _next_code(api, _attached(api, user))
    return lambda: api.as_user("DELETE", "/v1/authenticator", {"code": code}, user=user)


def prep_renew(api, user):
    code = _next_code(api, _attached(api, user))
    return lambda: api.as_user("POST", "/v1/recovery-codes", {"code": code}, user=user)


def prep_add_phone(api, user):
    return lambda: api.as_user("POST", "/v1/phone", {"number": NUMBER}, user=user)


def prep_confirm_phone(api, user):
    assert api.as_user("POST", "/v1/phone", {"number": NUMBER}, user=user).status_code == 202
    code = _last_sms_code()
    return lambda: api.as_user("POST", "/v1/phone/confirm", {"code": code}, user=user)


def prep_logon_sms(api, user):
    _with_phone(api, user)
    return lambda: api.as_user("POST", "/v1/logon/sms", {}, user=user, scope="mfa:logon")


def prep_verify_sms(api, user):
    _with_phone(api, user)
    assert api.as_user("POST", "/v1/logon/sms", {}, user=user, scope="mfa:logon").status_code == 202
    code = _last_sms_code()
    return lambda: api.as_user(
        "POST", "/v1/logon/verify", {"method": "phone", "code": code}, user=user, scope="mfa:logon"
    )


def prep_delete_phone(api, user):
    att = _attached(api, user)
    _with_phone(api, user)
    code = _next_code(api, att)
    return lambda: api.as_user("DELETE", "/v1/phone", {"code": code}, user=user)


def prep_revoke_devices(api, user):
    _trusted(api, user)
    return lambda: api.as_user("DELETE", "/v1/devices", {}, user=user)


def prep_create_app_password(api, user):
    return lambda: api.as_user("POST", "/v1/app-passwords", {"label": "Thunderbird"}, user=user)


def prep_check_app_password(api, user):
    password = api.as_user("POST", "/v1/app-passwords", {}, user=user).json["password"]
    return lambda: api.as_user(
        "POST", "/v1/app-passwords/check", {"user": user, "password": password}, user="gateway", scope="mfa:gateway"
    )


def prep_wrong_app_password(api, user):
    api.as_user("POST", "/v1/app-passwords", {}, user=user)
    return lambda: api.as_user(
        "POST", "/v1/app-passwords/check", {"user": user, "password": "nope"}, user="gateway", scope="mfa:gateway"
    )


def prep_revoke_app_password(api, user):
    password_id = api.as_user("POST", "/v1/app-passwords", {}, user=user).json["id"]
    return lambda: api.as_user("DELETE", f"/v1/app-passwords/{password_id}", {}, user=user)


def prep_factors(api, user):
    _attached(api, user)
    return lambda: api.as_user("GET", "/v1/factors", user=user)


def prep_admin_reset(api, user):
    _trusted(api, user)
    return lambda: api.as_user("POST", f"/v1/admin/users/{user.replace('@', '%40')}/reset", {}, scope="mfa:admin")


def prep_admin_unlock(api, user):
    _attached(api, user)
    for _ in range(5):
        api.as_user("POST", "/v1/logon/verify", {"code": "abcdef"}, user=user, scope="mfa:logon")
    return lambda: api.as_user("POST", f"/v1/admin/users/{user.replace('@', '%40')}/unlock", {}, scope="mfa:admin")


def prep_admin_events(api, user):
    _attached(api, user)
    return lambda: api.as_user("GET", f"/v1/admin/events?user={user.replace('@', '%40')}&limit=5", scope="mfa:admin")


def prep_policy_put(api, user):
    return lambda: api.as_user("PUT", "/v1/policy", {"two_factor": "on"}, scope="mfa:admin")


def prep_policy_get(api, user):
    return lambda: api.as_user("GET", "/v1/policy", scope="mfa:admin")


CASES = [
    Case("enroll", prep_enroll, 200),
    Case("confirm", prep_confirm, 200),
    Case("verify", prep_verify, 200),
    Case("verify_trusting", prep_verify_trusting, 200),
    Case("wrong_code", prep_wrong_code, 400),
    Case("recovery_code", prep_recovery, 200),
    Case("logon", prep_logon, 200),
    Case("logon_device", prep_logon_device, 200),
    Case("delete", prep_delete, 200),
    Case("renew", prep_renew, 200),
    Case("add_phone", prep_add_phone, 202),
    Case("confirm_phone", prep_confirm_phone, 200),
    Case("logon_sms", prep_logon_sms, 202),
    Case("verify_sms", prep_verify_sms, 200),
    Case("delete_phone", prep_delete_phone, 200),
    Case("revoke_devices", prep_revoke_devices, 200),
    Case("create_app_password", prep_create_app_password, 201),
    Case("check_app_password", prep_check_app_password, 200),
    Case("wrong_app_password", prep_wrong_app_password, 200),
    Case("revoke_app_password", prep_revoke_app_password, 200),
    Case("factors", prep_factors, 200),
    Case("admin_reset", prep_admin_reset, 200),
    Case("admin_unlock", prep_admin_unlock, 200),
    Case("admin_events", prep_admin_events, 200),
    Case("policy_put", prep_policy_put, 200),
    Case("policy_get", prep_policy_get, 200),
]


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
    """The wrong code's audit event, written after the UpdateItem that counted it (storage.py says why)."""
    written = tuple(calls[max(0, index - 1) : index + 1])
    return case.name == "wrong_code" and written == ("dynamodb:UpdateItem", "dynamodb:PutItem")


def _is_notification(calls, index, case):
    """A publish after the operation's last write is the notification (an SMS send precedes its release)."""
    if calls[index] != "sns:Publish":
        return False
    return case.name not in ("add_phone", "logon_sms")
