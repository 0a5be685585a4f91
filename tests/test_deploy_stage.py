"""The tenant's stage (infra/package.py): made from the run's arguments alone, refused input, the public key."""

from __future__ import annotations

import json

import pytest

from infra import package as pkg
from tests.conftest import ROOT


def test_a_stage_is_made_only_from_what_that_packaging_run_was_given():
    acme = pkg.tenant_stage("acme", cors_origins="https://b.example, https://c.example:8443")
    assert acme["environment_variables"]["MFA_CORS_ORIGINS"] == "https://b.example,https://c.example:8443"
    # Packaged again without CORS=, nothing of the earlier run (or of any other stage) comes back.
    again = pkg.tenant_stage("acme")
    assert "MFA_CORS_ORIGINS" not in again["environment_variables"]
    assert again["environment_variables"]["MFA_TENANT"] == "acme"
    assert not {"MFA_JWT_SECRET", "MFA_DEV_MODE"} & set(again["environment_variables"])


def test_the_repository_config_holds_the_local_stage_only():
    """A tenant stage kept in .chalice/config.json would lend its CORS origins to every later package."""
    stages = json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"]
    assert set(stages) == {"dev"}


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
