"""POST /v1/app-passwords/check: the IMAP/SMTP gateway asks whether a mail client's password is valid."""

from chalice import Blueprint

from mfa_core.auth import GATEWAY, normalize_user
from mfa_core.errors import InvalidRequest
from mfa_core.usecases import app_passwords

from .http import Call, endpoint, string_field

bp = Blueprint(__name__)


@endpoint(bp, "/v1/app-passwords/check", "POST", scopes=(GATEWAY,))
def check_app_password(call: Call) -> dict:
    user = normalize_user(string_field(call.body, "user", max_length=254))
    password = string_field(call.body, "password", max_length=256)
    if user is None:
        raise InvalidRequest("user must be a mailbox address.")
    return app_passwords.check(call.request, user, password)
