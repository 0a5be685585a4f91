"""The IAM policy (infra/iam-policy.json) against the AWS calls the code makes over the whole test session."""

from __future__ import annotations

import json
import os
import sys
import warnings

import boto3
import botocore.handlers
import pytest

from infra.resources import create_signing_key
from mfa_core import runtime
from tests.conftest import attach, code_for
from tests.helpers_deploy import _policy, _secret_in_moto

# --- the AWS calls the code makes -------------------------------------------------------------------------

# A botocore hook, installed when this module is collected (before any test runs), records every call made
# from app.py, functions/ or mfa_core during the whole session, so a test of any module that makes a new
# call (a new DynamoDB operation, an SNS publish) shows up here. Extend infra/iam-policy.json, the one file
# that grants; a new kind of resource also needs a line in POLICY_RESOURCES below.

APP_PACKAGES = {"app", "functions", "mfa_core"}  # what the Lambda runs; tests and infra/ are not the app
ITEM_ACTIONS = {  # transactions are authorised item by item, with the single-item actions
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
    "Get": "dynamodb:GetItem",
}
SERVICE_RESOURCES = {"kms": "key"}
AWS_CALLS: set[tuple[str, str]] = set()  # (IAM action, the kind of resource it acts on)


def iam_needs(service: str, operation: str, params: dict) -> set[tuple[str, str]]:
    """The (IAM action, resource kind) pairs one API call needs."""
    if service == "dynamodb":
        if operation in ("TransactWriteItems", "TransactGetItems"):
            return {(ITEM_ACTIONS[kind], _table(item[kind])) for item in params["TransactItems"] for kind in item}
        if operation in ("BatchWriteItem", "BatchGetItem"):
            return {(f"dynamodb:{operation}", _table({"TableName": name})) for name in params["RequestItems"]}
        return {(f"dynamodb:{operation}", _table(params))}
    if service == "sns" and operation == "Publish":
        target = "topic" if "TopicArn" in params else "endpoint" if "TargetArn" in params else "phone number"
        return {("sns:Publish", target)}
    if service == "secretsmanager":
        signing = params.get("SecretId") == os.environ.get("MFA_SIGNING_KEY_ARN")
        return {(f"{service}:{operation}", "signing-key secret" if signing else "token secret")}
    return {(f"{service}:{operation}", SERVICE_RESOURCES.get(service, f"a {service} resource"))}


def _table(params: dict) -> str:
    kind = "table" if params.get("TableName") == os.environ.get("MFA_TABLE") else f"table {params.get('TableName')}"
    return f"{kind} index" if params.get("IndexName") else kind


def _made_by_the_app() -> bool:
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_globals.get("__name__", "").split(".")[0] in APP_PACKAGES:
            return True
        frame = frame.f_back
    return False


def _record_call(params, model, **_) -> None:
    if _made_by_the_app():
        AWS_CALLS.update(iam_needs(model.service_model.signing_name, model.name, params))


# Every botocore session made from now on (boto3's default one included) records its calls.
botocore.handlers.BUILTIN_HANDLERS.append(("before-parameter-build", _record_call))
if boto3.DEFAULT_SESSION is not None:
    boto3.DEFAULT_SESSION.events.register("before-parameter-build", _record_call, unique_id="test_deploy")


# --- what the policy grants -------------------------------------------------------------------------------

POLICY_RESOURCES = {  # the policy's resources as the kinds calls are recorded with
    json.dumps({"Fn::GetAtt": ["MfaTable", "Arn"]}): "table",
    json.dumps({"Fn::Sub": "${MfaTable.Arn}/index/*"}): "table index",
    json.dumps({"Fn::GetAtt": ["MfaKey", "Arn"]}): "key",
    json.dumps({"Ref": "MfaJwtSecret"}): "token secret",
    json.dumps({"Ref": "MfaSigningKey"}): "signing-key secret",
    json.dumps({"Ref": "MfaTopic"}): "topic",
    json.dumps({"Fn::GetAtt": ["ApiHandlerLogGroup", "Arn"]}): "log group",
}
POLICY_NOT_RESOURCES = {  # SMS: no ARN to name, so "anything but an SNS topic"
    json.dumps({"Fn::Sub": "arn:${AWS::Partition}:sns:*:*:*"}): "phone number",
}
LAMBDA_LOGS = {("logs:CreateLogStream", "log group"), ("logs:PutLogEvents", "log group")}


def _listed(value) -> list:
    return value if isinstance(value, list) else [value]


def policy_grants(policy: dict) -> set[tuple[str, str]]:
    grants = set()
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow" and "Condition" not in statement, statement
        actions = _listed(statement["Action"])
        assert all("*" not in action for action in actions), statement
        if "NotResource" in statement:
            kinds = [POLICY_NOT_RESOURCES.get(json.dumps(r), f"not {r}") for r in _listed(statement["NotResource"])]
            assert actions == ["sns:Publish"], "only SMS may be granted on NotResource"
        else:
            kinds = [POLICY_RESOURCES.get(json.dumps(r), f"unmapped {r}") for r in _listed(statement["Resource"])]
        grants |= {(action, kind) for action in actions for kind in kinds}
    return grants


def _missing_from_policy() -> set[tuple[str, str]]:
    return AWS_CALLS - policy_grants(_policy())


@pytest.fixture(scope="session")
def aws_calls():
    """The calls recorded over the session; at its end, the calls of tests that ran after this module's
    are checked against the policy too (a failure shows as an error at the last test's teardown)."""
    yield AWS_CALLS
    missing = _missing_from_policy()
    if missing:
        pytest.fail(f"infra/iam-policy.json does not allow calls the code made: {sorted(missing)}", pytrace=False)


# --- the IAM policy against the calls ---------------------------------------------------------------------


def representative_flow(api) -> None:
    """The calls on a logon's path: admin policy, attach, logon with a wrong and a right code, a recovery
    code, factors, then delete in a new container. With the token and signing keys read from Secrets Manager."""
    admin = {"user": "admin@example.com", "scope": "mfa:admin"}
    r = api.as_user("PUT", "/v1/policy", {"two_factor": "on"}, **admin)
    assert r.status_code == 200, r.json
    attached = attach(api)
    logon = {"scope": "mfa:logon"}
    assert api.as_user("POST", "/v1/logon", {}, **logon).status_code == 200
    assert api.as_user("POST", "/v1/logon/verify", {"code": "000000"}, **logon).status_code in (200, 400)
    api.clock.advance(30)
    code = code_for(attached["uri"], api.clock.now)
    assert api.as_user("POST", "/v1/logon/verify", {"code": code}, **logon).status_code == 200
    recovery = {"method": "recovery_code", "code": attached["recovery_codes"][0]}
    assert api.as_user("POST", "/v1/logon/verify", recovery, **logon).status_code == 200
    assert api.as_user("GET", "/v1/factors").status_code == 200
    runtime.reset()  # a second container: it reads the token key and decrypts the tenant's data key
    runtime.current().clock = api.clock
    api.clock.advance(30)
    r = api.as_user("DELETE", "/v1/authenticator", {"code": code_for(attached["uri"], api.clock.now)})
    assert r.status_code == 200, r.json


def test_iam_policy_allows_exactly_the_aws_calls_the_code_makes(request, api, monkeypatch, aws_calls):
    monkeypatch.setenv("MFA_JWT_SECRET_ARN", _secret_in_moto())
    monkeypatch.setenv("MFA_SIGNING_KEY_ARN", create_signing_key(boto3.client("secretsmanager")))
    runtime.reset()
    runtime.current().clock = api.clock
    representative_flow(api)

    grants = policy_grants(_policy())
    assert {g for g in grants if g[0].startswith("logs:")} == LAMBDA_LOGS  # the Lambda runtime's, not boto3's
    missing = aws_calls - grants
    assert not missing, f"add to infra/iam-policy.json: {sorted(missing)}"
    # Unused grants can be told only when the suites that make every call ran before this test.
    position = request.session.items.index(request.node)
    earlier = {item.path.name for item in request.session.items[:position]}
    if not any(name.startswith("test_api_") for name in earlier):
        warnings.warn("run the whole suite to check the IAM policy grants nothing unused", stacklevel=1)
        return
    unused = grants - LAMBDA_LOGS - aws_calls
    assert not unused, f"infra/iam-policy.json grants what no test saw the code call: {sorted(unused)}"
