"""Attaching a factor ends: the app's first code ("Attach Now"), or the code sent to the new phone."""

from chalice import Blueprint

from mfa_core.usecases import authenticator, secure_phone

from .enroll import ATTACH
from .http import Call, endpoint, string_field

bp = Blueprint(__name__)


@endpoint(bp, "/v1/authenticator/confirm", "POST", scopes=ATTACH)
def confirm_authenticator(call: Call) -> dict:
    enrollment_id = string_field(call.body, "enrollment_id", max_length=64)
    return authenticator.confirm(call.request, enrollment_id, string_field(call.body, "code"))


@endpoint(bp, "/v1/phone/confirm", "POST", scopes=ATTACH)
def confirm_phone(call: Call) -> dict:
    return secure_phone.confirm(call.request, string_field(call.body, "code"))
