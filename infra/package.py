"""`make package TENANT=acme`: one tenant's stack in dist/<tenant>/, as `sam deploy` takes it.

1. Adds or updates the tenant's stage in .chalice/config.json: the pinned tenant, the table, key, topic
   and token secret as CloudFormation references (`${MfaTable}`), the CORS origins, and, with RS256/ES256,
   the mail platform's public key. Never a secret: the token key lives in Secrets Manager.
2. Builds the layer zip (infra/layer.py): layers/mfa_core/python plus the runtime wheels of
   requirements.txt, as the Lambda runtime loads them (manylinux2014 x86_64, CPython 3.11). Wheels are
   cached under build/.
3. Assembles a staging project holding only what the function ships (app.py, the vendor/ entries but
   mfa_core, an empty requirements.txt) and runs `chalice package --stage <tenant> --merge-template
   infra/tenant-stack.yaml` in it, so the function zip has no third-party wheel and no copy of mfa_core
   to shadow the layer.
4. Turns the stage's `${...}` values into CloudFormation references, lets every route answer a wrong
   method itself (405, as the contract says), and writes sam.yaml, deployment.zip and
   mfa-core-layer.zip to dist/<tenant>/.
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

from infra.layer import LAYER_PACKAGES, LAYER_SOURCE, LAYER_ZIP, build_layer

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / ".chalice" / "config.json"
MERGE_TEMPLATE = ROOT / "infra" / "tenant-stack.yaml"
IAM_POLICY = ROOT / "infra" / "iam-policy.json"

TEMPLATE_NAME = "sam.yaml"
FUNCTION_ZIP = "deployment.zip"
MAX_FUNCTION_ZIP_BYTES = 1024 * 1024

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
# Values that must never sit in a stage: secrets, and the local run's switches.
FORBIDDEN_ENV = ("MFA_JWT_SECRET", "MFA_JWT_SIGNING_KEY", "MFA_DEV_MODE")
STAGE_DEFAULTS = {"lambda_memory_size": 512, "lambda_timeout": 15, "log_retention_in_days": 90}
TENANT_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
REFERENCE_RE = re.compile(r"\$\{([A-Za-z0-9]+)(?:\.([A-Za-z0-9.]+))?\}")
ORIGIN_RE = re.compile(r"https://[a-z0-9.-]+(:[0-9]+)?|http://(localhost|127\.0\.0\.1)(:[0-9]+)?")


class PackageError(RuntimeError):
    pass


# -- 1. the stage ----------------------------------------------------------------------------------------


def tenant_stage(
    tenant: str,
    previous: dict | None = None,
    *,
    cors_origins: str | None = None,
    jwt_public_key: str | None = None,
    jwt_algorithm: str | None = None,
) -> dict:
    """The tenant's stage: `previous` (what an admin may have tuned by hand) with the parts we own set."""
    if not TENANT_RE.fullmatch(tenant):
        raise PackageError(f"{tenant!r} is not a tenant id ([a-z0-9][a-z0-9-]{{0,62}})")
    stage = json.loads(json.dumps(previous or {}))
    env = stage.get("environment_variables", {})
    for name in FORBIDDEN_ENV:
        if name in env:
            raise PackageError(f"stage {tenant} sets {name}: remove it (the token key comes from Secrets Manager)")
    env.update(RESOURCE_ENV, MFA_TENANT=tenant)
    if cors_origins is not None:
        origins = [o.strip() for o in cors_origins.split(",") if o.strip()]
        bad = [o for o in origins if not ORIGIN_RE.fullmatch(o)]
        if bad:
            raise PackageError(f"not an origin (https://host[:port], no path): {', '.join(bad)}")
        env["MFA_CORS_ORIGINS"] = ",".join(origins)
    if jwt_public_key is not None:
        algorithm = public_key_algorithm(jwt_public_key, jwt_algorithm)
        env["MFA_JWT_PUBLIC_KEY"] = jwt_public_key.strip().replace("\n", "\\n")
        env["MFA_JWT_ALGORITHM"] = algorithm
    owned = {
        "api_gateway_stage": "api",
        "autogen_policy": False,  # it sees only app.py's boto3 calls: the hand-written policy is the truth
        "iam_policy_file": "../infra/iam-policy.json",
    }
    # Tunables an admin changed by hand (memory, timeout, retention) are kept.
    return {**owned, **STAGE_DEFAULTS, **stage, **owned, "environment_variables": dict(sorted(env.items()))}


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


def update_config(config_path: Path, tenant: str, **options) -> dict:
    """Add or update the tenant's stage in the Chalice config; returns the stage."""
    config = json.loads(config_path.read_text())
    stages = config.setdefault("stages", {})
    stages[tenant] = tenant_stage(tenant, stages.get(tenant), **options)
    config_path.write_text(json.dumps(config, indent=2) + "\n")
    return stages[tenant]


# -- 2. the layer (infra/layer.py) -----------------------------------------------------------------------


# -- 3. the function -------------------------------------------------------------------------------------


def stage_project(staging: Path, tenant: str, stage: dict, app_name: str) -> None:
    """A Chalice project with only what the function ships, and the one stage."""
    shutil.rmtree(staging, ignore_errors=True)
    (staging / ".chalice").mkdir(parents=True)
    shutil.copy2(ROOT / "app.py", staging / "app.py")
    (staging / "requirements.txt").write_text("# The runtime dependencies ship in the mfa_core layer.\n")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for source in ("chalicelib",):
        if (ROOT / source).is_dir():
            shutil.copytree(ROOT / source, staging / source, ignore=ignore)
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
    config = {"version": "2.0", "app_name": app_name, "stages": {tenant: stage}}
    (staging / ".chalice" / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    policy = (staging / ".chalice" / stage["iam_policy_file"]).resolve()
    policy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(IAM_POLICY, policy)


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


# -- 4. the template -------------------------------------------------------------------------------------


def cfn_value(value: str):
    """A stage value as CloudFormation: `${Res}` -> Ref, `${Res.Attr}` -> GetAtt, other `${...}` -> Sub."""
    match = REFERENCE_RE.fullmatch(value)
    if match:
        return {"Fn::GetAtt": [match[1], match[2]]} if match[2] else {"Ref": match[1]}
    return {"Fn::Sub": value} if "${" in value else value


def finish_template(template: dict, tenant: str) -> dict:
    template["Description"] = f"Two-factor authentication (TOTP) for tenant {tenant}"
    resources = template["Resources"]
    env = resources["APIHandler"]["Properties"]["Environment"]["Variables"]
    for name, value in env.items():
        env[name] = cfn_value(value)
    paths = resources["RestAPI"]["Properties"]["DefinitionBody"]["paths"]
    dev = [p for p in paths if p.startswith("/v1/dev/")]
    if dev:
        raise PackageError(f"dev-only routes in a deployed stage: {dev}")
    for methods in paths.values():
        # API Gateway answers a method a route lacks as an unknown route; sent to the function, Chalice
        # answers 405 and http.py's middleware gives it the contract's shape.
        routed = next(m for m in methods.values() if isinstance(m, dict) and "x-amazon-apigateway-integration" in m)
        methods.setdefault("x-amazon-apigateway-any-method", copy.deepcopy(routed))
    return template


class _TemplateDumper(yaml.SafeDumper):
    """YAML CloudFormation reads: no anchors or aliases for repeated parts."""

    def ignore_aliases(self, data) -> bool:
        return True


def package(
    tenant: str,
    out_root: Path,
    *,
    config_path: Path = CONFIG,
    work: Path = ROOT / "build",
    cache: Path = ROOT / "build",
    layer: Path | None = None,
    **options,
) -> Path:
    """Package one tenant into out_root/<tenant>/; returns that directory.

    `layer`: a layer zip built already (several tenants share one build)."""
    stage = update_config(config_path, tenant, **options)
    app_name = json.loads(config_path.read_text()).get("app_name", "mfa")
    staging = work / "stage" / tenant
    stage_project(staging, tenant, stage, app_name)
    chalice_out = work / "chalice" / tenant
    shutil.rmtree(chalice_out, ignore_errors=True)
    chalice_package(staging, tenant, chalice_out)

    out = out_root / tenant
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    template = finish_template(yaml.safe_load((chalice_out / TEMPLATE_NAME).read_text()), tenant)
    (out / TEMPLATE_NAME).write_text(yaml.dump(template, Dumper=_TemplateDumper, sort_keys=False, width=1000))
    shutil.copy2(chalice_out / FUNCTION_ZIP, out / FUNCTION_ZIP)
    check_function_zip(out / FUNCTION_ZIP)
    if layer is None:
        layer = build_layer(work / LAYER_ZIP, work, cache)
    shutil.copy2(layer, out / LAYER_ZIP)
    return out


def check_function_zip(path: Path) -> None:
    size = path.stat().st_size
    if size >= MAX_FUNCTION_ZIP_BYTES:
        raise PackageError(f"{path.name} is {size} bytes: over 1 MB (a dependency slipped into the function?)")
    with zipfile.ZipFile(path) as zf:
        shadowing = sorted({n.split("/")[0] for n in zf.namelist() if n.split("/")[0] in LAYER_PACKAGES})
    if shadowing:
        raise PackageError(f"{path.name} holds {shadowing}: it would shadow the layer")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tenant", required=True)
    parser.add_argument("--out", default=str(ROOT / "dist"), help="dist/<tenant>/ receives the stack")
    parser.add_argument("--cors-origins", help="comma-separated origins of the tenant's web pages")
    parser.add_argument("--jwt-public-key", help="PEM file: the mail platform's public key (RS256/ES256)")
    parser.add_argument("--jwt-algorithm", choices=["RS256", "ES256"])
    args = parser.parse_args()
    options = {"cors_origins": args.cors_origins, "jwt_algorithm": args.jwt_algorithm}
    if args.jwt_public_key:
        options["jwt_public_key"] = Path(args.jwt_public_key).read_text()
    try:
        out = package(args.tenant, Path(args.out), **options)
    except PackageError as e:
        sys.exit(f"package: {e}")
    rel = os.path.relpath(out)
    sizes = ", ".join(f"{p.name} {p.stat().st_size} bytes" for p in sorted(out.iterdir()))
    print(f"{rel}: {sizes}")
    print(f"Deploy: sam deploy --template-file {rel}/{TEMPLATE_NAME} --stack-name mfa-{args.tenant} "
          "--capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND --resolve-s3")


if __name__ == "__main__":
    main()
