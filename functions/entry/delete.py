"""Lambda entry of the delete function: deleting either factor (and the SMS code that allows it)."""

from functions.handlers import lambda_app

app = lambda_app("delete")
