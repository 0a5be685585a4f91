"""Lambda entry of the confirm function: the confirm of both factors."""

from functions.handlers import lambda_app

app = lambda_app("confirm")
