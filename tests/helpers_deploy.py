"""The two tenant stacks (acme, globex) `make package` builds once per session for tests/test_deploy*.py."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
import yaml

from infra import package as pkg
from mfa_core.config import DEV_SECRET
from tests.conftest import ROOT


def _policy() -> dict:
    return json.loads((ROOT / "infra" / "iam-policy.json").read_text())


def _secret_in_moto(value: str = DEV_SECRET) -> str:
    return boto3.client("secretsmanager").create_secret(Name="mfa-jwt", SecretString=value)["ARN"]


@dataclass
class Built:
    acme: Path
    globex: Path

    def template(self, tenant: str = "acme") -> dict:
        return yaml.safe_load((getattr(self, tenant) / pkg.TEMPLATE_NAME).read_text())


# Packaged once per session (acme, then globex, sharing one layer build) into a temporary folder; the layer's
# wheels are cached under build/. The test modules load it with `pytest_plugins = ["tests.helpers_deploy"]`:
# a session fixture imported by name into several modules would be built once per module.
@pytest.fixture(scope="session")
def built(tmp_path_factory) -> Built:
    root = tmp_path_factory.mktemp("deploy")
    work = root / "work"
    layer = pkg.build_layer(work / pkg.LAYER_ZIP, work, ROOT / "build")
    out = root / "dist"
    acme = pkg.package("acme", out, work=work, layer=layer, cors_origins="https://mail.acme.example")
    globex = pkg.package("globex", out, work=work, layer=layer)
    return Built(acme, globex)
