"""The secure phone (SMS): attach it with a code, send a code to it, delete it with a code."""
from chalice import Blueprint, Response

from mfa_core import runtime

from .enroll import ATTACH_SCOPES
from .http import Call, endpoint, string_field

bp = Blueprint(__name__)


@endpoint(bp, "/v1/phone", "POST", scopes=ATTACH_SCOPES)
def add_phone(call: Call) -> Response:
    number = string_field(call.body, "number", max_length=32)
    return Response(body=runtime.current().service.add_phone(call.caller, number, call.ctx), status_code=202)


@endpoint(bp, "/v1/phone/confirm", "POST", scopes=ATTACH_SCOPES)
def confirm_phone(call: Call) -> dict:
    return runtime.current().service.confirm_phone(call.caller, string_field(call.body, "code"), call.ctx)


@endpoint(bp, "/v1/phone/code", "POST", scopes=("mfa:settings",))
def send_delete_code(call: Call) -> Response:
    sent = runtime.current().service.send_phone_code(call.caller, call.ctx, purpose="delete")
    return Response(body=sent, status_code=202)


@endpoint(bp, "/v1/phone", "DELETE", scopes=("mfa:settings",))
def delete_phone(call: Call) -> dict:
    return runtime.current().service.delete_phone(call.caller, string_field(call.body, "code"), call.ctx)
