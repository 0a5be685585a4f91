"""The logon result's keys: the deployment's P-256 keys. The current one signs each mfa_token (ES256, its
`kid` in the header); every key in the ring is published in GET /v1/jwks.json, so the mail logon service
verifies with public keys only and no secret is shared.

A rotation without a 401 goes through three states of one secret (README, "Rotating the signing key"):
{"current": A, "next": B} publishes B before anything is signed with it, {"current": B, "previous": A}
signs with B while A's tokens still verify, {"current": B} ends it. Containers read the secret again
every REFRESH_SECONDS, so each state reaches every container within that time."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import NamedTuple

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from .config import ConfigError

ALGORITHM = "ES256"
REFRESH_SECONDS = 300
STAGES = ("current", "previous", "next")


class SigningKey(NamedTuple):
    private: ec.EllipticCurvePrivateKey

    @property
    def public_jwk(self) -> dict:
        jwk = ECAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        return {"kty": jwk["kty"], "crv": jwk["crv"], "x": jwk["x"], "y": jwk["y"]}

    @property
    def kid(self) -> str:
        """RFC 7638's thumbprint: the same key has the same id in every container, with nothing stored."""
        canonical = json.dumps(self.public_jwk, sort_keys=True, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()

    def pem(self) -> str:
        return self.private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()


class KeyRing(NamedTuple):
    current: SigningKey
    others: tuple[SigningKey, ...] = ()  # the previous and the next key: published, never signing

    def sign(self, claims: dict) -> str:
        return jwt.encode(claims, self.current.private, algorithm=ALGORITHM, headers={"kid": self.current.kid})

    def jwks(self) -> dict:
        keys = (self.current, *self.others)
        return {"keys": [{**k.public_jwk, "kid": k.kid, "alg": ALGORITHM, "use": "sig"} for k in keys]}


def new_key() -> SigningKey:
    return SigningKey(ec.generate_private_key(ec.SECP256R1()))


def from_secret(value: str) -> KeyRing:
    """The ring a signing-key secret holds. ConfigError (a 503 with a clear log line) for anything else."""
    stages = stages_of(value)
    return KeyRing(stages["current"], tuple(stages[s] for s in STAGES[1:] if s in stages))


def stages_of(value: str) -> dict[str, SigningKey]:
    """The keys of a secret's JSON {"current": PEM, "previous": PEM, "next": PEM}, the last two optional."""
    try:
        stages = json.loads(value)
    except ValueError as e:
        raise ConfigError("the signing-key secret is not JSON: store `python -m infra.signing_key new`") from e
    if not isinstance(stages, dict) or not isinstance(stages.get("current"), str) or set(stages) - set(STAGES):
        raise ConfigError('the signing-key secret must be {"current": PEM, "previous": PEM, "next": PEM}')
    return {stage: _private_key(pem, stage) for stage, pem in stages.items() if pem}


def to_secret(current: SigningKey, *, previous: SigningKey | None = None, after: SigningKey | None = None) -> str:
    stages = {"current": current, "previous": previous, "next": after}
    return json.dumps({stage: key.pem() for stage, key in stages.items() if key is not None})


def _private_key(pem: object, stage: str) -> SigningKey:
    try:
        key = serialization.load_pem_private_key(str(pem).encode(), password=None)
    except (ValueError, TypeError) as e:
        raise ConfigError(f"the signing-key secret's {stage} key is not a PEM private key") from e
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ConfigError(f"the signing-key secret's {stage} key is not a P-256 key")
    return SigningKey(key)
