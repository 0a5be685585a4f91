from tests.conftest import attach, code_for


def test_attach_then_logon_then_delete(api):
    api.as_user("PUT", "/v1/policy", {"two_factor": "on"}, scope="mfa:admin")
    att = attach(api)
    assert len(att["recovery_codes"]) == 10
    api.clock.advance(30)
    r = api.as_user("POST", "/v1/logon", {}, scope="mfa:logon")
    assert r.json["next"] == "verify", r.json
    r = api.as_user("POST", "/v1/logon/verify", {"code": code_for(att["uri"], api.clock.now)}, scope="mfa:logon")
    assert r.status_code == 200, r.json
    api.clock.advance(30)
    r = api.as_user("DELETE", "/v1/authenticator", {"code": code_for(att["uri"], api.clock.now)})
    assert r.status_code == 200, r.json
