"""The packaged stacks' templates: resources, environment, no secret, IAM role, throttling, 405s, a second tenant."""

from __future__ import annotations

import json
import re

import boto3

from mfa_core.config import DEV_SECRET
from tests.conftest import ROOT

pytest_plugins = ["tests.helpers_deploy"]  # the `built` stacks


def test_template_declares_the_tenant_resources(built):
    resources = built.template()["Resources"]
    table = resources["MfaTable"]["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["TimeToLiveSpecification"] == {"AttributeName": "purge_at", "Enabled": True}
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": {"Ref": "MfaKey"}}
    assert table["DeletionProtectionEnabled"] is True
    assert resources["MfaTable"]["DeletionPolicy"] == "Retain"

    key = resources["MfaKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    assert {s["Sid"] for s in key["KeyPolicy"]["Statement"]} == {
        "AccountAdministersThroughIam",
        "TableEncryptionThroughDynamoDB",
    }
    assert resources["MfaTopic"]["Type"] == "AWS::SNS::Topic"
    assert resources["MfaTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "MfaKey"}

    layer = resources["MfaCoreLayer"]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]
    function = resources["VerifyFunction"]["Properties"]
    assert function["Layers"] == [{"Ref": "MfaCoreLayer"}]
    assert function["Runtime"] == "python3.13" and function["Architectures"] == ["x86_64"]

    logs = resources["ApiHandlerLogGroup"]["Properties"]
    assert logs["RetentionInDays"] == 90
    assert function["LoggingConfig"]["LogGroup"] == {"Ref": "ApiHandlerLogGroup"}


def test_table_matches_the_one_the_tests_run_against(built):
    """The stack's table and infra/resources.py's (moto) have the same keys, indexes and TTL."""
    from moto import mock_aws

    from infra.resources import create_table

    with mock_aws():
        dynamodb = boto3.client("dynamodb")
        create_table(dynamodb, "mfa")
        local = dynamodb.describe_table(TableName="mfa")["Table"]
        ttl = dynamodb.describe_time_to_live(TableName="mfa")["TimeToLiveDescription"]["AttributeName"]
    deployed = built.template()["Resources"]["MfaTable"]["Properties"]

    def indexes(table: dict) -> dict:
        return {i["IndexName"]: i["KeySchema"] for i in table.get("GlobalSecondaryIndexes", [])}

    assert sorted(map(str, local["AttributeDefinitions"])) == sorted(map(str, deployed["AttributeDefinitions"]))
    assert local["KeySchema"] == deployed["KeySchema"]
    assert indexes(local) == indexes(deployed)
    assert ttl == deployed["TimeToLiveSpecification"]["AttributeName"]


def test_function_reads_its_resources_from_the_stack_and_its_key_from_secrets_manager(built):
    env = built.template()["Resources"]["VerifyFunction"]["Properties"]["Environment"]["Variables"]
    assert env == {
        "MFA_CORS_ORIGINS": "https://mail.acme.example",
        "MFA_JWT_SECRET_ARN": {"Ref": "MfaJwtSecret"},
        "MFA_KMS_KEY_ID": {"Ref": "MfaKey"},
        "MFA_SIGNING_KEY_ARN": {"Ref": "MfaSigningKey"},
        "MFA_TABLE": {"Ref": "MfaTable"},
        "MFA_TENANT": "acme",
        "MFA_TOPIC_ARN": {"Ref": "MfaTopic"},
    }
    for name in ("MfaJwtSecret", "MfaSigningKey"):
        secret = built.template()["Resources"][name]
        assert secret["Type"] == "AWS::SecretsManager::Secret"
        assert secret["Properties"]["GenerateSecretString"]["PasswordLength"] >= 32
        assert "SecretString" not in secret["Properties"]


def test_no_secret_or_local_setting_in_the_template_or_the_stage(built):
    for text in ((built.acme / "sam.yaml").read_text(),):
        for leak in ("MFA_JWT_SECRET\"", "MFA_JWT_SECRET:", "MFA_JWT_SIGNING_KEY", "MFA_DEV_MODE", DEV_SECRET,
                     "PRIVATE KEY", str(ROOT), "123456789012", "us-east-1"):
            assert leak not in text, leak
        assert not re.search(r"\bSecretString\b", text)  # GenerateSecretString only
    paths = built.template()["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["paths"]
    assert not [p for p in paths if p.startswith("/v1/dev/")]


def test_api_is_throttled_and_gateway_answers_in_the_contract_shape(built):
    api = built.template()["Resources"]["RestAPI"]["Properties"]
    assert api["MethodSettings"] == [
        {
            "ResourcePath": "/*",
            "HttpMethod": "*",
            "ThrottlingRateLimit": {"Ref": "ThrottlingRateLimit"},
            "ThrottlingBurstLimit": {"Ref": "ThrottlingBurstLimit"},
        }
    ]
    responses = api["GatewayResponses"]
    expected = {
        "THROTTLED": ("429", "rate_limited"),
        "QUOTA_EXCEEDED": ("429", "rate_limited"),
        "MISSING_AUTHENTICATION_TOKEN": ("404", "not_found"),  # an unknown route
        "RESOURCE_NOT_FOUND": ("404", "not_found"),
        "ACCESS_DENIED": ("403", "forbidden"),
        "DEFAULT_5XX": ("503", "unavailable"),
    }
    for kind, (status, error) in expected.items():
        body = json.loads(responses[kind]["ResponseTemplates"]["application/json"])
        assert (responses[kind]["StatusCode"], body["error"]) == (status, error), kind
        assert isinstance(body["message"], str) and body["message"]
        headers = responses[kind]["ResponseParameters"]["Headers"]
        assert headers["Cache-Control"] == "'no-store'"
        if status in ("429", "503"):
            assert headers["Retry-After"] == f"'{body['retry_after']}'"
    for kind, response in responses.items():
        assert set(json.loads(response["ResponseTemplates"]["application/json"])) >= {"error", "message"}, kind


def test_every_route_sends_other_methods_to_the_function_for_a_405(built):
    paths = built.template()["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["paths"]
    for path, methods in paths.items():
        assert "x-amazon-apigateway-any-method" in methods, path
        integration = methods["x-amazon-apigateway-any-method"]["x-amazon-apigateway-integration"]
        assert integration["type"] == "aws_proxy"
        assert "Function.Arn}" in integration["uri"]["Fn::Sub"]


def test_second_tenant_is_an_independent_stack(built):
    acme, globex = built.template("acme"), built.template("globex")
    assert set(acme["Resources"]) == set(globex["Resources"])
    env = globex["Resources"]["VerifyFunction"]["Properties"]["Environment"]["Variables"]
    assert env["MFA_TENANT"] == "globex"
    assert "MFA_CORS_ORIGINS" not in env
    assert "acme" not in (built.globex / "sam.yaml").read_text()
    # No physical name is fixed: each stack's table, key, topic, secret and log group are its own.
    for name in ("MfaTable", "MfaTopic", "MfaJwtSecret", "MfaSigningKey"):
        assert not {"TableName", "TopicName", "Name"} & set(globex["Resources"][name]["Properties"]), name
    assert globex["Resources"]["MfaKeyAlias"]["Properties"]["AliasName"] == {"Fn::Sub": "alias/${AWS::StackName}"}

