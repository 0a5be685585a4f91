"""DELETE /v1/authenticator: a current code (or a recovery code, phone lost) removes the authenticator."""

from chalice import Blueprint

from mfa_core import runtime
from mfa_core.errors import InvalidRequest

from .http import Call, endpoint, string_field

bp = Blueprint(__name__)


@endpoint(bp, "/v1/authenticator", "DELETE", scopes=("mfa:settings",))
def delete_authenticator(call: Call) -> dict:
    code = string_field(call.body, "code", required=False)
    recovery_code = string_field(call.body, "recovery_code", required=False)
    if (code is None) == (recovery_code is None):
        raise InvalidRequest("Send either code or recovery_code.")
    return runtime.current().service.delete_authenticator(call.caller, call.ctx, code=code, recovery_code=recovery_code)
