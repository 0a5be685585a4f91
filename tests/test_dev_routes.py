"""The local run's helpers: tokens for the page's dev bar (the outbox is tested with the SMS flows)."""
import pytest


def test_dev_token_is_a_working_caller_token(api):
    r = api.call("POST", "/v1/dev/token", {"user": "Alice@Example.com", "tenant": "demo", "scope": "mfa:settings"})
    assert r.status_code == 200
    factors = api.call("GET", "/v1/factors", token=r.json["token"])
    assert factors.status_code == 200 and factors.json["authenticator"] is None


@pytest.mark.parametrize("body", [{}, {"user": "a@b.c", "tenant": "demo"}, {"user": "a@b.c", "tenant": "Demo!",
                                  "scope": "mfa:settings"}, {"user": "a@b.c", "tenant": "demo", "scope": "root"},
                                  {"user": "a@b.c", "tenant": "demo", "scope": " "}, {"user": 1, "tenant": "demo",
                                                                                     "scope": "mfa:admin"}])
def test_dev_token_refuses_bad_input(api, body):
    r = api.call("POST", "/v1/dev/token", body)
    assert r.status_code == 400 and r.json["error"] == "invalid_request"
