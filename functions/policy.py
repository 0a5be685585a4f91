"""GET and PUT /v1/policy: the tenant's two-factor policy (mailbox administrator)."""

from chalice import Blueprint

from mfa_core import runtime

from .http import Call, endpoint

bp = Blueprint(__name__)
ADMIN = ("mfa:admin",)


@endpoint(bp, "/v1/policy", "GET", scopes=ADMIN)
def get_policy(call: Call) -> dict:
    return runtime.current().service.policy(call.caller.tenant, fresh=True).to_dict()


@endpoint(bp, "/v1/policy", "PUT", scopes=ADMIN)
def put_policy(call: Call) -> dict:
    return runtime.current().service.save_policy(call.caller, call.body, call.ctx).to_dict()
