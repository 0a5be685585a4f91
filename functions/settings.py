"""The user's Account Security settings besides attaching and deleting: what is attached, trusted devices,
recovery codes, and third-party client security passwords. Never with a logon token: these outlast
the logon (an app password skips two-factor for good)."""

from chalice import Blueprint

from mfa_core.auth import SETTINGS
from mfa_core.usecases import app_passwords, authenticator, devices, factors

from .http import Call, endpoint, label_field, string_field

bp = Blueprint(__name__)


@endpoint(bp, "/v1/factors", "GET", scopes=(SETTINGS,))
def list_factors(call: Call) -> dict:
    return factors.listed(call.request)


@endpoint(bp, "/v1/devices", "GET", scopes=(SETTINGS,))
def list_devices(call: Call) -> list:
    return devices.listed(call.request)


@endpoint(bp, "/v1/devices", "DELETE", scopes=(SETTINGS,))
def revoke_all_devices(call: Call) -> dict:
    return devices.revoke_all(call.request)


@endpoint(bp, "/v1/devices/{device_id}", "DELETE", scopes=(SETTINGS,))
def revoke_device(call: Call, device_id: str) -> dict:
    return devices.revoke(call.request, device_id)


@endpoint(bp, "/v1/recovery-codes", "POST", scopes=(SETTINGS,))
def renew_recovery_codes(call: Call) -> dict:
    return authenticator.renew_recovery_codes(call.request, string_field(call.body, "code"))


@endpoint(bp, "/v1/app-passwords", "POST", scopes=(SETTINGS,), status=201)
def create_app_password(call: Call) -> dict:
    return app_passwords.create(call.request, label_field(call.body, "label"))


@endpoint(bp, "/v1/app-passwords", "GET", scopes=(SETTINGS,))
def list_app_passwords(call: Call) -> list:
    return app_passwords.listed(call.request)


@endpoint(bp, "/v1/app-passwords/{password_id}", "DELETE", scopes=(SETTINGS,))
def revoke_app_password(call: Call, password_id: str) -> dict:
    return app_passwords.revoke(call.request, password_id)
