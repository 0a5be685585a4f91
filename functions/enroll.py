"""Attaching a factor starts: a new secret and its QR code (Attach Authenticator), read back while it waits
for its code, or an SMS code to the phone being attached."""

from chalice import Blueprint, Response

from mfa_core.auth import LOGON, SETTINGS
from mfa_core.usecases import authenticator, secure_phone

from .http import Call, endpoint, label_field, string_field

bp = Blueprint(__name__)
# A logon token may attach too: that is the logon's enroll step, for a user with no factor yet.
ATTACH = (SETTINGS, LOGON)


@endpoint(bp, "/v1/authenticator/enroll", "POST", scopes=ATTACH)
def enroll_authenticator(call: Call) -> dict:
    return authenticator.enroll(call.request, label_field(call.body, "name"))


@endpoint(bp, "/v1/authenticator/enrollment", "GET", scopes=ATTACH)
def pending_enrollment(call: Call) -> dict:
    return authenticator.pending_enrollment(call.request)


@endpoint(bp, "/v1/phone", "POST", scopes=ATTACH)
def add_phone(call: Call) -> Response:
    sent = secure_phone.add(call.request, string_field(call.body, "number", max_length=32))
    return Response(body=sent, status_code=202)
