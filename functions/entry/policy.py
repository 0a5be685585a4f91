"""Lambda entry of the policy function: the policy and the admin routes."""

from functions.handlers import lambda_app

app = lambda_app("policy")
