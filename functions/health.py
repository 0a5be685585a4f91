"""GET /v1/health: liveness, without a token."""

from chalice import Blueprint

from .http import Call, endpoint

bp = Blueprint(__name__)


@endpoint(bp, "/v1/health", "GET")
def health(call: Call) -> dict:
    return {"status": "ok"}
