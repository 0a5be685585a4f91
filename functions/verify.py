"""The logon's MFA step: POST /v1/logon (what next), /v1/logon/verify (check a code), /v1/logon/sms
(send a code to the secure phone), /v1/logon/skip (grace period)."""
from chalice import Blueprint, Response

from mfa_core import runtime
from mfa_core.errors import InvalidRequest

from .http import Call, bool_field, endpoint, label_field, string_field

bp = Blueprint(__name__)
LOGON = ("mfa:logon",)
METHODS = ("authenticator", "phone", "recovery_code")


@endpoint(bp, "/v1/logon", "POST", scopes=LOGON)
def logon(call: Call) -> dict:
    device_token = string_field(call.body, "device_token", required=False)
    return runtime.current().service.logon(call.caller, device_token, call.ctx)


@endpoint(bp, "/v1/logon/verify", "POST", scopes=LOGON)
def verify(call: Call) -> dict:
    method = call.body.get("method", "authenticator")
    if method not in METHODS:
        raise InvalidRequest(f"method must be one of: {', '.join(METHODS)}.")
    code = string_field(call.body, "code")
    trust_device = bool_field(call.body, "trust_device")
    device_label = label_field(call.body, "device_label", max_length=128)
    return runtime.current().service.verify(call.caller, method, code, call.ctx, trust_device=trust_device,
                                            device_label=device_label)


@endpoint(bp, "/v1/logon/sms", "POST", scopes=LOGON)
def send_logon_sms(call: Call) -> Response:
    sent = runtime.current().service.send_phone_code(call.caller, call.ctx, purpose="logon")
    return Response(body=sent, status_code=202)


@endpoint(bp, "/v1/logon/skip", "POST", scopes=LOGON)
def skip(call: Call) -> dict:
    return runtime.current().service.skip(call.caller, call.ctx)
