"""Deleting a factor: the authenticator by a current code (or a recovery code, phone lost); the secure
phone by an authenticator code or a code sent to it."""

from chalice import Blueprint, Response

from mfa_core.auth import SETTINGS
from mfa_core.errors import InvalidRequest
from mfa_core.usecases import authenticator, secure_phone

from .http import Call, endpoint, string_field

bp = Blueprint(__name__)


@endpoint(bp, "/v1/authenticator", "DELETE", scopes=(SETTINGS,))
def delete_authenticator(call: Call) -> dict:
    code = string_field(call.body, "code", required=False)
    recovery_code = string_field(call.body, "recovery_code", required=False)
    if (code is None) == (recovery_code is None):
        raise InvalidRequest("Send either code or recovery_code.")
    return authenticator.delete(call.request, code=code, recovery_code=recovery_code)


@endpoint(bp, "/v1/phone/code", "POST", scopes=(SETTINGS,))
def send_phone_delete_code(call: Call) -> Response:
    return Response(body=secure_phone.send_code(call.request, purpose="delete"), status_code=202)


@endpoint(bp, "/v1/phone", "DELETE", scopes=(SETTINGS,))
def delete_phone(call: Call) -> dict:
    return secure_phone.delete(call.request, string_field(call.body, "code"))
