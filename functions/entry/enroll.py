"""Lambda entry of the enroll function: POST /v1/authenticator/enroll and POST /v1/phone."""

from functions.handlers import lambda_app

app = lambda_app("enroll")
