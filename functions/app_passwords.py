"""Third-party client security passwords: the user manages them; the IMAP/SMTP gateway checks them."""
from chalice import Blueprint

from mfa_core import runtime
from mfa_core.auth import normalize_user
from mfa_core.errors import InvalidRequest

from .http import Call, endpoint, label_field, string_field

bp = Blueprint(__name__)
SETTINGS = ("mfa:settings",)  # never a logon token: an app password skips MFA for good


@endpoint(bp, "/v1/app-passwords", "POST", scopes=SETTINGS, status=201)
def create(call: Call) -> dict:
    return runtime.current().service.create_app_password(call.caller, label_field(call.body, "label"), call.ctx)


@endpoint(bp, "/v1/app-passwords", "GET", scopes=SETTINGS)
def list_app_passwords(call: Call) -> list:
    return runtime.current().service.app_passwords(call.caller)


@endpoint(bp, "/v1/app-passwords/{password_id}", "DELETE", scopes=SETTINGS)
def revoke(call: Call, password_id: str) -> dict:
    return runtime.current().service.revoke_app_password(call.caller, password_id, call.ctx)


@endpoint(bp, "/v1/app-passwords/check", "POST", scopes=("mfa:gateway",))
def check(call: Call) -> dict:
    user = normalize_user(string_field(call.body, "user", max_length=254))
    password = string_field(call.body, "password", max_length=256)
    if user is None:
        raise InvalidRequest("user must be a mailbox address.")
    return runtime.current().service.check_app_password(call.caller, user, password, call.ctx)
