"""What the app-password tests share: create, list, check and revoke one, the policy, a wrong password."""

ALICE = "alice@example.com"
INVALID = {"valid": False}


def create(api, label="Thunderbird", *, user=ALICE, scope="mfa:settings"):
    return api.as_user("POST", "/v1/app-passwords", {"label": label}, user=user, scope=scope)


def created(api, label="Thunderbird", *, user=ALICE) -> dict:
    r = create(api, label, user=user)
    assert r.status_code == 201, r.json
    return r.json


def listed(api, *, user=ALICE) -> list:
    r = api.as_user("GET", "/v1/app-passwords", user=user)
    assert r.status_code == 200, r.json
    return r.json


def check(api, password, *, user=ALICE, body=None):
    gateway = api.token("imap-gateway", "mfa:gateway")
    sent = {"user": user, "password": password} if body is None else body
    return api.call("POST", "/v1/app-passwords/check", sent, token=gateway)


def revoke(api, password_id, *, user=ALICE):
    return api.as_user("DELETE", f"/v1/app-passwords/{password_id}", user=user)


def set_policy(api, **policy):
    r = api.as_user("PUT", "/v1/policy", policy, user="admin@example.com", scope="mfa:admin")
    assert r.status_code == 200, r.json


def wrong_password(right: str) -> str:
    return "aaaa bbbb cccc dddd" if right != "aaaa bbbb cccc dddd" else "eeee ffff gggg hhhh"
