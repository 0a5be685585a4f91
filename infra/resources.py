"""The cloud resources the service needs (table, key, topic, signing keys), created in moto for the local run and tests.

The deployed stack declares the same table in CloudFormation (PK/SK strings, TTL on `purge_at`)."""

from __future__ import annotations

from mfa_core.storage.keys import TTL_ATTRIBUTE

KEY_ALIAS = "alias/mfa"
TOPIC_NAME = "mfa-notifications"
# moto's default account and the local region: the topic's ARN is known before it exists.
LOCAL_TOPIC_ARN = f"arn:aws:sns:us-east-1:123456789012:{TOPIC_NAME}"


def create_table(dynamodb, name: str) -> None:
    dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=[
            {"AttributeName": "PK", "AttributeType": "S"},
            {"AttributeName": "SK", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
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
