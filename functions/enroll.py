"""POST /v1/authenticator/enroll: a new secret, its otpauth URI and QR code (Attach Authenticator)."""
from chalice import Blueprint

from mfa_core import runtime

from .http import Call, endpoint, label_field

bp = Blueprint(__name__)
ATTACH_SCOPES = ("mfa:settings", "mfa:logon")


@endpoint(bp, "/v1/authenticator/enroll", "POST", scopes=ATTACH_SCOPES)
def enroll(call: Call) -> dict:
    return runtime.current().service.enroll(call.caller, label_field(call.body, "name"), call.ctx)
