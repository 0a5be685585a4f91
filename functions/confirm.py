"""POST /v1/authenticator/confirm: the app's first code attaches the authenticator ("Attach Now")."""

from chalice import Blueprint

from mfa_core import runtime

from .enroll import ATTACH_SCOPES
from .http import Call, endpoint, string_field

bp = Blueprint(__name__)


@endpoint(bp, "/v1/authenticator/confirm", "POST", scopes=ATTACH_SCOPES)
def confirm(call: Call) -> dict:
    enrollment_id = string_field(call.body, "enrollment_id", max_length=64)
    code = string_field(call.body, "code")
    return runtime.current().service.confirm(call.caller, enrollment_id, code, call.ctx)
