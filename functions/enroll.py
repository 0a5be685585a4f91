"""POST /v1/authenticator/enroll: a new secret, its otpauth URI and QR code (Attach Authenticator)."""

from chalice import Blueprint

from mfa_core import runtime
from mfa_core.errors import InvalidRequest

from .http import Call, endpoint, string_field

bp = Blueprint(__name__)
ATTACH_SCOPES = ("mfa:settings", "mfa:logon")


@endpoint(bp, "/v1/authenticator/enroll", "POST", scopes=ATTACH_SCOPES)
def enroll(call: Call) -> dict:
    name = string_field(call.body, "name", required=False)
    if name is not None and (not 1 <= len(name.strip()) <= 64 or not name.isprintable()):
        raise InvalidRequest("name must be 1-64 printable characters.")
    return runtime.current().service.enroll(call.caller, name.strip() if name else None, call.now)
