"""The service's public documents, without a token: GET /v1/health (liveness), /v1/openapi.json (the contract
as OpenAPI 3) and /v1/jwks.json (the public keys that verify mfa_tokens)."""

import functools
import json
from pathlib import Path

from chalice import Blueprint, Response

from mfa_core import runtime

from .http import Call, endpoint

bp = Blueprint(__name__)
# The mail logon service may cache the keys as long as a key is announced before it signs (signing.py).
JWKS_CACHE_CONTROL = "public, max-age=300"
# At the Lambda package's root, beside functions/, packaging writes the contract as JSON
# (infra/openapi_json.py); the repository has only openapi.yaml there.
OPENAPI_JSON = Path(__file__).resolve().parent.parent / "openapi.json"


@endpoint(bp, "/v1/health", "GET")
def health(call: Call) -> dict:
    return {"status": "ok"}


@functools.cache
def _openapi() -> dict:
    if OPENAPI_JSON.is_file():
        return json.loads(OPENAPI_JSON.read_bytes())
    from infra.openapi_json import document  # development only: neither infra/ nor PyYAML is deployed

    return document()


@endpoint(bp, "/v1/openapi.json", "GET")
def openapi(call: Call) -> dict:
    return _openapi()


@endpoint(bp, "/v1/jwks.json", "GET")
def jwks(call: Call) -> Response:
    return Response(body=runtime.current().keyring().jwks(), status_code=200,
                    headers={"Cache-Control": JWKS_CACHE_CONTROL})
