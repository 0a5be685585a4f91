"""The Chalice app: registers the blueprints and the error mapping, nothing else."""

from chalice import Chalice

from functions import confirm, delete, enroll, gateway, health, http, page, policy, settings, verify
from mfa_core.config import settings as read_settings

# Read and validate the configuration now: a deployment without a token key stops at start-up.
SETTINGS = read_settings()

app = Chalice(app_name="mfa")
app.register_middleware(http.contract_errors, "http")
for handler in (health, enroll, confirm, verify, delete, settings, gateway, policy, page):
    app.register_blueprint(handler.bp)
if SETTINGS.dev_mode:
    from functions import dev

    app.register_blueprint(dev.bp)
