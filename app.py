"""The whole service as one Chalice app, for `make run`, the tests and `chalice package` (which reads the
routes from it); each deployed function serves one group of it (functions/handlers.py)."""

from functions.handlers import GROUPS, chalice_app
from mfa_core.config import settings as read_settings

# Read and validate the configuration now: a deployment without a token key stops at start-up.
SETTINGS = read_settings()

app = chalice_app(*GROUPS)
if SETTINGS.dev_mode:
    from functions import dev

    app.register_blueprint(dev.bp)
