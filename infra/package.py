"""`make package TENANT=acme`: one tenant's stack in dist/<tenant>/, as `sam deploy` takes it.

1. The tenant's Chalice stage, made only from what this run was given (the tenant, its CORS origins, the
   mail platform's public key) and the stack's resources as CloudFormation references (`${MfaTable}`).
   Never a secret (the token key lives in Secrets Manager), and nothing from another stage.
2. The layer zip (infra/layer.py): layers/mfa_core/python plus the runtime wheels of requirements.txt,
   built for python3.13.
3. A staging project holding only what the function ships (app.py, the vendor/ entries but mfa_core, an
   empty requirements.txt), packaged by `chalice package --stage <tenant> --merge-template
   infra/tenant-stack.yaml`; its zip gets the OpenAPI document as JSON and bytecode for python3.13.
4. The template: Chalice's one function becomes one per handler group (functions/handlers.py), each with
   its entry module, memory, optional reserved concurrency and least-privilege role (infra/iam-policy.json),
   all on the one layer and the one code zip; every path goes to its group's function, and every route
   answers a wrong method itself (405). Writes sam.yaml, deployment.zip and mfa-core-layer.zip.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import yaml

from infra import openapi_json
from infra.layer import (
    LAYER_PACKAGES,
    LAYER_SOURCE,
    LAYER_ZIP,
    RUNTIME,
    NoLambdaPython,
    build_layer,
    compile_tree,
    write_zip,
)

ROOT = Path(__file__).resolve().parent.parent
MERGE_TEMPLATE = ROOT / "infra" / "tenant-stack.yaml"
IAM_POLICY = ROOT / "infra" / "iam-policy.json"

TEMPLATE_NAME = "sam.yaml"
FUNCTION_ZIP = "deployment.zip"
MAX_FUNCTION_ZIP_BYTES = 1024 * 1024
APP_NAME = "mfa"

# Never deployed: the local run's token minting. A stage that sets MFA_DEV_MODE=1 by mistake then
# fails at start-up instead of serving tokens signed with the well-known dev secret.
DEV_ONLY = {"functions/dev.py"}
# The stage's references to the stack's resources; `${Name}` becomes a CloudFormation reference.
RESOURCE_ENV = {
    "MFA_TABLE": "${MfaTable}",
    "MFA_KMS_KEY_ID": "${MfaKey}",
    "MFA_TOPIC_ARN": "${MfaTopic}",
    "MFA_JWT_SECRET_ARN": "${MfaJwtSecret}",
    "MFA_SIGNING_KEY_ARN": "${MfaSigningKey}",
}
STAGE_SETTINGS = {"api_gateway_stage": "api", "lambda_timeout": 15, "log_retention_in_days": 90}
# Memory (and with it CPU) per function, in MB: the code paths a person waits on (a logon, the QR of an
# attach, a confirm's key wrapping) get more; admin and settings calls are light.
MEMORY_MB = {"enroll": 512, "confirm": 512, "verify": 512, "delete": 256, "policy": 256, "settings": 256}
TENANT_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
REFERENCE_RE = re.compile(r"\$\{([A-Za-z0-9]+)(?:\.([A-Za-z0-9.]+))?\}")
ORIGIN_RE = re.compile(r"https://[a-z0-9.-]+(:[0-9]+)?|http://(localhost|127\.0\.0\.1)(:[0-9]+)?")
INTEGRATION = "x-amazon-apigateway-integration"
ANY_METHOD = "x-amazon-apigateway-any-method"
INVOKE_URI = "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${%s.Arn}/invocations"


class PackageError(RuntimeError):
    pass


# -- 1. the stage ----------------------------------------------------------------------------------------


def tenant_stage(
    tenant: str,
    *,
    cors_origins: str | None = None,
    jwt_public_key: str | None = None,
    jwt_algorithm: str | None = None,
) -> dict:
    """The tenant's Chalice stage, from these arguments alone."""
    if not TENANT_RE.fullmatch(tenant):
        raise PackageError(f"{tenant!r} is not a tenant id ([a-z0-9][a-z0-9-]{{0,62}})")
    env = dict(RESOURCE_ENV, MFA_TENANT=tenant)
    if cors_origins is not None:
        origins = [o.strip() for o in cors_origins.split(",") if o.strip()]
        bad = [o for o in origins if not ORIGIN_RE.fullmatch(o)]
        if bad:
            raise PackageError(f"not an origin (https://host[:port], no path): {', '.join(bad)}")
        if origins:
            env["MFA_CORS_ORIGINS"] = ",".join(origins)
    if jwt_public_key is not None:
        algorithm = public_key_algorithm(jwt_public_key, jwt_algorithm)
        env["MFA_JWT_PUBLIC_KEY"] = jwt_public_key.strip().replace("\n", "\\n")
        env["MFA_JWT_ALGORITHM"] = algorithm
    # Each function gets its own role (step 4): Chalice makes none.
    return {**STAGE_SETTINGS, "manage_iam_role": False, "iam_role_arn": "${VerifyRole.Arn}",
            "environment_variables": dict(sorted(env.items()))}


def public_key_algorithm(pem: str, algorithm: str | None) -> str:
    """RS256 or ES256 for the mail platform's public key; refuses a private key (it would be published)."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    if "PRIVATE KEY" in pem:
        raise PackageError("that is a private key: the stage takes the mail platform's public key only")
    try:
        key = load_pem_public_key(pem.strip().encode())
    except ValueError as e:
        raise PackageError("the JWT public key is not a PEM public key") from e
    algorithms = {rsa.RSAPublicKey: "RS256", ec.EllipticCurvePublicKey: "ES256"}
    expected = next((name for kind, name in algorithms.items() if isinstance(key, kind)), None)
    if expected is None or (algorithm is not None and algorithm != expected):
        raise PackageError(f"the JWT public key does not fit {algorithm or 'RS256/ES256'}")
    return expected


# -- 2. the layer (infra/layer.py) -----------------------------------------------------------------------


# -- 3. the function code --------------------------------------------------------------------------------


def stage_project(staging: Path, tenant: str, stage: dict) -> None:
    """A Chalice project with only what the function ships, and the one stage."""
    shutil.rmtree(staging, ignore_errors=True)
    (staging / ".chalice").mkdir(parents=True)
    shutil.copy2(ROOT / "app.py", staging / "app.py")
    (staging / "requirements.txt").write_text("# The runtime dependencies ship in the mfa_core layer.\n")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for entry in sorted((ROOT / "vendor").iterdir()):
        if entry.name in LAYER_PACKAGES:
            continue
        target = staging / "vendor" / entry.name
        if entry.is_dir():  # vendor/functions -> ../functions: copied, not linked
            shutil.copytree(entry.resolve(), target, ignore=ignore)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(entry.resolve(), target)
    for path in DEV_ONLY:
        (staging / "vendor" / path).unlink(missing_ok=True)
    config = {"version": "2.0", "app_name": APP_NAME, "stages": {tenant: stage}}
    (staging / ".chalice" / "config.json").write_text(json.dumps(config, indent=2) + "\n")


def chalice_package(staging: Path, tenant: str, out: Path) -> None:
    # The app is imported to find its routes: nothing of this process's MFA_* settings (MFA_DEV_MODE
    # would add the dev routes) may reach it, and mfa_core comes from the layer's source.
    env = {k: v for k, v in os.environ.items() if not k.startswith("MFA_") and k != "AWS_ENDPOINT_URL"}
    env["PYTHONPATH"] = str(LAYER_SOURCE)
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")  # Chalice wants one; the template uses ${AWS::Region}
    chalice = Path(sys.executable).parent / "chalice"
    result = subprocess.run(
        [str(chalice), "package", "--stage", tenant, "--merge-template", str(MERGE_TEMPLATE), str(out)],
        cwd=staging,
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise PackageError(f"chalice package failed:\n{result.stdout}{result.stderr}")


def finish_function_zip(chalice_zip: Path, out: Path, work: Path) -> None:
    """Chalice's zip with the contract as JSON instead of YAML (the function has no YAML parser) and bytecode
    for the runtime (Chalice ships none, so every cold start compiled)."""
    tree = work / "function"
    shutil.rmtree(tree, ignore_errors=True)
    with zipfile.ZipFile(chalice_zip) as zf:
        zf.extractall(tree)
    (tree / "openapi.yaml").unlink()
    openapi_json.write(tree)
    compile_tree(tree, "/var/task")
    write_zip(out, [(tree, "")])
    check_function_zip(out)


def check_function_zip(path: Path) -> None:
    size = path.stat().st_size
    if size >= MAX_FUNCTION_ZIP_BYTES:
        raise PackageError(f"{path.name} is {size} bytes: over 1 MB (a dependency slipped into the function?)")
    with zipfile.ZipFile(path) as zf:
        shadowing = sorted({n.split("/")[0] for n in zf.namelist() if n.split("/")[0] in LAYER_PACKAGES})
    if shadowing:
        raise PackageError(f"{path.name} holds {shadowing}: it would shadow the layer")


# -- 4. the template -------------------------------------------------------------------------------------


def cfn_value(value: str):
    """A stage value as CloudFormation: `${Res}` -> Ref, `${Res.Attr}` -> GetAtt, other `${...}` -> Sub."""
    match = REFERENCE_RE.fullmatch(value)
    if match:
        return {"Fn::GetAtt": [match[1], match[2]]} if match[2] else {"Ref": match[1]}
    return {"Fn::Sub": value} if "${" in value else value


def function_id(group: str) -> str:
    return f"{group.capitalize()}Function"


# Run in a fresh interpreter: Chalice replays a blueprint's routes into one app only (it consumes their
# arguments), and this process may hold the whole app already (the tests do).
_ROUTES = """
import json
from functions.handlers import GROUPS, chalice_app
print(json.dumps({group: {path: sorted(methods) for path, methods in chalice_app(group).routes.items()}
                  for group in GROUPS}))
"""


def routes_by_group() -> dict[tuple[str, str], str]:
    """(path, lower-case method) -> the group that serves it; ANY and OPTIONS of a path go to its first group."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MFA_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(LAYER_SOURCE)])
    result = subprocess.run([sys.executable, "-c", _ROUTES], env=env, capture_output=True, text=True, cwd=ROOT)
    if result.returncode != 0:
        raise PackageError(f"the handler groups do not load:\n{result.stderr}")
    owners: dict[tuple[str, str], str] = {}
    for group, routes in json.loads(result.stdout).items():
        for path, methods in routes.items():
            for method in methods:
                owners[(path, method.lower())] = group
            owners.setdefault((path, "options"), group)
            owners.setdefault((path, ANY_METHOD), group)
    return owners


def role_policy(group: str, grants: dict | None = None) -> dict:
    """The IAM policy of one function: its grants in infra/iam-policy.json, as statements."""
    grants = grants or json.loads(IAM_POLICY.read_text())
    statements = []
    for sid, actions in grants["functions"][group].items():
        statements.append({"Sid": sid, "Effect": "Allow", "Action": sorted(actions), **grants["resources"][sid]})
    return {"Version": "2012-10-17", "Statement": statements}


def split_functions(template: dict) -> None:
    """Chalice's one APIHandler -> one function per group, sharing its code, layer, environment and logs."""
    from functions.handlers import GROUPS

    resources = template["Resources"]
    handler = resources.pop("APIHandler")
    permission = resources.pop("APIHandlerInvokePermission")
    parameters = template.setdefault("Parameters", {})
    conditions = template.setdefault("Conditions", {})
    grants = json.loads(IAM_POLICY.read_text())
    for group in GROUPS:
        name = function_id(group)
        function = copy.deepcopy(handler)
        props = function["Properties"]
        props["Handler"] = f"functions.entry.{group}.app"
        props["Runtime"] = RUNTIME
        props["MemorySize"] = MEMORY_MB[group]
        props["Role"] = {"Fn::GetAtt": [f"{group.capitalize()}Role", "Arn"]}
        env = props["Environment"]["Variables"]
        for key, value in env.items():
            env[key] = cfn_value(value)
        reserved = f"{group.capitalize()}ReservedConcurrency"
        parameters[reserved] = {
            "Type": "Number",
            "Default": -1,
            "MinValue": -1,
            "Description": f"Concurrent executions reserved for the {group} function (-1: none, the account's pool).",
        }
        conditions[f"{reserved}Set"] = {"Fn::Not": [{"Fn::Equals": [{"Ref": reserved}, -1]}]}
        props["ReservedConcurrentExecutions"] = {
            "Fn::If": [f"{reserved}Set", {"Ref": reserved}, {"Ref": "AWS::NoValue"}]
        }
        resources[name] = function
        resources[f"{group.capitalize()}Role"] = {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                   "Action": "sts:AssumeRole"}],
                },
                "Policies": [{"PolicyName": f"{group}-function", "PolicyDocument": role_policy(group, grants)}],
            },
        }
        allowed = copy.deepcopy(permission)
        allowed["Properties"]["FunctionName"] = {"Ref": name}
        resources[f"{name}InvokePermission"] = allowed
    for output in [k for k, v in template.get("Outputs", {}).items() if "APIHandler" in json.dumps(v)]:
        del template["Outputs"][output]


def route_paths(template: dict) -> None:
    """Each path and method to its group's function; a method a route lacks to the path's first group,
    whose Chalice answers 405 (API Gateway alone would answer it as an unknown route)."""
    paths = template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["paths"]
    dev = [p for p in paths if p.startswith("/v1/dev/")]
    if dev:
        raise PackageError(f"dev-only routes in a deployed stage: {dev}")
    owners = routes_by_group()
    for path, methods in paths.items():
        routed = next(m for m in methods.values() if isinstance(m, dict) and INTEGRATION in m)
        methods.setdefault(ANY_METHOD, copy.deepcopy(routed))
        for method, operation in methods.items():
            if isinstance(operation, dict) and INTEGRATION in operation:
                group = owners.get((path, method))
                if group is None:
                    raise PackageError(f"{method.upper()} {path} is in no handler group (functions/handlers.py)")
                operation[INTEGRATION]["uri"] = {"Fn::Sub": INVOKE_URI % function_id(group)}


def finish_template(template: dict, tenant: str, stage: dict) -> dict:
    template["Description"] = f"Two-factor authentication (TOTP) for tenant {tenant}"
    # The gateway's own answers need the origins the functions were packaged with: given once, to CORS=.
    origins = stage["environment_variables"].get("MFA_CORS_ORIGINS", "")
    template["Parameters"]["CorsOrigins"]["Default"] = origins
    split_functions(template)
    route_paths(template)
    return template


class _TemplateDumper(yaml.SafeDumper):
    """YAML CloudFormation reads: no anchors or aliases for repeated parts."""

    def ignore_aliases(self, data) -> bool:
        return True


def package(
    tenant: str,
    out_root: Path,
    *,
    work: Path = ROOT / "build",
    cache: Path = ROOT / "build",
    layer: Path | None = None,
    **options,
) -> Path:
    """Package one tenant into out_root/<tenant>/; returns that directory.

    `layer`: a layer zip built already (several tenants share one build)."""
    stage = tenant_stage(tenant, **options)
    staging = work / "stage" / tenant
    stage_project(staging, tenant, stage)
    chalice_out = work / "chalice" / tenant
    shutil.rmtree(chalice_out, ignore_errors=True)
    chalice_package(staging, tenant, chalice_out)

    out = out_root / tenant
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    template = finish_template(yaml.safe_load((chalice_out / TEMPLATE_NAME).read_text()), tenant, stage)
    (out / TEMPLATE_NAME).write_text(yaml.dump(template, Dumper=_TemplateDumper, sort_keys=False, width=1000))
    finish_function_zip(chalice_out / FUNCTION_ZIP, out / FUNCTION_ZIP, work / "code" / tenant)
    if layer is None:
        layer = build_layer(work / LAYER_ZIP, work, cache)
    shutil.copy2(layer, out / LAYER_ZIP)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tenant", required=True)
    parser.add_argument("--out", default=str(ROOT / "dist"), help="dist/<tenant>/ receives the stack")
    parser.add_argument("--cors-origins", help="comma-separated origins of the tenant's web pages")
    parser.add_argument("--jwt-public-key", help="PEM file: the mail platform's public key (RS256/ES256)")
    parser.add_argument("--jwt-algorithm", choices=["RS256", "ES256"])
    args = parser.parse_args()
    options = {"cors_origins": args.cors_origins, "jwt_algorithm": args.jwt_algorithm}
    try:
        if args.jwt_public_key:
            options["jwt_public_key"] = Path(args.jwt_public_key).read_text()
        out = package(args.tenant, Path(args.out), **options)
    except (PackageError, NoLambdaPython, OSError) as e:
        sys.exit(f"package: {e}")
    rel = os.path.relpath(out)
    sizes = ", ".join(f"{p.name} {p.stat().st_size} bytes" for p in sorted(out.iterdir()))
    print(f"{rel}: {sizes}")
    print(f"Deploy: sam deploy --template-file {rel}/{TEMPLATE_NAME} --stack-name mfa-{args.tenant} "
          "--capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND --resolve-s3")


if __name__ == "__main__":
    main()
