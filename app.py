"""The Chalice app: registers the blueprints and the error mapping, nothing else."""

from chalice import Chalice

from functions import (
    admin,
    app_passwords,
    confirm,
    delete,
    devices,
    enroll,
    factors,
    health,
    http,
    page,
    phone,
    policy,
    recovery,
    verify,
)
from mfa_core.config import settings

# Read and validate the configuration now: a deployment without a token key stops at start-up.
SETTINGS = settings()

app = Chalice(app_name="mfa")
app.register_middleware(http.contract_errors, "http")
for handler in (health, policy, enroll, confirm, verify, delete, factors, phone, devices, recovery, app_passwords,
                admin, page):
    app.register_blueprint(handler.bp)
if SETTINGS.dev_mode:
    from functions import dev

    app.register_blueprint(dev.bp)
