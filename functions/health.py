"""The service's public documents, without a token: GET /v1/health (liveness), /v1/openapi.json (the contract
as OpenAPI 3) and /v1/jwks.json (the public keys that verify mfa_tokens)."""

import functools
from pathlib import Path

from chalice import Blueprint, Response

from mfa_core import runtime

from .http import Call, endpoint

bp = Blueprint(__name__)
# The mail logon service may cache the keys as long as a key is announced before it signs (signing.py).
JWKS_CACHE_CONTROL = "public, max-age=300"
# openapi.yaml sits next to app.py both in the repository and in the Lambda package (vendor/ symlink).
OPENAPI = Path(__file__).resolve().parent.parent / "openapi.yaml"


@endpoint(bp, "/v1/health", "GET")
def health(call: Call) -> dict:
    return {"status": "ok"}


@functools.cache
def _openapi() -> dict:
    import yaml  # only this route reads YAML: keep it off every other request's import path

    return yaml.safe_load(OPENAPI.read_text())


@endpoint(bp, "/v1/openapi.json", "GET")
def openapi(call: Call) -> dict:
    return _openapi()


@endpoint(bp, "/v1/jwks.json", "GET")
def jwks(call: Call) -> Response:
    return Response(body=runtime.current().keyring().jwks(), status_code=200,
                    headers={"Cache-Control": JWKS_CACHE_CONTROL})
