"""Per-tenant packaging (`make package TENANT=...`, infra/package.py), verified offline.

The stacks are packaged once for this module (acme, then globex, sharing one layer build) into a temporary
folder with a copy of the Chalice config; the layer's wheels are cached under build/.

The IAM test compares infra/iam-policy.json with the AWS calls the code really makes: a botocore hook,
installed when this module is collected (before any test runs), records every call made from app.py,
functions/ or mfa_core during the whole session, so a test of any module that makes a new call (a new
DynamoDB operation, an SNS publish) shows up here. Extend infra/iam-policy.json, the one file that
grants; a new kind of resource also needs a line in POLICY_RESOURCES below.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import boto3
import botocore.handlers
import jwt
import pytest
import yaml

from infra import package as pkg
from mfa_core import runtime
from mfa_core.config import DEV_SECRET, ConfigError, Settings
from tests.conftest import ROOT, attach, code_for

# --- the AWS calls the code makes -------------------------------------------------------------------------

APP_PACKAGES = {"app", "functions", "mfa_core"}  # what the Lambda runs; tests and infra/ are not the app
ITEM_ACTIONS = {  # transactions are authorised item by item, with the single-item actions
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
    "Get": "dynamodb:GetItem",
}
SERVICE_RESOURCES = {"kms": "key", "secretsmanager": "token secret"}
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


def _policy() -> dict:
    return json.loads((ROOT / "infra" / "iam-policy.json").read_text())


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


# --- the packages -----------------------------------------------------------------------------------------


@dataclass
class Built:
    config: Path
    acme: Path
    globex: Path

    def template(self, tenant: str = "acme") -> dict:
        return yaml.safe_load((getattr(self, tenant) / pkg.TEMPLATE_NAME).read_text())


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Built:
    root = tmp_path_factory.mktemp("deploy")
    config = root / "config.json"
    shutil.copy(ROOT / ".chalice" / "config.json", config)
    work = root / "work"
    layer = pkg.build_layer(work / pkg.LAYER_ZIP, work, ROOT / "build")
    out = root / "dist"
    acme = pkg.package("acme", out, config_path=config, work=work, layer=layer, cors_origins="https://mail.acme.example")
    globex = pkg.package("globex", out, config_path=config, work=work, layer=layer)
    return Built(config, acme, globex)


def _names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as zf:
        return zf.namelist()


def test_the_tenant_dir_holds_the_template_and_both_zips(built):
    assert sorted(p.name for p in built.acme.iterdir()) == ["deployment.zip", "mfa-core-layer.zip", "sam.yaml"]
    resources = built.template()["Resources"]
    assert resources["APIHandler"]["Properties"]["CodeUri"] == "./deployment.zip"
    assert resources["MfaCoreLayer"]["Properties"]["ContentUri"] == "./mfa-core-layer.zip"


def test_cfn_lint_passes_on_both_templates(built):
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    result = subprocess.run(
        [str(cfn_lint), str(built.acme / "sam.yaml"), str(built.globex / "sam.yaml")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_function_zip_is_small_and_holds_only_the_handlers_and_chalice(built):
    path = built.acme / pkg.FUNCTION_ZIP
    assert path.stat().st_size < 1024 * 1024
    names = _names(path)
    tops = {n.split("/")[0] for n in names}
    assert tops == {"app.py", "functions", "chalice"} | (tops & {"chalicelib"}) | _vendored_tops()
    for module in ("http", "enroll", "confirm", "verify", "delete", "policy", "settings", "gateway", "health"):
        assert f"functions/{module}.py" in names
    assert "functions/dev.py" not in names  # the local run's token minting is never deployed
    assert not any(n.endswith((".dist-info/METADATA", ".so")) for n in names)  # no wheel at all
    forbidden = ("boto3", "botocore", "moto", "PIL", "tests", "mfa_core", "jwt", "cryptography", "qrcode", "infra")
    assert not tops & set(forbidden)


def _vendored_tops() -> set[str]:
    """What else vendor/ ships (the web page's files, say): everything but the layer's packages."""
    return {p.name for p in (ROOT / "vendor").iterdir()} - pkg.LAYER_PACKAGES


def test_layer_zip_holds_mfa_core_and_the_runtime_wheels_for_lambda(built):
    path = built.acme / pkg.LAYER_ZIP
    names = _names(path)
    assert all(n.startswith("python/") for n in names)
    tops = {n.split("/")[1] for n in names}
    assert {"mfa_core", "jwt", "cryptography", "pyotp", "qrcode", "png.py"} <= tops
    for module in ("totp", "crypto", "storage/store", "auth", "config", "runtime", "usecases/logon"):
        assert f"python/mfa_core/{module}.py" in names
    assert not tops & {"boto3", "botocore", "moto", "PIL", "pillow", "tests", "bin", "functions", "chalice"}
    assert not [n for n in names if "/tests/" in n and n.startswith("python/mfa_core")]
    # Binary wheels for the runtime: CPython 3.11 (or the stable ABI), glibc <= 2.26 (Amazon Linux 2), x86_64.
    with zipfile.ZipFile(path) as zf:
        wheels = {
            name: {line.split(":", 1)[1].strip() for line in zf.read(name).decode().splitlines() if line[:4] == "Tag:"}
            for name in names
            if name.endswith(".dist-info/WHEEL")
        }
    assert len(wheels) >= 5
    for name, tags in wheels.items():
        assert any(_runs_on_lambda(tag) for tag in tags), (name, tags)


def _runs_on_lambda(tag: str) -> bool:
    python, abi, platform = tag.split("-")
    if platform == "any":
        return abi == "none"
    manylinux = {"manylinux1_x86_64": 5, "manylinux2010_x86_64": 12, "manylinux2014_x86_64": 17}.get(platform)
    if platform.startswith("manylinux_2_") and platform.endswith("_x86_64"):
        manylinux = int(platform.split("_")[2])
    return (
        manylinux is not None
        and manylinux <= 26
        and (abi == "cp311" or (abi == "abi3" and python.startswith("cp3") and int(python[3:]) <= 11))
    )


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
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.11"]
    function = resources["APIHandler"]["Properties"]
    assert function["Layers"] == [{"Ref": "MfaCoreLayer"}]
    assert function["Runtime"] == "python3.11" and function["Architectures"] == ["x86_64"]

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
    env = built.template()["Resources"]["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert env == {
        "MFA_CORS_ORIGINS": "https://mail.acme.example",
        "MFA_JWT_SECRET_ARN": {"Ref": "MfaJwtSecret"},
        "MFA_KMS_KEY_ID": {"Ref": "MfaKey"},
        "MFA_TABLE": {"Ref": "MfaTable"},
        "MFA_TENANT": "acme",
        "MFA_TOPIC_ARN": {"Ref": "MfaTopic"},
    }
    secret = built.template()["Resources"]["MfaJwtSecret"]
    assert secret["Type"] == "AWS::SecretsManager::Secret"
    assert secret["Properties"]["GenerateSecretString"]["PasswordLength"] >= 32
    assert "SecretString" not in secret["Properties"]


def test_no_secret_or_local_setting_in_the_template_or_the_stage(built):
    for text in ((built.acme / "sam.yaml").read_text(), built.config.read_text()):
        for leak in ("MFA_JWT_SECRET\"", "MFA_JWT_SECRET:", "MFA_JWT_SIGNING_KEY", "MFA_DEV_MODE", DEV_SECRET,
                     "PRIVATE KEY", str(ROOT), "123456789012", "us-east-1"):
            assert leak not in text, leak
        assert not re.search(r"\bSecretString\b", text)  # GenerateSecretString only
    paths = built.template()["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["paths"]
    assert not [p for p in paths if p.startswith("/v1/dev/")]


def test_role_has_exactly_the_hand_written_policy(built):
    resources = built.template()["Resources"]
    role_name = resources["APIHandler"]["Properties"]["Role"]["Fn::GetAtt"][0]
    role = resources[role_name]["Properties"]
    assert [p["PolicyDocument"] for p in role["Policies"]] == [_policy()]
    assert "ManagedPolicyArns" not in role
    assert [r for r in resources.values() if r["Type"] == "AWS::IAM::Role"] == [resources[role_name]]
    stage = json.loads(built.config.read_text())["stages"]["acme"]
    assert stage["autogen_policy"] is False and stage["iam_policy_file"] == "../infra/iam-policy.json"


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
        assert "${APIHandler.Arn}" in integration["uri"]["Fn::Sub"]


def test_second_tenant_is_an_independent_stack(built):
    acme, globex = built.template("acme"), built.template("globex")
    assert set(acme["Resources"]) == set(globex["Resources"])
    env = globex["Resources"]["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert env["MFA_TENANT"] == "globex"
    assert "MFA_CORS_ORIGINS" not in env
    assert "acme" not in (built.globex / "sam.yaml").read_text()
    # No physical name is fixed: each stack's table, key, topic, secret and log group are its own.
    for name in ("MfaTable", "MfaTopic", "MfaJwtSecret"):
        assert not {"TableName", "TopicName", "Name"} & set(globex["Resources"][name]["Properties"]), name
    assert globex["Resources"]["MfaKeyAlias"]["Properties"]["AliasName"] == {"Fn::Sub": "alias/${AWS::StackName}"}
    stages = json.loads(built.config.read_text())["stages"]
    assert {"dev", "acme", "globex"} <= set(stages)
    assert stages["globex"]["environment_variables"]["MFA_TENANT"] == "globex"


def test_packaging_again_updates_the_stage_and_keeps_hand_tuned_values(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"version": "2.0", "app_name": "mfa", "stages": {"dev": {"api_gateway_stage": "x"}}}))
    pkg.update_config(config, "acme", cors_origins="https://a.example")
    stages = json.loads(config.read_text())["stages"]
    stages["acme"]["lambda_memory_size"] = 1024
    config.write_text(json.dumps({"version": "2.0", "app_name": "mfa", "stages": stages}))
    stage = pkg.update_config(config, "acme", cors_origins="https://b.example, https://c.example:8443")
    assert stage["lambda_memory_size"] == 1024
    assert stage["environment_variables"]["MFA_CORS_ORIGINS"] == "https://b.example,https://c.example:8443"
    assert pkg.update_config(config, "acme")["environment_variables"]["MFA_CORS_ORIGINS"].startswith("https://b.")
    assert json.loads(config.read_text())["stages"]["dev"] == {"api_gateway_stage": "x"}


@pytest.mark.parametrize(
    "tenant, options, complaint",
    [
        ("Acme Corp", {}, "not a tenant id"),
        ("acme", {"cors_origins": "https://mail.acme.example/path"}, "not an origin"),
        ("acme", {"cors_origins": "*"}, "not an origin"),
    ],
)
def test_packaging_refuses_bad_input(tenant, options, complaint):
    with pytest.raises(pkg.PackageError, match=complaint):
        pkg.tenant_stage(tenant, **options)


def test_packaging_refuses_a_stage_holding_a_literal_secret():
    with pytest.raises(pkg.PackageError, match="MFA_JWT_SECRET"):
        pkg.tenant_stage("acme", {"environment_variables": {"MFA_JWT_SECRET": "x" * 40}})


def test_asymmetric_stage_holds_the_public_key_only():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    private = ec.generate_private_key(ec.SECP256R1())
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    env = pkg.tenant_stage("acme", jwt_public_key=public_pem)["environment_variables"]
    assert env["MFA_JWT_ALGORITHM"] == "ES256"
    assert env["MFA_JWT_PUBLIC_KEY"] == public_pem.strip().replace("\n", "\\n")
    assert env["MFA_JWT_SECRET_ARN"] == "${MfaJwtSecret}"  # the signing key: in Secrets Manager
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    with pytest.raises(pkg.PackageError, match="private key"):
        pkg.tenant_stage("acme", jwt_public_key=private_pem)
    with pytest.raises(pkg.PackageError, match="does not fit RS256"):
        pkg.tenant_stage("acme", jwt_public_key=public_pem, jwt_algorithm="RS256")


# --- the token key from Secrets Manager ---------------------------------------------------------------------

ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:mfa-jwt-AbCdEf"
BASE = {"MFA_TABLE": "t", "MFA_KMS_KEY_ID": "k"}


def test_secret_arn_is_a_key_source_that_is_read_later():
    settings = Settings.from_environ(BASE | {"MFA_JWT_SECRET_ARN": ARN})
    assert settings.jwt_secret_arn == ARN and settings.jwt_verify_key == "" and settings.jwt_algorithm == "HS256"
    resolved = settings.with_jwt_secret("s" * 64 + "\n")
    assert resolved.jwt_verify_key == resolved.jwt_signing_key == "s" * 64


def test_secret_arn_wins_over_the_dev_default_and_never_mixes_with_a_literal():
    assert Settings.from_environ(BASE | {"MFA_JWT_SECRET_ARN": ARN, "MFA_DEV_MODE": "1"}).jwt_verify_key == ""
    with pytest.raises(ConfigError, match="not both"):
        Settings.from_environ(BASE | {"MFA_JWT_SECRET_ARN": ARN, "MFA_JWT_SECRET": "x" * 40})


def test_a_short_secret_is_refused():
    with pytest.raises(ConfigError, match="32 bytes"):
        Settings.from_environ(BASE | {"MFA_JWT_SECRET_ARN": ARN}).with_jwt_secret("short")


def test_with_a_public_key_the_secret_holds_the_signing_key():
    env = BASE | {"MFA_JWT_PUBLIC_KEY": "-----BEGIN PUBLIC KEY-----\\nAAAA\\n-----END PUBLIC KEY-----",
                  "MFA_JWT_ALGORITHM": "ES256", "MFA_JWT_SECRET_ARN": ARN}
    settings = Settings.from_environ(env)
    assert settings.jwt_algorithm == "ES256" and settings.jwt_signing_key == ""
    pem = "-----BEGIN PRIVATE KEY-----\nBBBB\n-----END PRIVATE KEY-----"
    assert settings.with_jwt_secret(pem).jwt_signing_key == pem
    assert settings.with_jwt_secret(pem).jwt_verify_key.startswith("-----BEGIN PUBLIC KEY-----\nAAAA")
    with pytest.raises(ConfigError, match="private PEM"):
        settings.with_jwt_secret("x" * 64)


def _secret_in_moto(value: str = DEV_SECRET) -> str:
    return boto3.client("secretsmanager").create_secret(Name="mfa-jwt", SecretString=value)["ARN"]


def test_the_secret_is_read_once_per_container(api, monkeypatch):
    monkeypatch.setenv("MFA_JWT_SECRET_ARN", _secret_in_moto())
    runtime.reset()
    reads = []
    session = boto3._get_default_session()
    session.events.register("before-call.secrets-manager.GetSecretValue", lambda **_: reads.append(1), unique_id="r")
    try:
        runtime.current().clock = api.clock
        for _ in range(3):
            assert api.as_user("GET", "/v1/factors").status_code == 200
        assert api.as_user("GET", "/v1/factors", tenant="demo").status_code == 200
    finally:
        session.events.unregister("before-call.secrets-manager.GetSecretValue", unique_id="r")
    assert len(reads) == 1


def test_a_token_signed_with_another_key_is_refused_under_the_secret(api, monkeypatch):
    monkeypatch.setenv("MFA_JWT_SECRET_ARN", _secret_in_moto("k" * 64))
    runtime.reset()
    runtime.current().clock = api.clock
    assert api.as_user("GET", "/v1/factors").status_code == 401  # signed with the dev secret
    now = int(api.clock.now)
    good = jwt.encode(
        {"sub": "alice@example.com", "tenant": "demo", "scope": "mfa:settings", "aud": "mfa", "iat": now,
         "exp": now + 60},
        "k" * 64,
        algorithm="HS256",
    )
    assert api.call("GET", "/v1/factors", token=good).status_code == 200


# --- the IAM policy against the calls ---------------------------------------------------------------------


def representative_flow(api) -> None:
    """The calls on a logon's path: admin policy, attach, logon with a wrong and a right code, a recovery
    code, factors, then delete in a new container. With the token key read from Secrets Manager."""
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


# --- the zips alone, in a fresh interpreter ---------------------------------------------------------------

# The Lambda python3.11 runtime: the interpreter, its standard library, and boto3 with its dependencies.
LAMBDA_RUNTIME = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six.py")

START_UP = """
import json, sys, sysconfig
task, layer, runtime = sys.argv[1:4]
sys.path[:0] = [task, layer, runtime]  # /var/task, /opt/python, the runtime's boto3
import app
allowed = (task, layer, runtime, sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"])
print(json.dumps(sorted(
    f"{name}: {module.__file__}" for name, module in sys.modules.items()
    if getattr(module, "__file__", None) and not module.__file__.startswith(allowed)
)))
"""

SERVE = """
import json, os, sys, time
task, layer, runtime, harness, spec_path = sys.argv[1:6]
spec = json.load(open(spec_path))
sys.path[:0] = [task, layer, runtime]
sys.path.append(harness)  # moto and Chalice's test client: the test's tools, after everything the app uses
import chalice
chalice.__path__.append(os.path.join(harness, "chalice"))  # the zip ships chalice/app.py only
import boto3
from moto import mock_aws

with mock_aws():
    boto3.client("dynamodb").create_table(TableName="acme-mfa", **spec["table"])
    refs = {
        "MfaTable": "acme-mfa",
        "MfaKey": boto3.client("kms").create_key()["KeyMetadata"]["KeyId"],
        "MfaTopic": boto3.client("sns").create_topic(Name="acme-notifications")["TopicArn"],
        "MfaJwtSecret": boto3.client("secretsmanager").create_secret(
            Name="acme-jwt", SecretString=spec["secret"])["ARN"],
    }
    env = {k: refs[v["Ref"]] if isinstance(v, dict) else v for k, v in spec["environment"].items()}
    os.environ.update(env)  # as Lambda sets them before the handler's module is imported
    os.makedirs(os.path.join(spec["project"], ".chalice"))
    with open(os.path.join(spec["project"], ".chalice", "config.json"), "w") as f:
        json.dump({"version": "2.0", "app_name": "mfa",
                   "stages": {"acme": {"environment_variables": env}}}, f)
    import app
    import jwt
    from chalice.test import Client

    def token(tenant):
        now = int(time.time())
        claims = {"sub": "alice@acme.example", "tenant": tenant, "scope": "mfa:settings", "aud": "mfa",
                  "iat": now, "exp": now + 300}
        return "Bearer " + jwt.encode(claims, spec["secret"], algorithm="HS256")

    answers = {}
    with Client(app.app, stage_name="acme", project_dir=spec["project"]) as client:
        def call(name, method, path, auth=None, body=b""):
            headers = {"Content-Type": "application/json"} | ({"Authorization": auth} if auth else {})
            r = client.http.request(method, path, headers=headers, body=body)
            json_body = r.headers.get("Content-Type", "").startswith("application/json") and r.body
            answers[name] = [r.status_code, json.loads(r.body) if json_body else None]

        call("health", "GET", "/v1/health")
        call("enroll", "POST", "/v1/authenticator/enroll", token("acme"), b'{"name": "phone"}')
        call("other tenant", "GET", "/v1/factors", token("globex"))
        for path in ("/", "/v1/openapi.json"):
            if path in app.app.routes:
                call(path, "GET", path)

    # API Gateway's catch-all method as Lambda delivers it: Chalice answers a wrong method itself.
    event = {"resource": "/v1/health", "path": "/v1/health", "httpMethod": "DELETE", "headers": {},
             "multiValueHeaders": {}, "queryStringParameters": None, "multiValueQueryStringParameters": None,
             "pathParameters": None, "stageVariables": None, "body": None, "isBase64Encoded": False,
             "requestContext": {"resourcePath": "/v1/health", "httpMethod": "DELETE", "stage": "api",
                                "path": "/api/v1/health", "identity": {"sourceIp": "203.0.113.7"}}}
    response = app.app(event, None)
    answers["wrong method"] = [response["statusCode"], json.loads(response["body"])]

modules = ("app", "functions", "mfa_core", "jwt", "pyotp", "qrcode", "png", "cryptography", "chalice.app", "boto3")
print(json.dumps({"answers": answers, "origins": {m: sys.modules[m].__file__ for m in modules if m in sys.modules}}))
"""


@pytest.fixture(scope="module")
def unpacked(built, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("lambda")
    dirs = {"task": root / "task", "opt": root / "opt", "runtime": root / "runtime"}
    with zipfile.ZipFile(built.acme / pkg.FUNCTION_ZIP) as zf:
        zf.extractall(dirs["task"])
    with zipfile.ZipFile(built.acme / pkg.LAYER_ZIP) as zf:
        zf.extractall(dirs["opt"])
    dirs["layer"] = dirs["opt"] / "python"
    site = Path(boto3.__file__).parent.parent
    dirs["runtime"].mkdir()
    for name in LAMBDA_RUNTIME:
        (dirs["runtime"] / name).symlink_to(site / name)
    dirs["harness"] = site
    return dirs


def _fresh_python(code: str, *args: str, env: dict) -> subprocess.CompletedProcess:
    # -I: no PYTHONPATH, no user site; -S: not even this virtualenv's site-packages.
    clean = {k: v for k, v in os.environ.items() if k.startswith("AWS_") and k != "AWS_ENDPOINT_URL"}
    return subprocess.run(
        [sys.executable, "-I", "-S", "-c", code, *args],
        capture_output=True,
        text=True,
        env=clean | env,
        timeout=120,
    )


def test_the_zips_alone_start_the_app_with_only_the_lambda_runtime(built, unpacked):
    env = built.template()["Resources"]["APIHandler"]["Properties"]["Environment"]["Variables"]
    placeholders = {k: v if isinstance(v, str) else f"placeholder-{v['Ref']}" for k, v in env.items()}
    result = _fresh_python(
        START_UP, str(unpacked["task"]), str(unpacked["layer"]), str(unpacked["runtime"]), env=placeholders
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []  # every module from the function, the layer or the runtime


def test_the_zips_alone_serve_requests_through_the_chalice_test_client(built, unpacked, tmp_path):
    template = built.template()
    table = template["Resources"]["MfaTable"]["Properties"]
    spec = {
        "table": {k: table[k] for k in ("AttributeDefinitions", "KeySchema", "BillingMode")},
        "environment": template["Resources"]["APIHandler"]["Properties"]["Environment"]["Variables"],
        "secret": base64.b64encode(os.urandom(48)).decode(),
        "project": str(tmp_path / "harness"),
    }
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    dirs = [str(unpacked[name]) for name in ("task", "layer", "runtime", "harness")]
    result = _fresh_python(SERVE, *dirs, str(tmp_path / "spec.json"), env={})
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    answers = out["answers"]
    assert answers["health"] == [200, {"status": "ok"}]
    status, body = answers["enroll"]
    assert status == 200 and body["qr_png"].startswith("data:image/png;base64,"), answers["enroll"]
    assert answers["other tenant"][0] == 403 and answers["other tenant"][1]["error"] == "forbidden"
    assert answers["wrong method"][0] == 405 and answers["wrong method"][1]["error"] == "method_not_allowed"
    for path in ("/", "/v1/openapi.json"):
        if path in answers:
            assert answers[path][0] == 200, (path, answers[path])
    origins = out["origins"]
    for module in ("app", "functions", "chalice.app"):
        assert origins[module].startswith(str(unpacked["task"])), (module, origins[module])
    for module in ("mfa_core", "jwt", "pyotp", "qrcode", "png", "cryptography"):
        assert origins[module].startswith(str(unpacked["layer"])), (module, origins[module])
    assert origins["boto3"].startswith(str(unpacked["runtime"]))
