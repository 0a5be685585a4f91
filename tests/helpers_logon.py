"""What the logon tests share: the policy, a logon, a verify, the mfa_token's amr, the SMS sent, a phone."""

import re

from moto.sns.models import sns_backends

from tests.conftest import mfa_claims

LOGON = "mfa:logon"
NUMBER = "+8613800001234"


def policy(api, **fields):
    r = api.as_user("PUT", "/v1/policy", {"two_factor": "on", **fields}, user="admin@example.com", scope="mfa:admin")
    assert r.status_code == 200, r.json
    return r.json


def logon(api, device_token=None, user="alice@example.com", tenant="demo"):
    body = {} if device_token is None else {"device_token": device_token}
    return api.as_user("POST", "/v1/logon", body, user=user, tenant=tenant, scope=LOGON)


def verify(api, code, user="alice@example.com", **extra):
    return api.as_user("POST", "/v1/logon/verify", {"code": code, **extra}, user=user, scope=LOGON)


def amr(token):
    return mfa_claims(token)["amr"]


def last_sms(number=NUMBER):
    sent = [text for to, text in sns_backends["123456789012"]["us-east-1"].sms_messages.values() if to == number]
    assert sent, "no SMS was sent"
    return re.search(r"\b(\d{6})\b", sent[-1]).group(1), len(sent)


def attach_phone(api, user="alice@example.com", scope="mfa:settings", number=NUMBER):
    r = api.as_user("POST", "/v1/phone", {"number": number}, user=user, scope=scope)
    assert r.status_code == 202, r.json
    code, _ = last_sms(number)
    r = api.as_user("POST", "/v1/phone/confirm", {"code": code}, user=user, scope=scope)
    assert r.status_code == 200, r.json
    api.clock.advance(31)  # past the one-SMS-per-30-s limit
    return r.json
