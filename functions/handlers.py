"""The deploy units: which blueprints each Lambda function serves.

Each group is one function of the tenant's stack (infra/package.py), with its own entry module in
functions/entry/, role, memory and reserved concurrency, so a flood of admin or enroll calls cannot
starve logons. `make run` and the tests serve every group at once from app.py."""

from __future__ import annotations

import importlib

from chalice import Chalice

from . import http

# group -> the functions/ modules whose blueprints it registers. The order is the whole app's: a path
# two groups share (POST /v1/phone in enroll, DELETE in delete) answers its preflight from the first.
GROUPS: dict[str, tuple[str, ...]] = {
    "enroll": ("enroll",),
    "confirm": ("confirm",),
    "verify": ("verify",),
    "delete": ("delete",),
    "policy": ("policy",),
    "settings": ("health", "settings", "gateway", "page"),
}


def chalice_app(*groups: str) -> Chalice:
    """A Chalice app with the blueprints of `groups` behind the one middleware; only their modules
    are imported (a smaller cold start for one group)."""
    app = Chalice(app_name="mfa")
    app.register_middleware(http.contract_errors, "http")
    for group in groups:
        for name in GROUPS[group]:
            app.register_blueprint(importlib.import_module(f"functions.{name}").bp)
    return app


def lambda_app(group: str) -> Chalice:
    """The app of one deployed function. Reads and validates the configuration first: a function
    without a token key stops at start-up."""
    from mfa_core.config import settings

    settings()
    return chalice_app(group)
