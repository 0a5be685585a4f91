"""A cloud failure is 503 `unavailable` with Retry-After, never a success or a 500, and writes nothing."""

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from mfa_core import runtime
from tests.conftest import attach, code_for


def fail_on(client, operation, error):
    def raise_error(**_):
        raise error

    client.meta.events.register(f"before-call.{client.meta.service_model.service_name}.{operation}", raise_error)
    return lambda: client.meta.events.unregister(
        f"before-call.{client.meta.service_model.service_name}.{operation}", raise_error
    )


def throttled(operation):
    return ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}, operation)


@pytest.mark.parametrize(
    "operation, error",
    [
        ("Query", throttled("Query")),
        ("TransactWriteItems", throttled("TransactWriteItems")),
        ("Query", EndpointConnectionError(endpoint_url="http://127.0.0.1:9")),
        (
            "TransactWriteItems",
            ClientError({"Error": {"Code": "InternalServerError", "Message": "x"}}, "TransactWriteItems"),
        ),
    ],
)
def test_dynamodb_failure_during_verify_is_503_and_the_code_stays_unused(api, operation, error):
    att = attach(api)
    api.clock.advance(30)
    code = code_for(att["uri"], api.clock.now)
    restore = fail_on(runtime.current().dynamodb, operation, error)
    r = api.as_user("POST", "/v1/logon/verify", {"code": code}, scope="mfa:logon")
    restore()
    assert r.status_code == 503
    assert r.json == {"error": "unavailable", "message": r.json["message"], "retry_after": 1}
    assert r.headers["Retry-After"] == "1"
    # Nothing was written: the same code still works once the table answers again.
    assert api.as_user("POST", "/v1/logon/verify", {"code": code}, scope="mfa:logon").status_code == 200


def test_kms_failure_on_a_cold_container_is_503(api):
    att = attach(api)
    runtime.current().vault._keys.clear()
    restore = fail_on(
        runtime.current().kms,
        "Decrypt",
        ClientError({"Error": {"Code": "KMSInternalException", "Message": "x"}}, "Decrypt"),
    )
    api.clock.advance(30)
    r = api.as_user("POST", "/v1/logon/verify", {"code": code_for(att["uri"], api.clock.now)}, scope="mfa:logon")
    restore()
    assert r.status_code == 503 and r.json["error"] == "unavailable"


def test_failure_while_counting_a_wrong_code_is_503_not_a_success(api):
    att = attach(api)
    api.clock.advance(30)
    # A failure is counted by one UpdateItem (storage/guarantees.py says why it is not a transaction).
    restore = fail_on(runtime.current().dynamodb, "UpdateItem", throttled("UpdateItem"))
    r = api.as_user("POST", "/v1/logon/verify", {"code": "000000"}, scope="mfa:logon")
    restore()
    assert r.status_code == 503
    assert (
        api.as_user(
            "POST", "/v1/logon/verify", {"code": code_for(att["uri"], api.clock.now)}, scope="mfa:logon"
        ).status_code
        == 200
    )


def test_failure_during_confirm_attaches_nothing(api):
    enrolled = api.as_user("POST", "/v1/authenticator/enroll", {}).json
    body = {"enrollment_id": enrolled["enrollment_id"], "code": code_for(enrolled["otpauth_uri"], api.clock.now)}
    restore = fail_on(runtime.current().dynamodb, "TransactWriteItems", throttled("TransactWriteItems"))
    assert api.as_user("POST", "/v1/authenticator/confirm", body).status_code == 503
    restore()
    assert api.as_user("GET", "/v1/factors").json["authenticator"] is None
    assert api.as_user("POST", "/v1/authenticator/confirm", body).status_code == 200


def test_a_token_key_that_cannot_be_read_is_503_not_500(api, monkeypatch):
    """A deployed container reads its token key from Secrets Manager at its first request."""
    monkeypatch.setenv("MFA_DEV_MODE", "0")
    monkeypatch.setenv("MFA_JWT_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing")
    monkeypatch.setenv("MFA_SIGNING_KEY_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing-keys")
    runtime.reset()
    r = api.as_user("GET", "/v1/factors")
    assert r.status_code == 503 and r.json["error"] == "unavailable" and r.headers["Retry-After"] == "1"
    monkeypatch.undo()
    runtime.reset()
