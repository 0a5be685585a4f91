"""What the admin, audit-trail and notification tests share: admin calls, a locked user, a phone, the events."""

import re
from urllib.parse import urlencode

from moto.sns.models import sns_backends

from tests.conftest import code_for

ALICE = "alice@example.com"
ALICE_PATH = "alice%40example.com"
ADMIN = "admin@example.com"
LOGON = "mfa:logon"
PHONE = "+8613800001234"


def as_admin(api, method, path, body=None, *, tenant="demo"):
    return api.as_user(method, path, body, user=ADMIN, scope="mfa:admin", tenant=tenant)


def set_policy(api, **policy):
    r = as_admin(api, "PUT", "/v1/policy", policy)
    assert r.status_code == 200, r.json


def lockout_policy(api, max_failures=3, lock_seconds=900):
    set_policy(api, two_factor="on", lockout={"max_failures": max_failures, "lock_seconds": lock_seconds})


def verify(api, code, **extra):
    return api.as_user("POST", "/v1/logon/verify", {"code": code, **extra}, scope=LOGON)


def wrong_code(uri, now):
    good = {code_for(uri, now, offset_steps=k) for k in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in good)


def lock(api, uri, failures=3):
    answers = [verify(api, wrong_code(uri, api.clock.now)) for _ in range(failures)]
    assert [a.json.get("attempts_left") for a in answers][-1] == 0, [a.json for a in answers]
    r = verify(api, code_for(uri, api.clock.now))
    assert r.status_code == 429 and r.json["error"] == "locked"  # locked now, even for a right code


def events_page(api, user=ALICE, *, tenant="demo", **params):
    return as_admin(api, "GET", "/v1/admin/events?" + urlencode({"user": user, **params}), tenant=tenant)


def events_of(api, user=ALICE, *, tenant="demo"):
    r = events_page(api, user, tenant=tenant, limit=100)
    assert r.status_code == 200, r.json
    return r.json


def names(events):
    return [e["event"] for e in events]


def attach_phone(api):
    r = api.as_user("POST", "/v1/phone", {"number": PHONE})
    assert r.status_code == 202, r.json
    number, text = list(sns_backends["123456789012"]["us-east-1"].sms_messages.values())[-1]
    assert number == PHONE
    code = re.search(r"\d{6}", text).group()
    r = api.as_user("POST", "/v1/phone/confirm", {"code": code})
    assert r.status_code == 200, r.json
