"""POST /v1/recovery-codes: ten new recovery codes for a current authenticator code; the old ones die."""
from chalice import Blueprint

from mfa_core import runtime

from .http import Call, endpoint, string_field

bp = Blueprint(__name__)


@endpoint(bp, "/v1/recovery-codes", "POST", scopes=("mfa:settings",))
def renew(call: Call) -> dict:
    return runtime.current().service.renew_recovery_codes(call.caller, string_field(call.body, "code"), call.ctx)
