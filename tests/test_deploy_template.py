"""The packaged stacks' templates: resources, environment, no secret, roles, throttling, the gateway's answers and
their CORS, logs, tracing, alarms and what they count, a second tenant."""

from __future__ import annotations

import json
import re

import boto3
import pytest

from functions.http import EXPOSED_HEADERS
from infra import package as pkg
from mfa_core import events
from mfa_core.config import DEV_SECRET
from mfa_core.notify import SMS_SENT, log_event
from tests.conftest import ROOT, attach, code_for
from tests.helpers_logon import attach_phone, policy, verify

pytest_plugins = ["tests.helpers_deploy"]  # the `built` stacks


def functions(template: dict) -> dict[str, dict]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == "AWS::Serverless::Function"}


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
    statements = {s["Sid"]: s for s in key["KeyPolicy"]["Statement"]}
    assert set(statements) == {
        "AccountAdministersThroughIam",
        "TableEncryptionThroughDynamoDB",
        "StackLogGroupsThroughCloudWatchLogs",
    }
    # CloudWatch Logs may use the key for this stack's log groups only.
    logs_only = statements["StackLogGroupsThroughCloudWatchLogs"]["Condition"]["ArnLike"]
    stack_groups = logs_only["kms:EncryptionContext:aws:logs:arn"]["Fn::Sub"]
    assert stack_groups.endswith(":log-group:/mfa/${AWS::StackName}/*")
    assert resources["MfaTopic"]["Type"] == "AWS::SNS::Topic"
    assert resources["MfaTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "MfaKey"}

    layer = resources["MfaCoreLayer"]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    # Named by the stack: by its logical id alone, every tenant's stack in a region would publish into one layer.
    assert layer["Properties"]["LayerName"] == {"Fn::Sub": "${AWS::StackName}-mfa-core"}
    assert len(functions(built.template())) == 6
    for name, function in functions(built.template()).items():
        props = function["Properties"]
        assert props["Layers"] == [{"Ref": "MfaCoreLayer"}], name
        assert props["Architectures"] == ["x86_64"], name
        assert layer["Properties"]["CompatibleRuntimes"] == [props["Runtime"]] == [pkg.RUNTIME], name
        assert props["LoggingConfig"] == {"LogGroup": {"Ref": "ApiHandlerLogGroup"}, "LogFormat": "Text"}, name
        assert props["Tracing"] == "Active", name
    assert built.template()["Resources"]["RestAPI"]["Properties"]["TracingEnabled"] is True


def test_every_log_group_keeps_its_lines_for_the_retention_parameter_encrypted_and_outlives_the_stack(built):
    template = built.template()
    groups = {k: r for k, r in template["Resources"].items() if r["Type"] == "AWS::Logs::LogGroup"}
    assert set(groups) == {"ApiHandlerLogGroup", "ApiAccessLogGroup"}
    assert template["Parameters"]["LogRetentionDays"]["Default"] == 90
    for name, group in groups.items():
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name
        assert group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": ["MfaKey", "Arn"]}, name
        assert group["Properties"]["LogGroupName"]["Fn::Sub"].startswith("/mfa/${AWS::StackName}/"), name
        assert group["DeletionPolicy"] == group["UpdateReplacePolicy"] == "Retain", name


def test_access_log_is_one_json_line_a_request_without_header_body_or_concrete_path(built):
    setting = built.template()["Resources"]["RestAPI"]["Properties"]["AccessLogSetting"]
    assert setting["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    variables = re.findall(r"\$[\w.]+", setting["Format"])
    # $context.path is the concrete path (a mailbox address); headers, bodies and tokens stay out.
    assert set(variables) <= {
        "$context.requestId", "$context.identity.sourceIp", "$context.requestTimeEpoch", "$context.httpMethod",
        "$context.resourcePath", "$context.status", "$context.responseLatency", "$context.integrationLatency",
        "$context.error.responseType",
    }, variables
    line = json.loads(re.sub(r"\$[\w.]+", "x", setting["Format"]))
    assert {"requestId", "ip", "method", "resourcePath", "status", "latency"} <= set(line)


def test_functions_read_their_resources_from_the_stack_and_their_key_from_secrets_manager(built):
    for name, function in functions(built.template()).items():
        assert function["Properties"]["Environment"]["Variables"] == {
            "MFA_CORS_ORIGINS": "https://mail.acme.example",
            "MFA_JWT_SECRET_ARN": {"Ref": "MfaJwtSecret"},
            "MFA_KMS_KEY_ID": {"Ref": "MfaKey"},
            "MFA_SIGNING_KEY_ARN": {"Ref": "MfaSigningKey"},
            "MFA_TABLE": {"Ref": "MfaTable"},
            "MFA_TENANT": "acme",
            "MFA_TOPIC_ARN": {"Ref": "MfaTopic"},
        }, name
    for name in ("MfaJwtSecret", "MfaSigningKey"):
        secret = built.template()["Resources"][name]
        assert secret["Type"] == "AWS::SecretsManager::Secret"
        assert secret["Properties"]["GenerateSecretString"]["PasswordLength"] >= 32
        assert "SecretString" not in secret["Properties"]


def test_no_secret_or_local_setting_in_the_template(built):
    text = (built.acme / "sam.yaml").read_text()
    for leak in ("MFA_JWT_SECRET\"", "MFA_JWT_SECRET:", "MFA_JWT_SIGNING_KEY", "MFA_DEV_MODE", DEV_SECRET,
                 "PRIVATE KEY", str(ROOT), "123456789012", "us-east-1"):
        assert leak not in text, leak
    assert not re.search(r"\bSecretString\b", text)  # GenerateSecretString only
    paths = built.template()["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["paths"]
    assert not [p for p in paths if p.startswith("/v1/dev/")]


def test_each_function_has_its_own_role_with_exactly_its_hand_written_grants(built):
    resources = built.template()["Resources"]
    roles = set()
    for name, function in functions(built.template()).items():
        role = function["Properties"]["Role"]["Fn::GetAtt"][0]
        group = function["Properties"]["Handler"].split(".")[2]  # functions.entry.<group>.app
        assert [p["PolicyDocument"] for p in resources[role]["Properties"]["Policies"]] == [pkg.role_policy(group)]
        assert "ManagedPolicyArns" not in resources[role]["Properties"], name
        roles.add(role)
    assert roles == {k for k, r in resources.items() if r["Type"] == "AWS::IAM::Role"} and len(roles) == 6


def conditions_hold(template: dict, parameters: dict[str, str]) -> dict[str, bool]:
    """The template's Conditions for these parameter values, with the functions CloudFormation gives them."""

    def value(node):
        if isinstance(node, dict):
            (function, argument), = node.items()
            if function == "Ref":
                return parameters.get(argument, template["Parameters"][argument].get("Default"))
            args = [value(a) for a in argument] if isinstance(argument, list) else value(argument)
            return {
                "Fn::Equals": lambda: args[0] == args[1],
                "Fn::Not": lambda: not args[0],
                "Fn::Select": lambda: args[1][int(args[0])],
                "Fn::Split": lambda: args[1].split(args[0]),
            }[function]()
        return node

    return {name: value(condition) for name, condition in template["Conditions"].items()}


def allowed_origin(template: dict, header, parameters: dict[str, str]):
    """A gateway response header's value for these parameters (None: the header is left out)."""
    holds = conditions_hold(template, parameters)
    while isinstance(header, dict) and "Fn::If" in header:
        condition, then, otherwise = header["Fn::If"]
        header = then if holds[condition] else otherwise
    if header == {"Ref": "AWS::NoValue"}:
        return None
    named = isinstance(header, dict)  # one origin, as a Sub of the parameter
    return header["Fn::Sub"].replace("${CorsOrigins}", parameters["CorsOrigins"]) if named else header


def test_api_is_throttled_and_gateway_answers_in_the_contract_shape_with_the_functions_headers(built):
    template = built.template()
    api = template["Resources"]["RestAPI"]["Properties"]
    throttles = {name: {"Ref": name} for name in ("ThrottlingRateLimit", "ThrottlingBurstLimit")}
    assert api["MethodSettings"] == [{"ResourcePath": "/*", "HttpMethod": "*", **throttles}]
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
        if status in ("429", "503"):
            assert responses[kind]["ResponseParameters"]["Headers"]["Retry-After"] == f"'{body['retry_after']}'"
    one, several = "https://mail.acme.example", "https://mail.acme.example,https://webmail.acme.example"
    for kind, response in responses.items():
        assert set(json.loads(response["ResponseTemplates"]["application/json"])) >= {"error", "message"}, kind
        headers = response["ResponseParameters"]["Headers"]
        assert headers["Cache-Control"] == "'no-store'" and headers["Vary"] == "'Origin'", kind
        assert headers["Access-Control-Expose-Headers"] == f"'{EXPOSED_HEADERS}'", kind  # as functions/http.py
        origin = headers["Access-Control-Allow-Origin"]
        assert allowed_origin(template, origin, {"CorsOrigins": ""}) is None, kind
        assert allowed_origin(template, origin, {"CorsOrigins": one}) == f"'{one}'", kind
        # API Gateway cannot test the request's Origin against a list: with several, it is echoed.
        assert allowed_origin(template, origin, {"CorsOrigins": several}) == "method.request.header.Origin", kind


ORIGINS = ["https://mail.acme.example", "https://a.example,https://b.example:8443", "http://localhost:8000", "",
           "https://a.example/", "https://a.example, https://b.example", "*", "http://a.example", "https://A.example"]


@pytest.mark.parametrize("origins", ORIGINS)
def test_the_stack_takes_the_origins_packaging_takes(built, origins):
    pattern = built.template()["Parameters"]["CorsOrigins"]["AllowedPattern"]
    try:
        packaged = pkg.tenant_stage("acme", cors_origins=origins)["environment_variables"].get("MFA_CORS_ORIGINS", "")
    except pkg.PackageError:
        packaged = None
    assert bool(re.fullmatch(pattern, origins)) == (packaged == origins)


def test_every_route_sends_other_methods_to_its_function_for_a_405(built):
    template = built.template()
    paths = template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["paths"]
    names = set(functions(template))
    for path, methods in paths.items():
        assert "x-amazon-apigateway-any-method" in methods, path
        integration = methods["x-amazon-apigateway-any-method"]["x-amazon-apigateway-integration"]
        assert integration["type"] == "aws_proxy"
        assert re.search(r"\$\{(\w+)\.Arn\}", integration["uri"]["Fn::Sub"])[1] in names, path


# --- alarms, and what they count ----------------------------------------------------------------------------

# CloudWatch's regular expressions take letters, digits, these symbols and these operators, nothing else.
CLOUDWATCH_REGEX = re.compile(r"[A-Za-z0-9:_#=@/;,\-^$?\[\]{}|\\*+.]+")


def cloudwatch_matches(pattern: str, line: str) -> bool:
    """The two kinds of filter pattern the stack uses, as CloudWatch Logs reads them: %regex% found anywhere in
    the line, and { $.field = "value" } on a line that is JSON."""
    if pattern.startswith("%") and pattern.endswith("%"):
        assert CLOUDWATCH_REGEX.fullmatch(pattern[1:-1]), pattern
        return re.search(pattern[1:-1], line) is not None
    selector = re.fullmatch(r'\{ \$\.(\w+) = "([^"]*)" \}', pattern)
    assert selector, pattern
    try:
        return json.loads(line).get(selector[1]) == selector[2]
    except ValueError:
        return False


def metric_filters(template: dict, group: str) -> dict[str, str]:
    found = {}
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Logs::MetricFilter" and resource["Properties"]["LogGroupName"] == {"Ref": group}:
            (metric,) = resource["Properties"]["MetricTransformations"]
            found[metric["MetricName"]] = resource["Properties"]["FilterPattern"]
    return found


def as_lambda_writes_it(message: str) -> str:
    """A log record's line in the function's group: the Python runtime's Text format prefixes level, time and id."""
    return f"[INFO]\t2027-01-15T08:00:00.000Z\t6f1c2d3e-0000-4000-8000-000000000000\t{message}"


def test_the_event_filters_count_exactly_the_lines_the_app_writes_for_locks_and_sms(built, api, all_logs):
    filters = metric_filters(built.template(), "ApiHandlerLogGroup")
    assert set(filters) == {"Locks", "SmsSent"}
    policy(api, lockout={"max_failures": 3, "lock_seconds": 100})
    attach_phone(api)  # one SMS: the new phone's code (before the lock, which refuses it too)
    uri = attach(api)["uri"]
    good = {code_for(uri, api.clock.now, offset_steps=k) for k in (-1, 0, 1)}
    wrong = next(c for c in ("000000", "111111", "222222", "333333") if c not in good)
    answers = [verify(api, wrong).status_code for _ in range(4)]
    assert answers == [400, 400, 400, 429]  # the third failure locks; the fourth try is refused (a 429 line)
    lines = [as_lambda_writes_it(r.getMessage()) for r in all_logs.records]
    counted = {metric: sum(cloudwatch_matches(p, line) for line in lines) for metric, p in filters.items()}
    assert counted == {"Locks": 1, "SmsSent": 1}, [line for line in lines if "locked" in line or "sms" in line]
    # Every audit event's line, each name once: only its own filter counts it.
    all_logs.clear()
    names = [v for k, v in vars(events).items() if k.isupper() and isinstance(v, str)] + [SMS_SENT]
    for name in names:
        log_event(name, "acme")
    for metric, pattern in filters.items():
        hits = [json.loads(r.getMessage())["event"] for r in all_logs.records
                if cloudwatch_matches(pattern, as_lambda_writes_it(r.getMessage()))]
        assert hits == [{"Locks": events.LOCKED, "SmsSent": SMS_SENT}[metric]], (metric, hits)


def test_the_throttle_filter_counts_api_gateways_429s_not_the_functions(built):
    template = built.template()
    (pattern,) = metric_filters(template, "ApiAccessLogGroup").values()
    fmt = template["Resources"]["RestAPI"]["Properties"]["AccessLogSetting"]["Format"]

    def access_line(status: str, response_type: str) -> str:
        values = {"$context.status": status, "$context.error.responseType": response_type}
        return re.sub(r"\$[\w.]+", lambda m: values.get(m[0], "x"), fmt)

    assert cloudwatch_matches(pattern, access_line("429", "THROTTLED"))
    assert not cloudwatch_matches(pattern, access_line("429", ""))  # the function's 429 (a lock, an SMS limit)
    assert not cloudwatch_matches(pattern, access_line("404", "MISSING_AUTHENTICATION_TOKEN"))


def test_alarms_go_to_one_topic_and_lambda_throttles_cover_every_function(built):
    template = built.template()
    alarms = {k: r["Properties"] for k, r in template["Resources"].items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    assert set(alarms) == {"ApiErrorRateAlarm", "ApiThrottlesAlarm", "LocksAlarm", "SmsSentAlarm",
                           "LambdaThrottlesAlarm"}
    topic = [{"Fn::If": ["OwnAlarmTopic", {"Ref": "AlarmTopic"}, {"Ref": "AlarmTopicArn"}]}]
    assert all(alarm["AlarmActions"] == topic for alarm in alarms.values())
    assert template["Resources"]["AlarmTopic"]["Condition"] == "OwnAlarmTopic"
    # Each metric a filter makes has its alarm.
    counted = {alarms[a]["MetricName"] for a in ("ApiThrottlesAlarm", "LocksAlarm", "SmsSentAlarm")}
    made = {**metric_filters(template, "ApiHandlerLogGroup"), **metric_filters(template, "ApiAccessLogGroup")}
    assert counted == set(made)
    errors = alarms["ApiErrorRateAlarm"]
    assert (errors["Namespace"], errors["MetricName"], errors["Statistic"]) == ("AWS/ApiGateway", "5XXError", "Average")
    # The API's name is its metrics' ApiName: the stack's, not Chalice's "mfa" shared by every tenant.
    assert template["Resources"]["RestAPI"]["Properties"]["Name"] == {"Ref": "AWS::StackName"}
    assert {"Name": "ApiName", "Value": {"Ref": "AWS::StackName"}} in errors["Dimensions"]
    throttled = [m["MetricStat"]["Metric"] for m in alarms["LambdaThrottlesAlarm"]["Metrics"] if "MetricStat" in m]
    assert {m["MetricName"] for m in throttled} == {"Throttles"}
    assert [d["Value"] for m in throttled for d in m["Dimensions"]] == [{"Ref": f} for f in functions(template)]


def test_second_tenant_is_an_independent_stack(built):
    acme, globex = built.template("acme"), built.template("globex")
    assert set(acme["Resources"]) == set(globex["Resources"])
    for function in functions(globex).values():
        env = function["Properties"]["Environment"]["Variables"]
        assert env["MFA_TENANT"] == "globex" and "MFA_CORS_ORIGINS" not in env
    assert "acme" not in (built.globex / "sam.yaml").read_text()
    # No physical name is fixed: each stack's table, key, topic, secret and log group are its own.
    for name in ("MfaTable", "MfaTopic", "MfaJwtSecret", "MfaSigningKey"):
        assert not {"TableName", "TopicName", "Name"} & set(globex["Resources"][name]["Properties"]), name
    assert globex["Resources"]["MfaKeyAlias"]["Properties"]["AliasName"] == {"Fn::Sub": "alias/${AWS::StackName}"}


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
