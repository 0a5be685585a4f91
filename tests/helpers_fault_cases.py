"""The operations of the fault matrix: for each, how to set a user up and the request under test."""

import re
from dataclasses import dataclass

from moto.sns.models import sns_backends

from tests.conftest import attach, code_for

NUMBER = "+8613800001234"


@dataclass
class Case:
    """One operation: `prepare(api, user)` sets the user up and returns `send()`, the request under test."""

    name: str
    prepare: object
    status: int


def _attached(api, user):
    return attach(api, user=user)


def _next_code(api, att):
    api.clock.advance(30)
    return code_for(att["uri"], api.clock.now)


def _with_phone(api, user):
    assert api.as_user("POST", "/v1/phone", {"number": NUMBER}, user=user).status_code == 202
    code = _last_sms_code()
    assert api.as_user("POST", "/v1/phone/confirm", {"code": code}, user=user).status_code == 200
    api.clock.advance(31)


def _last_sms_code():
    texts = [t for n, t in sns_backends["123456789012"]["us-east-1"].sms_messages.values() if n == NUMBER]
    return re.search(r"\d{6}", texts[-1]).group()


def _trusted(api, user):
    att = _attached(api, user)
    r = api.as_user(
        "POST", "/v1/logon/verify", {"code": _next_code(api, att), "trust_device": True}, user=user, scope="mfa:logon"
    )
    return att, r.json["device_token"]


def prep_enroll(api, user):
    return lambda: api.as_user("POST", "/v1/authenticator/enroll", {}, user=user)


def prep_confirm(api, user):
    enrolled = api.as_user("POST", "/v1/authenticator/enroll", {}, user=user).json
    body = {"enrollment_id": enrolled["enrollment_id"], "code": code_for(enrolled["otpauth_uri"], api.clock.now)}
    return lambda: api.as_user("POST", "/v1/authenticator/confirm", body, user=user)


def prep_verify(api, user):
    code = _next_code(api, _attached(api, user))
    return lambda: api.as_user("POST", "/v1/logon/verify", {"code": code}, user=user, scope="mfa:logon")


def prep_verify_trusting(api, user):
    code = _next_code(api, _attached(api, user))
    return lambda: api.as_user(
        "POST", "/v1/logon/verify", {"code": code, "trust_device": True}, user=user, scope="mfa:logon"
    )


def prep_wrong_code(api, user):
    _attached(api, user)
    return lambda: api.as_user("POST", "/v1/logon/verify", {"code": "abcdef"}, user=user, scope="mfa:logon")


def prep_recovery(api, user):
    att = _attached(api, user)
    return lambda: api.as_user(
        "POST",
        "/v1/logon/verify",
        {"method": "recovery_code", "code": att["recovery_codes"][0]},
        user=user,
        scope="mfa:logon",
    )


def _two_factor_on(api):
    assert (
        api.as_user("PUT", "/v1/policy", {"two_factor": "on"}, user="admin@example.com", scope="mfa:admin").status_code
        == 200
    )


def prep_logon_device(api, user):
    _two_factor_on(api)
    _, token = _trusted(api, user)
    return lambda: api.as_user("POST", "/v1/logon", {"device_token": token}, user=user, scope="mfa:logon")


def prep_logon(api, user):
    _two_factor_on(api)
    _attached(api, user)
    return lambda: api.as_user("POST", "/v1/logon", {}, user=user, scope="mfa:logon")


def prep_delete(api, user):
    code = _next_code(api, _attached(api, user))
    return lambda: api.as_user("DELETE", "/v1/authenticator", {"code": code}, user=user)


def prep_renew(api, user):
    code = _next_code(api, _attached(api, user))
    return lambda: api.as_user("POST", "/v1/recovery-codes", {"code": code}, user=user)


def prep_add_phone(api, user):
    return lambda: api.as_user("POST", "/v1/phone", {"number": NUMBER}, user=user)


def prep_confirm_phone(api, user):
    assert api.as_user("POST", "/v1/phone", {"number": NUMBER}, user=user).status_code == 202
    code = _last_sms_code()
    return lambda: api.as_user("POST", "/v1/phone/confirm", {"code": code}, user=user)


def prep_logon_sms(api, user):
    _with_phone(api, user)
    return lambda: api.as_user("POST", "/v1/logon/sms", {}, user=user, scope="mfa:logon")


def prep_verify_sms(api, user):
    _with_phone(api, user)
    assert api.as_user("POST", "/v1/logon/sms", {}, user=user, scope="mfa:logon").status_code == 202
    code = _last_sms_code()
    return lambda: api.as_user(
        "POST", "/v1/logon/verify", {"method": "phone", "code": code}, user=user, scope="mfa:logon"
    )


def prep_delete_phone(api, user):
    att = _attached(api, user)
    _with_phone(api, user)
    code = _next_code(api, att)
    return lambda: api.as_user("DELETE", "/v1/phone", {"code": code}, user=user)


def prep_revoke_devices(api, user):
    _trusted(api, user)
    return lambda: api.as_user("DELETE", "/v1/devices", {}, user=user)


def prep_create_app_password(api, user):
    return lambda: api.as_user("POST", "/v1/app-passwords", {"label": "Thunderbird"}, user=user)


def prep_check_app_password(api, user):
    password = api.as_user("POST", "/v1/app-passwords", {}, user=user).json["password"]
    return lambda: api.as_user(
        "POST", "/v1/app-passwords/check", {"user": user, "password": password}, user="gateway", scope="mfa:gateway"
    )


def prep_wrong_app_password(api, user):
    api.as_user("POST", "/v1/app-passwords", {}, user=user)
    return lambda: api.as_user(
        "POST", "/v1/app-passwords/check", {"user": user, "password": "nope"}, user="gateway", scope="mfa:gateway"
    )


def prep_revoke_app_password(api, user):
    password_id = api.as_user("POST", "/v1/app-passwords", {}, user=user).json["id"]
    return lambda: api.as_user("DELETE", f"/v1/app-passwords/{password_id}", {}, user=user)


def prep_factors(api, user):
    _attached(api, user)
    return lambda: api.as_user("GET", "/v1/factors", user=user)


def prep_admin_reset(api, user):
    _trusted(api, user)
    return lambda: api.as_user("POST", f"/v1/admin/users/{user.replace('@', '%40')}/reset", {}, scope="mfa:admin")


def prep_admin_unlock(api, user):
    _attached(api, user)
    for _ in range(5):
        api.as_user("POST", "/v1/logon/verify", {"code": "abcdef"}, user=user, scope="mfa:logon")
    return lambda: api.as_user("POST", f"/v1/admin/users/{user.replace('@', '%40')}/unlock", {}, scope="mfa:admin")


def prep_admin_events(api, user):
    _attached(api, user)
    return lambda: api.as_user("GET", f"/v1/admin/events?user={user.replace('@', '%40')}&limit=5", scope="mfa:admin")


def prep_policy_put(api, user):
    return lambda: api.as_user("PUT", "/v1/policy", {"two_factor": "on"}, scope="mfa:admin")


def prep_policy_get(api, user):
    return lambda: api.as_user("GET", "/v1/policy", scope="mfa:admin")


CASES = [
    Case("enroll", prep_enroll, 200),
    Case("confirm", prep_confirm, 200),
    Case("verify", prep_verify, 200),
    Case("verify_trusting", prep_verify_trusting, 200),
    Case("wrong_code", prep_wrong_code, 400),
    Case("recovery_code", prep_recovery, 200),
    Case("logon", prep_logon, 200),
    Case("logon_device", prep_logon_device, 200),
    Case("delete", prep_delete, 200),
    Case("renew", prep_renew, 200),
    Case("add_phone", prep_add_phone, 202),
    Case("confirm_phone", prep_confirm_phone, 200),
    Case("logon_sms", prep_logon_sms, 202),
    Case("verify_sms", prep_verify_sms, 200),
    Case("delete_phone", prep_delete_phone, 200),
    Case("revoke_devices", prep_revoke_devices, 200),
    Case("create_app_password", prep_create_app_password, 201),
    Case("check_app_password", prep_check_app_password, 200),
    Case("wrong_app_password", prep_wrong_app_password, 200),
    Case("revoke_app_password", prep_revoke_app_password, 200),
    Case("factors", prep_factors, 200),
    Case("admin_reset", prep_admin_reset, 200),
    Case("admin_unlock", prep_admin_unlock, 200),
    Case("admin_events", prep_admin_events, 200),
    Case("policy_put", prep_policy_put, 200),
    Case("policy_get", prep_policy_get, 200),
]
