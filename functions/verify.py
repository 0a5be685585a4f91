"""The logon's MFA step: POST /v1/logon (what next), /v1/logon/verify (check a code), /v1/logon/sms
(send a code to the secure phone), /v1/logon/skip (grace period)."""

from chalice import Blueprint, Response

from mfa_core.auth import LOGON
from mfa_core.errors import InvalidRequest
from mfa_core.usecases import logon, secure_phone
from mfa_core.usecases.provers import AT_LOGON

from .http import Call, bool_field, endpoint, label_field, string_field

bp = Blueprint(__name__)


@endpoint(bp, "/v1/logon", "POST", scopes=(LOGON,))
def decide(call: Call) -> dict:
    return logon.decide(call.request, string_field(call.body, "device_token", required=False))


@endpoint(bp, "/v1/logon/verify", "POST", scopes=(LOGON,))
def verify(call: Call) -> dict:
    method = call.body.get("method", "authenticator")
    if not isinstance(method, str) or method not in AT_LOGON:
        raise InvalidRequest(f"method must be one of: {', '.join(AT_LOGON)}.")
    code = string_field(call.body, "code")
    trust_device = bool_field(call.body, "trust_device")
    device_label = label_field(call.body, "device_label", max_length=128)
    return logon.verify(call.request, method, code, trust_device=trust_device, device_label=device_label)


@endpoint(bp, "/v1/logon/sms", "POST", scopes=(LOGON,))
def send_logon_sms(call: Call) -> Response:
    return Response(body=secure_phone.send_code(call.request, purpose="logon"), status_code=202)


@endpoint(bp, "/v1/logon/skip", "POST", scopes=(LOGON,))
def skip(call: Call) -> dict:
    return logon.skip(call.request)
