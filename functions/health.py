"""GET /v1/health (liveness) and GET /v1/openapi.json (the contract as OpenAPI 3), without a token."""

import functools
from pathlib import Path

from chalice import Blueprint

from .http import Call, endpoint

bp = Blueprint(__name__)
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
