"""The packaged stacks under three linters nobody here wrote (cfn-lint, `sam validate --lint`, checkov), and each
deploy command of the README's "Deploy" checked as far as it goes offline: the template against the size limit
of the way the command sends it, the parameters, the capabilities, SAM's options."""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from infra.processes import free_port
from tests.conftest import ROOT

pytest_plugins = ["tests.helpers_deploy"]  # the `built` stacks

# aws-sam-cli and checkov each pin boto3 exactly (1.43.108 and 1.35.49), neither ours: each has a venv of its own,
# made by `make test` from requirements-sam.txt and requirements-checkov.txt (Makefile, LINT_VENVS).
SAM = ROOT / ".venv-sam" / "bin" / "sam"
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
CFN_LINT = Path(sys.executable).parent / "cfn-lint"
# CloudFormation's limits on a template (its quotas page): sent in the request, or read from S3 (1 MB).
INLINE_LIMIT = 51_200
S3_LIMIT = 1_000_000
DEPLOYS = (("sam", "deploy"), ("aws", "cloudformation", "deploy"))
PACKAGES = (("aws", "cloudformation", "package"),)


# --- the README's commands --------------------------------------------------------------------------------


def deploy_section() -> str:
    text = (ROOT / "README.md").read_text()
    return text[text.index("\n## Deploy\n") :].split("\n## ", 2)[1]


def shell_commands(section: str) -> list[list[str]]:
    """Each command of the section's ```sh blocks, as words: continuation lines joined, comments dropped."""
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", section, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                commands.append(line.strip())
    return [shlex.split(c, comments=True) for c in commands if c.startswith(("make package", "sam ", "aws "))]


def options(words: list[str], command_length: int) -> dict[str, list[str]]:
    """`--name value...` -> {"--name": [values]} (a flag without a value gets [])."""
    found: dict[str, list[str]] = {}
    current = None
    for word in words[command_length:]:
        if word.startswith("--"):
            current = found.setdefault(word, [])
        elif current is not None:
            current.append(word)
    return found


def make_variables(words: list[str]) -> dict[str, str]:
    return dict(w.split("=", 1) for w in words[2:] if "=" in w)


COMMANDS = shell_commands(deploy_section())
DEPLOY_COMMANDS = [c for c in COMMANDS if tuple(c[:3]) in DEPLOYS or tuple(c[:2]) in DEPLOYS]


def _kind(words: list[str]) -> tuple[str, ...]:
    return next(k for k in DEPLOYS + PACKAGES if tuple(words[: len(k)]) == k)


def _id(words: list[str]) -> str:
    return " ".join(_kind(words)) + " " + options(words, len(_kind(words)))["--template-file"][0]


def test_the_readme_documents_both_deploy_paths():
    assert {_kind(c) for c in DEPLOY_COMMANDS} == set(DEPLOYS)
    assert [c for c in COMMANDS if c[:2] == ["make", "package"]], "no `make package` before the deploys"


# --- what each command deploys ----------------------------------------------------------------------------


def emulated_package(template: Path, bucket: str, out: Path) -> Path:
    """What `aws cloudformation package` writes, offline: each local CodeUri/ContentUri uploaded as
    s3://bucket/<md5 of the file> (the CLI's key), the rest as it was."""
    document = yaml.safe_load(template.read_text())
    for resource in document["Resources"].values():
        for key in ("CodeUri", "ContentUri"):
            local = resource.get("Properties", {}).get(key)
            if isinstance(local, str) and not local.startswith("s3://"):
                digest = hashlib.md5((template.parent / local).read_bytes()).hexdigest()  # noqa: S324 (a key)
                resource["Properties"][key] = f"s3://{bucket}/{digest}"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(document, sort_keys=False, width=1000))
    return out


@pytest.fixture(scope="module")
def deployed(built, tmp_path_factory) -> dict[str, Path]:
    """README path of each template a deploy command names -> that template, from the `built` stacks, or from
    the README's own `aws cloudformation package` of one of them."""
    root = tmp_path_factory.mktemp("packaged")

    def local(path: str) -> Path:
        _, tenant, name = Path(path).parts  # dist/<tenant>/<file>
        return getattr(built, tenant).parent / tenant / name

    templates = {}
    for words in COMMANDS:
        if tuple(words[:3]) in PACKAGES:
            given = options(words, 3)
            source = given["--template-file"][0]
            target = given["--output-template-file"][0]
            templates[target] = emulated_package(local(source), given["--s3-bucket"][0], root / target)
    for words in DEPLOY_COMMANDS:
        path = options(words, len(_kind(words)))["--template-file"][0]
        templates.setdefault(path, local(path))
        assert templates[path].exists(), f"{path}: nothing in the README makes it"
    return templates


def _tenant_of(path: str) -> str:
    return Path(path).parts[1]


@pytest.mark.parametrize("words", DEPLOY_COMMANDS, ids=_id)
def test_each_deploy_command_sends_its_template_within_cloudformation_limit(words, deployed):
    given = options(words, len(_kind(words)))
    through_s3 = "--s3-bucket" in given or "--resolve-s3" in given  # the CLIs upload the template too, then
    limit = S3_LIMIT if through_s3 else INLINE_LIMIT
    size = deployed[given["--template-file"][0]].stat().st_size
    assert size <= limit, f"{size} bytes, over the {limit} bytes CloudFormation takes this way: say --s3-bucket"


@pytest.mark.parametrize("words", DEPLOY_COMMANDS, ids=_id)
def test_each_deploy_command_passes_declared_valid_parameters_and_every_required_one(words, deployed):
    given = options(words, len(_kind(words)))
    template = yaml.safe_load(deployed[given["--template-file"][0]].read_text())
    declared = template["Parameters"]
    passed = dict(pair.split("=", 1) for pair in given.get("--parameter-overrides", []))
    assert not set(passed) - set(declared), "passed but not declared"
    assert not {name for name, p in declared.items() if "Default" not in p} - set(passed), "required, not passed"
    for name, value in passed.items():
        rules = declared[name]
        if "AllowedPattern" in rules:
            assert re.fullmatch(rules["AllowedPattern"], value), (name, value)
        if "AllowedValues" in rules:
            assert value in map(str, rules["AllowedValues"]), (name, value)
        if rules["Type"] == "Number":
            assert float(value) >= rules.get("MinValue", float("-inf")), (name, value)


@pytest.mark.parametrize("words", DEPLOY_COMMANDS, ids=_id)
def test_each_deploy_command_grants_the_capabilities_its_template_needs(words, deployed):
    given = options(words, len(_kind(words)))
    template = yaml.safe_load(deployed[given["--template-file"][0]].read_text())
    roles = [r for r in template["Resources"].values() if r["Type"] == "AWS::IAM::Role"]
    needed = {"CAPABILITY_AUTO_EXPAND"} if template.get("Transform") else set()
    if roles:
        needed.add("CAPABILITY_NAMED_IAM" if any("RoleName" in r["Properties"] for r in roles) else "CAPABILITY_IAM")
    assert needed <= set(given.get("--capabilities", []))


@pytest.mark.parametrize("words", DEPLOY_COMMANDS, ids=_id)
def test_each_deploy_command_gives_the_gateway_the_origins_its_functions_were_packaged_with(words, deployed):
    """CorsOrigins (API Gateway's own answers) and MFA_CORS_ORIGINS (the functions') are the README's one CORS=."""
    given = options(words, len(_kind(words)))
    path = given["--template-file"][0]
    packaged = [make_variables(c) for c in COMMANDS if c[:2] == ["make", "package"]]
    cors = next(v.get("CORS", "") for v in packaged if v["TENANT"] == _tenant_of(path))
    passed = dict(pair.split("=", 1) for pair in given.get("--parameter-overrides", []))
    assert passed.get("CorsOrigins", "") == cors
    functions = [r for r in yaml.safe_load(deployed[path].read_text())["Resources"].values()
                 if r["Type"] == "AWS::Serverless::Function"]
    assert functions and {f["Properties"]["Environment"]["Variables"].get("MFA_CORS_ORIGINS", "")
                          for f in functions} == {cors}, "the README packages another CORS= than the tests' stack"


# --- the linters ------------------------------------------------------------------------------------------


def offline_env(home: Path) -> dict[str, str]:
    """Dummy credentials and a region, and every proxy a closed loopback port: a tool reaching for the network
    fails instead of passing on what it downloaded."""
    closed = f"http://127.0.0.1:{free_port()}"
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "SAM_CLI_TELEMETRY": "0",
        "HTTP_PROXY": closed,
        "HTTPS_PROXY": closed,
        "NO_PROXY": "",
    }


def _tool(path: Path) -> str:
    if not path.exists():
        pytest.fail(f"{path.relative_to(ROOT)} is missing: `make test` installs it (Makefile, LINT_VENVS)")
    return str(path)


@pytest.fixture(scope="module")
def linted(built, deployed, tmp_path_factory) -> dict[str, subprocess.CompletedProcess]:
    """The slow tools, started together and awaited once: `sam validate --lint` on each template a command
    deploys, `sam deploy --help`, and checkov on acme's stack."""
    env = offline_env(tmp_path_factory.mktemp("home"))
    runs = {f"sam validate {path}": [_tool(SAM), "validate", "--lint", "--template-file", str(template)]
            for path, template in deployed.items()}
    runs["sam deploy --help"] = [_tool(SAM), "deploy", "--help"]
    runs["checkov"] = [_tool(CHECKOV), "--skip-download", "--framework", "cloudformation", "--output", "json",
                       "--file", str(built.acme / "sam.yaml")]
    started = {name: subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for name, argv in runs.items()}
    finished = {}
    for name, process in started.items():
        out, err = process.communicate(timeout=600)
        finished[name] = subprocess.CompletedProcess(runs[name], process.returncode, out, err)
    return finished


def test_cfn_lint_finds_nothing_on_either_stack_informational_rules_included(built):
    templates = [str(built.acme / "sam.yaml"), str(built.globex / "sam.yaml")]
    result = subprocess.run([str(CFN_LINT), "--include-checks", "I", "--", *templates], capture_output=True, text=True)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_sam_validate_lint_passes_on_each_template_a_documented_command_deploys(linted, deployed):
    for path in deployed:
        result = linted[f"sam validate {path}"]
        assert result.returncode == 0, result.stdout + result.stderr
        assert "is a valid SAM Template" in result.stdout, result.stdout


@pytest.mark.parametrize("words", [c for c in DEPLOY_COMMANDS if c[0] == "sam"], ids=_id)
def test_each_sam_command_uses_options_sam_has(words, linted):
    help_text = linted["sam deploy --help"].stdout
    assert linted["sam deploy --help"].returncode == 0
    for option in options(words, len(_kind(words))):
        assert re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", help_text), option


def test_checkov_fails_nothing_and_every_skip_says_why_on_its_resource(linted, built):
    result = linted["checkov"]
    report = json.loads(result.stdout)
    summary = report["summary"]
    resources = yaml.safe_load((built.acme / "sam.yaml").read_text())["Resources"]
    assert summary["parsing_errors"] == 0 and summary["resource_count"] == len(resources), summary
    failed = [(c["check_id"], c["resource"], c["check_name"]) for c in report["results"]["failed_checks"]]
    assert failed == [] and result.returncode == 0, failed
    for check in report["results"]["skipped_checks"]:
        assert check["check_result"].get("suppress_comment", "").strip(), check["check_id"]
    assert summary["passed"] > 0
