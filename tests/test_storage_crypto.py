"""Secrets at rest and the cost of each operation, checked against moto's DynamoDB and KMS."""

import collections
import json

import boto3
import pytest

from mfa_core import runtime
from mfa_core.crypto import Vault
from mfa_core.errors import Unavailable
from mfa_core.storage.keys import SK_MFA, user_pk
from mfa_core.storage.store import Store
from tests.conftest import attach, code_for

pytestmark = pytest.mark.both_engines  # on moto, then on DynamoDB Local


@pytest.fixture
def vault(aws):
    rt = runtime.current()
    return rt.vault


def test_sealed_secret_opens_only_for_the_same_tenant_user_and_purpose(vault):
    blob = vault.seal("demo", "alice@example.com", "totp", b"JBSWY3DPEHPK3PXP")
    assert vault.open("demo", "alice@example.com", "totp", blob) == b"JBSWY3DPEHPK3PXP"
    for tenant, user, purpose in [
        ("demo", "bob@example.com", "totp"),
        ("other", "alice@example.com", "totp"),
        ("demo", "alice@example.com", "phone"),
    ]:
        with pytest.raises(Unavailable):
            vault.open(tenant, user, purpose, blob)


def test_tampered_ciphertext_does_not_open(vault):
    blob = bytearray(vault.seal("demo", "alice@example.com", "totp", b"secret"))
    blob[-1] ^= 1
    with pytest.raises(Unavailable):
        vault.open("demo", "alice@example.com", "totp", bytes(blob))


def test_ciphertext_copied_into_another_users_item_fails_closed(api):
    alice = attach(api, user="alice@example.com")
    attach(api, user="bob@example.com")
    db = boto3.client("dynamodb")
    key = {"PK": {"S": user_pk("demo", "alice@example.com")}, "SK": {"S": SK_MFA}}
    alice_secret = db.get_item(TableName="mfa", Key=key)["Item"]["secret"]
    db.update_item(
        TableName="mfa",
        Key={"PK": {"S": user_pk("demo", "bob@example.com")}, "SK": {"S": SK_MFA}},
        UpdateExpression="SET secret = :s",
        ExpressionAttributeValues={":s": alice_secret},
    )
    api.clock.advance(30)
    r = api.as_user(
        "POST",
        "/v1/logon/verify",
        {"code": code_for(alice["uri"], api.clock.now)},
        user="bob@example.com",
        scope="mfa:logon",
    )
    assert r.status_code == 503 and r.json["error"] == "unavailable"
    assert "Retry-After" in r.headers


def test_nothing_secret_is_stored_in_plaintext(api):
    att = attach(api)
    api.as_user("POST", "/v1/authenticator/enroll", {}, user="bob@example.com")
    items = boto3.client("dynamodb").scan(TableName="mfa")["Items"]
    dump = repr(items)
    secret = att["secret"].replace(" ", "")
    assert secret not in dump and secret.lower() not in dump
    for code in att["recovery_codes"]:
        assert code not in dump and code.replace("-", "") not in dump
    raw = b"".join(v["B"] for item in items for v in item.values() if "B" in v)
    assert secret.encode() not in raw


def test_two_containers_creating_a_tenant_key_at_once_agree_on_one(aws):
    rt = runtime.current()
    store = Store(rt.dynamodb, "mfa")
    first, second = Vault(rt.kms, store, "alias/mfa"), Vault(rt.kms, store, "alias/mfa")
    # The second container found no key, made its own, and lost the conditional put.
    made = rt.kms.generate_data_key(KeyId="alias/mfa", KeySpec="AES_256", EncryptionContext={"tenant": "demo"})
    winner = first.data_key("demo")
    assert store.put_data_key("demo", made["CiphertextBlob"]) != made["CiphertextBlob"]
    assert second.data_key("demo") == winner
    blob = first.seal("demo", "u", "totp", b"x")
    assert second.open("demo", "u", "totp", blob) == b"x"


class CallCounter:
    """Counts the AWS operations the service's own clients send, by botocore's event hooks."""

    def __init__(self, *clients):
        self.calls = collections.Counter()
        for client in clients:
            client.meta.events.register("before-call", self._count)

    def _count(self, model, **_):
        self.calls[f"{model.service_model.service_name}:{model.name}"] += 1

    def take(self):
        counted, self.calls = dict(self.calls), collections.Counter()
        return counted


@pytest.fixture
def counter(api):
    rt = runtime.current()
    return CallCounter(rt.dynamodb, rt.kms, rt.sns)


def test_warm_verify_is_one_read_and_one_write_and_no_kms(api, counter):
    api.as_user("PUT", "/v1/policy", {"two_factor": "on"}, scope="mfa:admin")
    att = attach(api)
    api.clock.advance(30)
    assert (
        api.as_user(
            "POST", "/v1/logon/verify", {"code": code_for(att["uri"], api.clock.now)}, scope="mfa:logon"
        ).status_code
        == 200
    )
    counter.take()
    api.clock.advance(30)
    r = api.as_user("POST", "/v1/logon/verify", {"code": code_for(att["uri"], api.clock.now)}, scope="mfa:logon")
    assert r.status_code == 200
    assert counter.take() == {"dynamodb:Query": 1, "dynamodb:TransactWriteItems": 1}


def test_first_verify_in_a_new_container_loads_policy_and_key_once(api, counter):
    att = attach(api)
    runtime.current().vault._keys.clear()  # a new container: nothing cached
    runtime.current().policies.clear()
    counter.take()
    api.clock.advance(30)
    api.as_user("POST", "/v1/logon/verify", {"code": code_for(att["uri"], api.clock.now)}, scope="mfa:logon")
    assert counter.take() == {
        "dynamodb:GetItem": 2,
        "dynamodb:Query": 1,
        "kms:Decrypt": 1,
        "dynamodb:TransactWriteItems": 1,
    }


def test_calls_per_operation(api, counter):
    api.as_user("POST", "/v1/factors", None)  # warm nothing: 405 before any AWS call
    assert counter.take() == {}
    counts = {}
    counts["policy_put"] = (api.as_user("PUT", "/v1/policy", {"two_factor": "on"}, scope="mfa:admin"), counter.take())
    counts["policy_get"] = (api.as_user("GET", "/v1/policy", scope="mfa:admin"), counter.take())
    enrolled = api.as_user("POST", "/v1/authenticator/enroll", {})
    counts["enroll_first_of_tenant"] = (enrolled, counter.take())
    counts["enroll"] = (enrolled := api.as_user("POST", "/v1/authenticator/enroll", {}), counter.take())
    body = {
        "enrollment_id": enrolled.json["enrollment_id"],
        "code": code_for(enrolled.json["otpauth_uri"], api.clock.now),
    }
    counts["confirm"] = (api.as_user("POST", "/v1/authenticator/confirm", body), counter.take())
    counts["logon"] = (api.as_user("POST", "/v1/logon", {}, scope="mfa:logon"), counter.take())
    api.clock.advance(30)
    counts["wrong_code"] = (
        api.as_user("POST", "/v1/logon/verify", {"code": "abcdef"}, scope="mfa:logon"),
        counter.take(),
    )
    counts["delete"] = (
        api.as_user("DELETE", "/v1/authenticator", {"code": code_for(enrolled.json["otpauth_uri"], api.clock.now)}),
        counter.take(),
    )
    statuses = {name: r.status_code for name, (r, _) in counts.items()}
    assert statuses == {
        "policy_put": 200,
        "policy_get": 200,
        "enroll_first_of_tenant": 200,
        "enroll": 200,
        "confirm": 200,
        "logon": 200,
        "wrong_code": 400,
        "delete": 200,
    }
    assert {name: c for name, (_, c) in counts.items()} == {
        "policy_put": {"dynamodb:GetItem": 1, "dynamodb:TransactWriteItems": 1},
        "policy_get": {"dynamodb:GetItem": 1},
        # Enrolling reads the user's standing, which the tenant's totals count (the write requires it unchanged).
        "enroll_first_of_tenant": {
            "dynamodb:Query": 1,
            "dynamodb:GetItem": 1,
            "kms:GenerateDataKey": 1,
            "dynamodb:PutItem": 1,
            "dynamodb:TransactWriteItems": 1,
        },
        "enroll": {"dynamodb:Query": 1, "dynamodb:TransactWriteItems": 1},
        "confirm": {"dynamodb:Query": 1, "dynamodb:TransactWriteItems": 1, "sns:Publish": 1},
        "logon": {"dynamodb:Query": 1},
        # The count is one UpdateItem (concurrent failures never cancel each other), then its event and the
        # day's count of failures in one transaction.
        "wrong_code": {"dynamodb:Query": 1, "dynamodb:UpdateItem": 1, "dynamodb:TransactWriteItems": 1},
        "delete": {"dynamodb:Query": 1, "dynamodb:TransactWriteItems": 1, "sns:Publish": 1},
    }
    print(json.dumps({name: c for name, (_, c) in counts.items()}))
