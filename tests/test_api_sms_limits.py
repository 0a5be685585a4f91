"""SMS spend and abuse limits in the tenant's policy (API.md, "SMS limits"): the countries SMS may go to, and the
day's limits per number and per tenant; a send that SNS refused gives its units back. The races and the held
interleaving are in test_races.py and test_interleavings.py."""

import boto3
import phonenumbers
import pytest
from botocore.exceptions import ClientError
from moto.sns.models import sns_backends

from mfa_core import phone, runtime
from mfa_core.lockout import DAY
from mfa_core.storage.keys import TTL_ATTRIBUTE, sms_day_sk, sms_number_day_sk, tenant_pk
from tests.conftest import T0, attach, code_for
from tests.helpers_logon import LOGON, NUMBER, attach_phone, last_sms, policy, verify

US_NUMBER = "+12025550123"
TODAY = int(T0) // DAY
MIDNIGHT = (TODAY + 1) * DAY  # T0 is 08:00 UTC: 57,600 s before it


def sms_policy(api, **sms):
    return policy(api, sms=sms)


def add_phone(api, number, user="alice@example.com", tenant="demo"):
    return api.as_user("POST", "/v1/phone", {"number": number}, user=user, tenant=tenant)


def sent_to(number) -> int:
    return sum(1 for to, _ in sns_backends["123456789012"]["us-east-1"].sms_messages.values() if to == number)


def counted(sk, tenant="demo") -> int | None:
    """A day's SMS counter as stored (None: no item)."""
    key = {"PK": {"S": tenant_pk(tenant)}, "SK": {"S": sk}}
    item = boto3.client("dynamodb").get_item(TableName="mfa", Key=key, ConsistentRead=True).get("Item")
    return int(item["sent"]["N"]) if item else None


def assert_refused_until_midnight(r, now):
    assert r.status_code == 429 and r.json["error"] == "rate_limited", r.json
    wait = int(MIDNIGHT - now)
    assert r.json["retry_after"] == wait and r.headers["Retry-After"] == str(wait)


# --- the country calling code -----------------------------------------------------------------------------


def test_the_calling_code_of_every_example_number_of_libphonenumber_is_its_own():
    # An independent source: Google's libphonenumber metadata, a region's mobile and fixed-line examples.
    checked = 0
    for region in phonenumbers.SUPPORTED_REGIONS:
        for kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None:
                number = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
                assert phone.calling_code(number) == f"+{example.country_code}", (region, number)
                checked += 1
    assert checked > 400
    assert all(phone.is_calling_code(f"+{code}") for code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE)


@pytest.mark.parametrize("code", ["+8", "+86 ", "+861", "+12", "+440", "+0", "+", "86", "+８６"])
def test_a_prefix_or_an_extension_of_a_calling_code_is_not_one(code):
    assert not phone.is_calling_code(code)


# --- allowed countries ------------------------------------------------------------------------------------


def test_an_empty_country_list_sends_to_every_country(api):
    assert policy(api)["sms"]["countries"] == []
    assert add_phone(api, US_NUMBER).status_code == 202
    assert add_phone(api, NUMBER, user="bob@example.com").status_code == 202


def test_attaching_a_number_outside_the_allowed_countries_is_forbidden_and_sends_nothing(api):
    sms_policy(api, countries=["+86", "+852"])
    r = add_phone(api, US_NUMBER)
    assert r.status_code == 403 and r.json["error"] == "forbidden", r.json
    assert r.json["message"] == "SMS to country code +1 is not allowed for this organization."
    assert r.json["calling_code"] == "+1"
    assert sent_to(US_NUMBER) == 0
    assert counted(sms_day_sk(TODAY)) is None  # nothing counted either
    assert add_phone(api, "+85291234567").status_code == 202
    api.clock.advance(30)
    assert add_phone(api, NUMBER).status_code == 202


def test_a_phone_whose_country_was_taken_off_the_list_gets_no_logon_or_delete_sms(api):
    att = attach(api)
    attach_phone(api)
    sms_policy(api, countries=["+1"])
    for path, scope in (("/v1/logon/sms", LOGON), ("/v1/phone/code", "mfa:settings")):
        r = api.as_user("POST", path, {}, scope=scope)
        assert r.status_code == 403 and r.json["error"] == "forbidden", (path, r.json)
        assert r.json["message"] == "SMS to country code +86 is not allowed for this organization."
        assert r.json["calling_code"] == "+86"
    _, sent = last_sms()
    assert sent == 1  # the attach code only
    # The logon needs another factor; the phone can still be deleted with the authenticator.
    api.clock.advance(30)
    assert verify(api, code_for(att["uri"], api.clock.now)).status_code == 200
    api.clock.advance(30)
    assert api.as_user("DELETE", "/v1/phone", {"code": code_for(att["uri"], api.clock.now)}).status_code == 200


# --- the day's limits -------------------------------------------------------------------------------------


def test_the_limit_per_number_counts_every_user_of_the_tenant_sending_to_it(api):
    sms_policy(api, per_number_per_day=2)
    assert add_phone(api, NUMBER).status_code == 202
    assert add_phone(api, NUMBER, user="bob@example.com").status_code == 202
    assert_refused_until_midnight(add_phone(api, NUMBER, user="carol@example.com"), T0)
    assert sent_to(NUMBER) == 2 and counted(sms_number_day_sk(TODAY, NUMBER)) == 2
    assert add_phone(api, US_NUMBER, user="carol@example.com").status_code == 202  # another number: its own count
    assert add_phone(api, NUMBER, user="dave@example.com", tenant="other").status_code == 202  # another tenant's


def test_the_limit_per_tenant_counts_every_send_of_the_day(api):
    sms_policy(api, per_tenant_per_day=3)
    attach_phone(api)  # one
    assert api.as_user("POST", "/v1/logon/sms", {}, scope=LOGON).status_code == 202  # two
    assert add_phone(api, US_NUMBER, user="bob@example.com").status_code == 202  # three
    api.clock.advance(30)
    assert_refused_until_midnight(api.as_user("POST", "/v1/phone/code", {}), T0 + 61)
    assert_refused_until_midnight(add_phone(api, "+447700900123", user="carol@example.com"), T0 + 61)
    assert counted(sms_day_sk(TODAY)) == 3
    assert add_phone(api, "+447700900123", user="carol@example.com", tenant="other").status_code == 202


def test_the_day_limits_start_again_at_utc_midnight_on_items_that_expire(api):
    sms_policy(api, per_number_per_day=1, per_tenant_per_day=2)
    assert add_phone(api, NUMBER).status_code == 202
    api.clock.now = MIDNIGHT - 1
    assert_refused_until_midnight(add_phone(api, NUMBER, user="bob@example.com"), MIDNIGHT - 1)
    api.clock.now = MIDNIGHT
    assert add_phone(api, NUMBER, user="bob@example.com").status_code == 202
    assert counted(sms_number_day_sk(TODAY, NUMBER)) == 1 and counted(sms_number_day_sk(TODAY + 1, NUMBER)) == 1
    key = {"PK": {"S": tenant_pk("demo")}, "SK": {"S": sms_day_sk(TODAY)}}
    item = boto3.client("dynamodb").get_item(TableName="mfa", Key=key)["Item"]
    assert int(item[TTL_ATTRIBUTE]["N"]) == (TODAY + 2) * DAY  # kept a day after its day, then TTL removes it


def test_a_send_refused_by_a_day_limit_keeps_the_code_sent_before(api):
    sms_policy(api, per_number_per_day=2)
    attach_phone(api)
    assert api.as_user("POST", "/v1/logon/sms", {}, scope=LOGON).status_code == 202
    code, _ = last_sms()
    api.clock.advance(30)
    assert_refused_until_midnight(api.as_user("POST", "/v1/logon/sms", {}, scope=LOGON), T0 + 61)
    assert verify(api, code, method="phone").status_code == 200


# --- a send SNS refused -----------------------------------------------------------------------------------


def test_a_send_that_sns_refused_gives_its_units_back_in_one_write(api):
    rt = runtime.current()
    sms_policy(api, per_number_per_day=2, per_tenant_per_day=2)
    attach_phone(api)
    writes = []

    def refuse(**_):
        raise ClientError({"Error": {"Code": "InternalError", "Message": "x"}}, "Publish")

    def count_write(model, **_):
        writes.append(model.name)

    rt.sns.meta.events.register("before-call.sns.Publish", refuse)
    rt.dynamodb.meta.events.register("before-call.dynamodb", count_write)
    r = api.as_user("POST", "/v1/logon/sms", {}, scope=LOGON)
    rt.sns.meta.events.unregister("before-call.sns.Publish", refuse)
    rt.dynamodb.meta.events.unregister("before-call.dynamodb", count_write)
    assert r.status_code == 503, r.json
    assert writes == ["Query", "TransactWriteItems", "TransactWriteItems"]  # read, reserve, give back
    assert counted(sms_number_day_sk(TODAY, NUMBER)) == 1 and counted(sms_day_sk(TODAY)) == 1
    assert api.as_user("POST", "/v1/logon/sms", {}, scope=LOGON).status_code == 202
    assert counted(sms_number_day_sk(TODAY, NUMBER)) == 2 and counted(sms_day_sk(TODAY)) == 2
    api.clock.advance(30)
    assert_refused_until_midnight(api.as_user("POST", "/v1/logon/sms", {}, scope=LOGON), T0 + 61)
