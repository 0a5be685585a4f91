"""What the token tests share: hand-made and RSA-signed tokens, a valid payload, and restarted settings."""

import base64
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mfa_core import runtime

FACTORS = "/v1/factors"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_made(header: dict, payload: dict, signature: bytes = b"") -> str:
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}"
    return f"{signing_input}.{b64url(signature)}"


def rsa_key_pair() -> tuple[str, str]:
    """(private PEM, public PEM) of a fresh 2048-bit RSA key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def claims(api, **changes) -> dict:
    """A valid caller payload at the service's clock; a change to None drops that claim."""
    now = int(api.clock.now)
    payload = {
        "sub": "alice@example.com",
        "tenant": "demo",
        "scope": "mfa:settings",
        "aud": "mfa",
        "iat": now,
        "exp": now + 600,
    }
    payload.update(changes)
    return {k: v for k, v in payload.items() if v is not None}


def get_factors(api, token):
    return api.call("GET", FACTORS, token=token)


def assert_unauthorized(response):
    assert response.status_code == 401, (response.status_code, response.json)
    assert response.json["error"] == "unauthorized"


def reload_settings(api, monkeypatch, **env):
    """Restart the container's settings with `env` (as a new deployment would read them)."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    runtime.reset()
    runtime.current().clock = api.clock


@pytest.fixture
def fresh_settings_after():
    yield
    runtime.reset()
