"""AWS calls of the operations `make bench` counts that other tests do not: app passwords (the
IMAP/SMTP gateway's check, right and wrong, and creating one), a verify that trusts the device, and an SMS send.

The others are asserted in test_storage_crypto.py (policy, enroll, confirm, logon, verify warm and
first in a new container, a wrong code, delete) and test_api_trusted_devices.py (logon with a device)."""

import pytest

from mfa_core import runtime
from tests.conftest import attach, code_for
from tests.helpers_logon import attach_phone
from tests.test_storage_crypto import CallCounter

ALICE = "alice@example.com"


@pytest.fixture
def counter(api):
    rt = runtime.current()
    return CallCounter(rt.dynamodb, rt.kms, rt.sns)


@pytest.fixture
def password(api, counter) -> str:
    api.as_user("PUT", "/v1/policy", {"two_factor": "on"}, user="admin@example.com", scope="mfa:admin")
    api.as_user("POST", "/v1/authenticator/enroll", {})  # the tenant's data key exists from here on
    r = api.as_user("POST", "/v1/app-passwords", {"label": "Thunderbird"})
    assert r.status_code == 201, r.json
    counter.take()
    return r.json["password"]


def check(api, password: str):
    gateway = api.token("imap-gateway", "mfa:gateway")
    return api.call("POST", "/v1/app-passwords/check", {"user": ALICE, "password": password}, token=gateway)


def test_creating_an_app_password_is_one_read_one_transaction_and_one_notification(api, password, counter):
    # The read: the user's standing, which the tenant's totals count and the transaction requires unchanged.
    r = api.as_user("POST", "/v1/app-passwords", {"label": "Outlook"})
    assert r.status_code == 201, r.json
    assert counter.take() == {"dynamodb:Query": 1, "dynamodb:TransactWriteItems": 1, "sns:Publish": 1}


def test_a_valid_app_password_check_is_one_transaction(api, password, counter):
    assert check(api, password).json == {"valid": True}
    assert counter.take() == {"dynamodb:TransactWriteItems": 1}


def test_a_wrong_app_password_check_is_the_transaction_and_the_failure_count(api, password, counter):
    assert check(api, "aaaa bbbb cccc dddd").json == {"valid": False}
    assert counter.take() == {"dynamodb:TransactWriteItems": 1, "dynamodb:UpdateItem": 2}


def test_a_verify_that_trusts_the_device_is_still_one_read_and_one_write(api, counter):
    api.as_user("PUT", "/v1/policy", {"two_factor": "on"}, user="admin@example.com", scope="mfa:admin")
    att = attach(api)
    counter.take()
    api.clock.advance(30)
    body = {"code": code_for(att["uri"], api.clock.now), "trust_device": True}
    r = api.as_user("POST", "/v1/logon/verify", body, scope="mfa:logon")
    assert r.status_code == 200 and r.json["device_token"], r.json
    assert counter.take() == {"dynamodb:Query": 1, "dynamodb:TransactWriteItems": 1}


def test_an_sms_send_is_one_read_one_transaction_and_the_publish(api, counter):
    api.as_user("PUT", "/v1/policy", {"two_factor": "on"}, user="admin@example.com", scope="mfa:admin")
    attach_phone(api)
    counter.take()
    r = api.as_user("POST", "/v1/logon/sms", {}, scope="mfa:logon")
    assert r.status_code == 202, r.json
    # The transaction writes the user's SMS record and the day's counters of the number and of the tenant.
    assert counter.take() == {"dynamodb:Query": 1, "dynamodb:TransactWriteItems": 1, "sns:Publish": 1}
