"""Each function's IAM role (infra/iam-policy.json) against the AWS calls its routes make over the whole test
session: every call allowed, nothing granted that no test saw its own function call."""

from __future__ import annotations

import json
import os
import sys
import warnings
from pathlib import Path

import boto3
import botocore.handlers
import pytest

from infra import package as pkg
from infra.resources import create_signing_key
from mfa_core import runtime
from tests.conftest import code_for
from tests.helpers_deploy import _secret_in_moto

# --- the AWS calls the code makes -------------------------------------------------------------------------

# A botocore hook, installed when this module is collected (before any test runs), records every call made
# while a route runs (a functions/ frame on the stack) during the whole session, under the handler group
# that serves the route, so a test of any route that makes a new call (a new DynamoDB operation, an SNS
# publish) shows up here. Extend infra/iam-policy.json, the one file that grants; a new kind of resource
# also needs a line in POLICY_RESOURCES below.

ROUTES = pkg.routes_by_group()  # (path, method) -> group, as the deployed API sends them
GROUPS = sorted(set(ROUTES.values()))
WHOLE_SUITE = False  # set by the test below when the session runs the API suites too
ITEM_ACTIONS = {  # transactions are authorised item by item, with the single-item actions
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
    "Get": "dynamodb:GetItem",
}
SERVICE_RESOURCES = {"kms": "key"}
TENANT_DATA_KEY = {"Decrypt": "kms:Decrypt", "GenerateDataKey": "kms:GenerateDataKey"}
AWS_CALLS: dict[str, set[tuple[str, str]]] = {group: set() for group in GROUPS}  # group -> (action, resource kind)


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
    if service == "kms" and operation in TENANT_DATA_KEY:
        # crypto.Vault loads the tenant's data key or, when the table has none yet, makes it: which of the two
        # a container calls depends on what another function did first, so a function that needs one needs both.
        return {(action, "key") for action in TENANT_DATA_KEY.values()}
    return {(f"{service}:{operation}", SERVICE_RESOURCES.get(service, f"a {service} resource"))}


def _table(params: dict) -> str:
    kind = "table" if params.get("TableName") == os.environ.get("MFA_TABLE") else f"table {params.get('TableName')}"
    return f"{kind} index" if params.get("IndexName") else kind


def _serving_group() -> str | None:
    """The group whose route is running, or None outside a route (a test calling mfa_core itself)."""
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_globals.get("__name__", "").startswith("functions."):
            break
        frame = frame.f_back
    if frame is None:
        return None
    from app import app

    request = app.current_request
    # None for the local run's dev routes: never deployed, so no function's role.
    return ROUTES.get((request.context["resourcePath"], request.method.lower()))


def _record_call(params, model, **_) -> None:
    group = _serving_group()
    if group is not None:
        AWS_CALLS[group].update(iam_needs(model.service_model.signing_name, model.name, params))


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
    json.dumps("*"): "any",  # X-Ray only (LAMBDA_TRACES)
}
POLICY_NOT_RESOURCES = {  # SMS: no ARN to name, so "anything but an SNS topic"
    json.dumps({"Fn::Sub": "arn:${AWS::Partition}:sns:*:*:*"}): "phone number",
}
# What the Lambda runtime itself does with the role, not boto3: its log lines, and X-Ray's segments (active
# tracing), which take no resource narrower than "*".
LAMBDA_LOGS = {("logs:CreateLogStream", "log group"), ("logs:PutLogEvents", "log group")}
LAMBDA_TRACES = {("xray:PutTelemetryRecords", "any"), ("xray:PutTraceSegments", "any")}


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


def _grants() -> dict[str, set[tuple[str, str]]]:
    return {group: policy_grants(pkg.role_policy(group)) for group in GROUPS}


def _missing_from_policy() -> dict[str, set[tuple[str, str]]]:
    grants = _grants()
    return {group: sorted(calls - grants[group]) for group, calls in AWS_CALLS.items() if calls - grants[group]}


@pytest.fixture(scope="session")
def aws_calls():
    """The calls recorded over the session; at its end, the calls of tests that ran after this module's
    are checked against the roles too (a failure shows as an error at the last test's teardown)."""
    yield AWS_CALLS
    missing = _missing_from_policy()
    if missing:
        pytest.fail(f"infra/iam-policy.json does not allow calls the code made: {missing}", pytrace=False)
    if WHOLE_SUITE:  # a grant is unused only if no test of the session, before or after this one, saw it
        grants = _grants()
        unused = {g: sorted(grants[g] - LAMBDA_LOGS - LAMBDA_TRACES - AWS_CALLS[g]) for g in GROUPS}
        if any(unused.values()):
            pytest.fail(f"infra/iam-policy.json grants what no test saw the function call: {unused}", pytrace=False)


# --- the IAM policy against the calls ---------------------------------------------------------------------


def representative_flow(api) -> None:
    """The calls on a logon's path, each request in a new container as each function has its own (so each
    reads the token key, and loads the tenant's data key if it needs it): admin policy, attach, logon with a
    wrong and a right code, a recovery code, factors, the JWKS, delete, and an attach during a logon. With
    the token and signing keys read from Secrets Manager."""

    def call(*args, **kwargs):
        runtime.reset()
        runtime.current().clock = api.clock
        return api.as_user(*args, **kwargs)

    admin = {"user": "admin@example.com", "scope": "mfa:admin"}
    r = call("PUT", "/v1/policy", {"two_factor": "on"}, **admin)
    assert r.status_code == 200, r.json
    enrolled = call("POST", "/v1/authenticator/enroll", {})
    assert enrolled.status_code == 200, enrolled.json
    uri = enrolled.json["otpauth_uri"]
    confirm = {"enrollment_id": enrolled.json["enrollment_id"], "code": code_for(uri, api.clock.now)}
    confirmed = call("POST", "/v1/authenticator/confirm", confirm)
    assert confirmed.status_code == 200, confirmed.json
    logon = {"scope": "mfa:logon"}
    assert call("POST", "/v1/logon", {}, **logon).status_code == 200
    assert call("POST", "/v1/logon/verify", {"code": "000000"}, **logon).status_code in (200, 400)
    api.clock.advance(30)
    code = code_for(uri, api.clock.now)
    assert call("POST", "/v1/logon/verify", {"code": code}, **logon).status_code == 200
    recovery = {"method": "recovery_code", "code": confirmed.json["recovery_codes"][0]}
    assert call("POST", "/v1/logon/verify", recovery, **logon).status_code == 200
    assert call("GET", "/v1/factors").status_code == 200
    assert call("GET", "/v1/jwks.json").status_code == 200
    api.clock.advance(30)
    r = call("DELETE", "/v1/authenticator", {"code": code_for(uri, api.clock.now)})
    assert r.status_code == 200, r.json
    # A user with no factor attaches one during the logon (Method 1): the confirm signs the mfa_token.
    bob = {"user": "bob@example.com", "scope": "mfa:logon"}
    assert call("POST", "/v1/logon", {}, **bob).json["next"] == "enroll"
    enrolled = call("POST", "/v1/authenticator/enroll", {}, **bob)
    code = code_for(enrolled.json["otpauth_uri"], api.clock.now)
    confirm = {"enrollment_id": enrolled.json["enrollment_id"], "code": code}
    assert "mfa_token" in call("POST", "/v1/authenticator/confirm", confirm, **bob).json


def test_each_role_allows_exactly_the_aws_calls_its_function_makes(request, api, monkeypatch, aws_calls):
    monkeypatch.setenv("MFA_JWT_SECRET_ARN", _secret_in_moto())
    monkeypatch.setenv("MFA_SIGNING_KEY_ARN", create_signing_key(boto3.client("secretsmanager")))
    representative_flow(api)

    grants = _grants()
    for group in GROUPS:
        assert {g for g in grants[group] if g[0].startswith("logs:")} == LAMBDA_LOGS, group  # the runtime's
        assert {g for g in grants[group] if g[1] == "any"} == LAMBDA_TRACES, group
    missing = _missing_from_policy()
    assert not missing, f"add to infra/iam-policy.json: {missing}"
    # Unused grants can be told only when the suites that make every call run in this session: checked at its
    # end (aws_calls), so the calls of tests after this one count too.
    global WHOLE_SUITE
    collected = {item.path.name for item in request.session.items}
    WHOLE_SUITE = {p.name for p in Path(__file__).parent.glob("test_*.py")} <= collected
    if not WHOLE_SUITE:
        warnings.warn("run the whole suite to check the IAM roles grant nothing unused", stacklevel=1)



def test_the_roles_differ_where_the_functions_do():
    """Least privilege is per function: the admin and settings functions never send an SMS, and the admin's
    function uses the tenant's KMS key only to open its data key (the temporary access pass's keyed hash)."""
    grants = _grants()
    sms = ("sns:Publish", "phone number")
    assert sms not in grants["policy"] and sms not in grants["settings"]
    assert sms in grants["verify"] and sms in grants["enroll"]
    kms = {action for action, _ in grants["policy"] if action.startswith("kms:")}
    assert kms == {"kms:Decrypt", "kms:GenerateDataKey"}
