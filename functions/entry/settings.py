"""Lambda entry of the settings function: every other route (health and the public documents, factors,
devices, recovery codes, app passwords and their check, the web page)."""

from functions.handlers import lambda_app

app = lambda_app("settings")
