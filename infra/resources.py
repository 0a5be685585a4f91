"""The cloud resources the service needs (table, key, topic, signing keys), created in moto for the local run and tests.

The deployed stack declares the same table in CloudFormation (PK/SK strings, TTL on `purge_at`, the UserList
index; tests/test_deploy_template.py compares the two)."""

from __future__ import annotations

from mfa_core.storage.codecs import FACTOR_PRESENCE, LISTED, LISTED_AS, LOCKOUT_FIELDS
from mfa_core.storage.keys import TTL_ATTRIBUTE, USER_LIST

KEY_ALIAS = "alias/mfa"
TOPIC_NAME = "mfa-notifications"
# moto's default account and the local region: the topic's ARN is known before it exists.
LOCAL_TOPIC_ARN = f"arn:aws:sns:us-east-1:123456789012:{TOPIC_NAME}"


# The sparse index of the tenant's users (storage/keys.py): keys, and what the list's filters read.
USER_LIST_INDEX = {
    "IndexName": USER_LIST,
    "KeySchema": [{"AttributeName": LISTED, "KeyType": "HASH"}, {"AttributeName": LISTED_AS, "KeyType": "RANGE"}],
    "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": [*FACTOR_PRESENCE, *LOCKOUT_FIELDS]},
}


def create_table(dynamodb, name: str) -> None:
    dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=[
            {"AttributeName": name, "AttributeType": "S"} for name in ("PK", "SK", LISTED, LISTED_AS)
        ],
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[USER_LIST_INDEX],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE}
    )


def create_key(kms) -> str:
    """A symmetric KMS key with the alias the stage config names; returns the alias."""
    key_id = kms.create_key(Description="MFA secrets (local)")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName=KEY_ALIAS, TargetKeyId=key_id)
    return KEY_ALIAS


def create_topic(sns, name: str = TOPIC_NAME) -> str:
    """The notifications topic; returns its ARN (what MFA_TOPIC_ARN names)."""
    return sns.create_topic(Name=name)["TopicArn"]


def create_signing_key(secretsmanager, name: str = "mfa-signing-key") -> str:
    """A secret holding one new mfa_token signing key (what MFA_SIGNING_KEY_ARN names); returns its ARN."""
    from mfa_core import signing

    return secretsmanager.create_secret(Name=name, SecretString=signing.to_secret(signing.new_key()))["ARN"]
