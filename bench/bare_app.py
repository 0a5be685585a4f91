"""The yardstick of bench/coldstart.py: what any Chalice function on Lambda pays whatever it does. One route
at the verify's path whose view makes a DynamoDB client and reads one item, imported and invoked exactly as
functions/entry/verify.py is; what ours takes beyond it is our own share of the cold start."""

import os

import boto3
from chalice import Chalice

app = Chalice(app_name="bare")


@app.route("/v1/logon/verify", methods=["POST"], content_types=["*/*"])
def verify() -> dict:
    item = boto3.client("dynamodb").get_item(
        TableName=os.environ["MFA_TABLE"], Key={"PK": {"S": "bare"}, "SK": {"S": "bare"}}
    )
    return {"found": "Item" in item}
