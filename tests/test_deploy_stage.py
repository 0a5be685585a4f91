"""The tenant's stage in the Chalice config (infra/package.py): updated again, hand-tuned values, refused input."""

from __future__ import annotations

import json

import pytest

from infra import package as pkg


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
