"""No secret, code, otpauth URI or token ever reaches a log line, at any level, from any logger."""



from tests.conftest import attach, code_for


def test_a_full_flow_logs_no_secret_code_uri_or_token(api, all_logs):
    secrets_seen = []
    admin = api.token("admin@example.com", "mfa:admin")
    settings = api.token()
    logon = api.token(scope="mfa:logon")
    secrets_seen += [admin, settings, logon]
    api.call("PUT", "/v1/policy", {"two_factor": "on"}, token=admin)
    att = attach(api)
    secrets_seen += [att["secret"], att["secret"].replace(" ", ""), att["uri"]]
    secrets_seen += att["recovery_codes"]
    api.clock.advance(30)
    code = code_for(att["uri"], api.clock.now)
    ok = api.call("POST", "/v1/logon/verify", {"code": code}, token=logon)
    secrets_seen += [code, ok.json["mfa_token"]]
    api.call("POST", "/v1/logon/verify", {"code": code}, token=logon)  # replay
    api.call("POST", "/v1/logon/verify", {"code": "98765 4"}, token=logon)
    used = api.call(
        "POST", "/v1/logon/verify", {"method": "recovery_code", "code": att["recovery_codes"][0]}, token=logon
    )
    secrets_seen.append(used.json["mfa_token"])
    api.call("POST", "/v1/logon/verify", {"code": "not json"}, token="garbage." + settings)
    api.call("POST", "/v1/logon/verify", raw=b"{not json", token=logon)
    api.clock.advance(30)
    delete_code = code_for(att["uri"], api.clock.now)
    secrets_seen.append(delete_code)
    assert api.call("DELETE", "/v1/authenticator", {"code": delete_code}, token=settings).status_code == 200

    text = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in all_logs.records)
    assert "functions.http" in text  # the access log is captured, so the search below means something
    for secret in secrets_seen:
        assert secret not in text
    assert "98765" not in text and "not json" not in text


def test_device_tokens_app_passwords_and_sms_codes_never_reach_logs_audit_or_error_bodies(api, all_logs):
    import json
    import re

    from moto.sns.models import sns_backends

    admin = api.token("admin@example.com", "mfa:admin")
    api.call("PUT", "/v1/policy", {"two_factor": "on"}, token=admin)
    att = attach(api)
    secrets_seen = [att["secret"].replace(" ", ""), att["uri"], *att["recovery_codes"]]
    error_bodies = []

    def call(*args, **kwargs):
        r = api.as_user(*args, **kwargs)
        if r.status_code >= 400:
            error_bodies.append(r.body.decode())
        return r

    api.clock.advance(30)
    trusted = call("POST", "/v1/logon/verify", {"code": code_for(att["uri"], api.clock.now), "trust_device": True},
                   scope="mfa:logon").json
    secrets_seen += [trusted["device_token"], trusted["mfa_token"]]
    call("POST", "/v1/logon", {"device_token": trusted["device_token"]}, scope="mfa:logon")
    call("POST", "/v1/logon", {"device_token": trusted["device_token"] + "x"}, scope="mfa:logon")
    password = call("POST", "/v1/app-passwords", {"label": "Thunderbird"}).json["password"]
    secrets_seen += [password, password.replace(" ", "")]
    gateway = api.token("imap-gateway", "mfa:gateway")
    for attempt in (password, password.upper(), "wrong password"):
        r = api.call("POST", "/v1/app-passwords/check", {"user": "alice@example.com", "password": attempt},
                     token=gateway)
        assert r.status_code == 200
    call("POST", "/v1/phone", {"number": "+8613800001234"})
    sms = [t for _, t in sns_backends["123456789012"]["us-east-1"].sms_messages.values()][-1]
    sms_code = re.search(r"\d{6}", sms).group()
    secrets_seen.append(sms_code)
    call("POST", "/v1/phone/confirm", {"code": "000000" if sms_code != "000000" else "111111"})
    call("POST", "/v1/phone/confirm", {"code": sms_code})
    call("POST", "/v1/logon/verify", {"method": "recovery_code", "code": att["recovery_codes"][1] + "x"},
         scope="mfa:logon")
    events = api.call("GET", "/v1/admin/events?user=alice%40example.com&limit=100", token=admin).json
    assert {"device_trusted", "app_password_created", "app_password_used", "phone_attached", "failed"} <= {
        e["event"] for e in events}

    logs = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in all_logs.records)
    audit = json.dumps(events)
    assert error_bodies and "functions.http" in logs
    for secret in secrets_seen:
        for where, text in (("logs", logs), ("audit trail", audit), ("error bodies", "\n".join(error_bodies))):
            assert secret not in text, f"a secret in the {where}"
