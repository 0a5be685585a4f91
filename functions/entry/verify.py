"""Lambda entry of the verify function: the /v1/logon* routes."""

from functions.handlers import lambda_app

app = lambda_app("verify")
