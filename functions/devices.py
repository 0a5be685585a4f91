"""Trusted devices ("Set as trusted device"): list them, revoke one, revoke all."""
from chalice import Blueprint

from mfa_core import runtime

from .http import Call, endpoint

bp = Blueprint(__name__)
SETTINGS = ("mfa:settings",)


@endpoint(bp, "/v1/devices", "GET", scopes=SETTINGS)
def list_devices(call: Call) -> list:
    return runtime.current().service.devices(call.caller, call.ctx)


@endpoint(bp, "/v1/devices", "DELETE", scopes=SETTINGS)
def revoke_all(call: Call) -> dict:
    return runtime.current().service.revoke_devices(call.caller, call.ctx)


@endpoint(bp, "/v1/devices/{device_id}", "DELETE", scopes=SETTINGS)
def revoke(call: Call, device_id: str) -> dict:
    return runtime.current().service.revoke_device(call.caller, device_id, call.ctx)
