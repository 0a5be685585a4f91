"""GET /v1/factors: what the user has attached (Settings > Account and Security > Account Security)."""

from chalice import Blueprint

from mfa_core import runtime

from .http import Call, endpoint

bp = Blueprint(__name__)


@endpoint(bp, "/v1/factors", "GET", scopes=("mfa:settings",))
def factors(call: Call) -> dict:
    return runtime.current().service.factors(call.caller, call.ctx)
