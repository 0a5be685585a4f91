"""The logon's MFA step: POST /v1/logon (what next), /v1/logon/verify (check a code), /v1/logon/skip."""

from chalice import Blueprint

from mfa_core import runtime
from mfa_core.errors import InvalidRequest

from .http import Call, bool_field, endpoint, string_field

bp = Blueprint(__name__)
LOGON = ("mfa:logon",)
METHODS = ("authenticator", "phone", "recovery_code")


@endpoint(bp, "/v1/logon", "POST", scopes=LOGON)
def logon(call: Call) -> dict:
    device_token = string_field(call.body, "device_token", required=False)
    return runtime.current().service.logon(call.caller, device_token, call.now)


@endpoint(bp, "/v1/logon/verify", "POST", scopes=LOGON)
def verify(call: Call) -> dict:
    method = call.body.get("method", "authenticator")
    if method not in METHODS:
        raise InvalidRequest(f"method must be one of: {', '.join(METHODS)}.")
    code = string_field(call.body, "code")
    bool_field(call.body, "trust_device")
    string_field(call.body, "device_label", required=False, max_length=128)
    return runtime.current().service.verify(call.caller, method, code, call.now)


@endpoint(bp, "/v1/logon/skip", "POST", scopes=LOGON)
def skip(call: Call) -> dict:
    return runtime.current().service.skip(call.caller, call.now)
