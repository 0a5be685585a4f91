"""What the authenticator and logon-verify tests share: the policy on, a verify."""

LOGON = "mfa:logon"


def turn_on(api, **policy):
    r = api.as_user("PUT", "/v1/policy", {"two_factor": "on", **policy}, user="admin@example.com", scope="mfa:admin")
    assert r.status_code == 200, r.json


def verify(api, code, *, user="alice@example.com", **extra):
    return api.as_user("POST", "/v1/logon/verify", {"code": code, **extra}, user=user, scope=LOGON)


