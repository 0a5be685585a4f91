"""Items <-> the model: how each record is written as DynamoDB attributes and read back."""

from __future__ import annotations

import base64
import json
import secrets

from ..errors import InvalidRequest
from ..lockout import DAY, Lockout
from ..model import (
    AccessPass,
    AppPassword,
    Authenticator,
    Device,
    Enrollment,
    Event,
    Phone,
    SmsChallenge,
    StoredPolicy,
    TotpKey,
    UserState,
)
from .dynamo import key, n, s
from .keys import (
    DEVICE,
    EVENT,
    SK_ACCESS_PASS,
    SK_ENROLLMENT,
    SK_LOCKOUT,
    SK_MFA,
    SK_SMS,
    TTL_ATTRIBUTE,
    device_sk,
)

# The authenticator's attributes in the MFA item: a delete or reset removes them all.
AUTHENTICATOR_FIELDS = ("auth_id", "secret", "algorithm", "digits", "period", "label", "attached_at", "last_step")
# The SMS code's attributes in the SMS item: using the code removes them (the send counters stay).
SMS_CODE_FIELDS = ("purpose", "number", "code_hash")
EVENT_DAYS = 365
# The UserList index's keys (storage/keys.py): an item that has them is listed.
LISTED, LISTED_AS = "list_pk", "list_sk"
# What the index holds of an MFA item besides its keys, for the no_factor filter (not the number itself).
FACTOR_PRESENCE = ("auth_id", "phone_attached_at")
# ... and of a lockout item, for the locked filter.
LOCKOUT_FIELDS = ("fails", "lock_level", "last_fail_at")


def _int(item: dict, name: str, default: int = 0) -> int:
    return int(item[name]["N"]) if name in item else default


def _opt_int(item: dict, name: str) -> int | None:
    return int(item[name]["N"]) if name in item else None


def _str(item: dict, name: str) -> str | None:
    return item[name]["S"] if name in item else None


def user_state(items: list[dict]) -> UserState:
    by_sk = {item["SK"]["S"]: item for item in items}
    mfa = by_sk.get(SK_MFA, {})
    phone = _str(mfa, "phone_number")
    return UserState(
        authenticator=authenticator(mfa),
        recovery=frozenset(mfa.get("recovery", {}).get("SS", ())),
        phone=Phone(phone, _int(mfa, "phone_attached_at")) if phone else None,
        device_gen=device_gen(mfa),
        app_password_count=_int(mfa, "app_passwords"),
        lockout=lockout(by_sk.get(SK_LOCKOUT)),
        enrollment=enrollment(by_sk.get(SK_ENROLLMENT)),
        sms=sms(by_sk.get(SK_SMS)),
        devices=tuple(
            sorted((device(i) for sk, i in by_sk.items() if sk.startswith(DEVICE)), key=lambda d: d.trusted_ms)
        ),
        access_pass=access_pass(by_sk.get(SK_ACCESS_PASS)),
        listed=LISTED in mfa,
    )


def stored_policy(item: dict) -> StoredPolicy:
    return StoredPolicy(
        json.loads(item["doc"]["S"]),
        _int(item, "version"),
        _opt_int(item, "two_factor_since"),
        _opt_int(item, "devices_revoked_at"),
    )


def _totp_key(item: dict) -> TotpKey:
    return TotpKey(
        secret=item["secret"]["B"],
        algorithm=item["algorithm"]["S"],
        digits=_int(item, "digits"),
        period=_int(item, "period"),
    )


def _totp_key_attributes(totp_key: TotpKey) -> dict:
    return {
        "secret": {"B": totp_key.secret},
        "algorithm": s(totp_key.algorithm),
        "digits": n(totp_key.digits),
        "period": n(totp_key.period),
    }


def authenticator(item: dict) -> Authenticator | None:
    if "auth_id" not in item:
        return None
    return Authenticator(
        auth_id=item["auth_id"]["S"],
        key=_totp_key(item),
        label=item["label"]["S"],
        attached_at=_int(item, "attached_at"),
        last_step=_int(item, "last_step", -1),
    )


def authenticator_attributes(attached: Authenticator) -> dict:
    return {
        "auth_id": s(attached.auth_id),
        **_totp_key_attributes(attached.key),
        "label": s(attached.label),
        "attached_at": n(attached.attached_at),
        "last_step": n(attached.last_step),
    }


def enrollment(item: dict | None) -> Enrollment | None:
    if not item:
        return None
    return Enrollment(
        enrollment_id=item["enrollment_id"]["S"],
        key=_totp_key(item),
        label=item["label"]["S"],
        expires_at=_int(item, "expires_at"),
    )


def enrollment_item(pk: str, pending: Enrollment, purge_at: int) -> dict:
    return {
        **key(pk, SK_ENROLLMENT),
        "enrollment_id": s(pending.enrollment_id),
        **_totp_key_attributes(pending.key),
        "label": s(pending.label),
        "expires_at": n(pending.expires_at),
        TTL_ATTRIBUTE: n(purge_at),
    }


def lockout(item: dict | None) -> Lockout:
    if not item or "fails" not in item:
        return Lockout()
    return Lockout(fails=_int(item, "fails"), level=_int(item, "lock_level"), last_fail_at=_int(item, "last_fail_at"))


def sms(item: dict | None) -> SmsChallenge | None:
    if not item or "last_sent_at" not in item:
        return None
    return SmsChallenge(
        purpose=_str(item, "purpose"),
        number=_str(item, "number"),
        code_hash=_str(item, "code_hash"),
        expires_at=_int(item, "expires_at"),
        last_sent_at=_int(item, "last_sent_at"),
        day=_int(item, "day"),
        day_count=_int(item, "day_count"),
        purge_at=_int(item, TTL_ATTRIBUTE),
    )


def sms_send_attributes(sent: SmsChallenge) -> dict:
    """What a send writes of the record `sent` (its code's fields only while it has them); the day and day
    count are the send limits' to write (guarantees.send_sms)."""
    return {
        **{name: s(getattr(sent, name)) for name in SMS_CODE_FIELDS if getattr(sent, name) is not None},
        "expires_at": n(sent.expires_at),
        "last_sent_at": n(sent.last_sent_at),
        TTL_ATTRIBUTE: n(sent.purge_at),
    }


def device(item: dict) -> Device:
    return Device(
        device_id=item["device_id"]["S"],
        token_hash=item["token_hash"]["S"],
        label=item["label"]["S"],
        created_at=_int(item, "created_at"),
        expires_at=_int(item, "expires_at"),
        last_used_at=_opt_int(item, "last_used_at"),
        generation=_int(item, "generation"),
        trusted_ms=_int(item, "trusted_ms"),
    )


def device_item(pk: str, trusted: Device) -> dict:
    return {
        **key(pk, device_sk(trusted.slot)),
        "device_id": s(trusted.device_id),
        "token_hash": s(trusted.token_hash),
        "label": s(trusted.label),
        "created_at": n(trusted.created_at),
        "expires_at": n(trusted.expires_at),
        "generation": n(trusted.generation),
        "trusted_ms": n(trusted.trusted_ms),
        TTL_ATTRIBUTE: n(trusted.expires_at),
    }


def access_pass(item: dict | None) -> AccessPass | None:
    if not item:
        return None
    return AccessPass(
        pass_hash=item["pass_hash"]["S"],
        expires_at=_int(item, "expires_at"),
        used_at=_opt_int(item, "used_at"),
        attach_until=_opt_int(item, "attach_until"),
    )


def access_pass_item(pk: str, issued: AccessPass) -> dict:
    return {
        **key(pk, SK_ACCESS_PASS),
        "pass_hash": s(issued.pass_hash),
        "expires_at": n(issued.expires_at),
        TTL_ATTRIBUTE: n(issued.expires_at + DAY),
    }


def app_password(item: dict) -> AppPassword:
    return AppPassword(
        password_id=item["password_id"]["S"],
        label=item["label"]["S"],
        created_at=_int(item, "created_at"),
        last_used_at=_opt_int(item, "last_used_at"),
    )


def device_gen(mfa: dict | None) -> int:
    return _int(mfa or {}, "device_gen")


def app_password_count(mfa: dict | None) -> int:
    return _int(mfa or {}, "app_passwords")


def counts(item: dict) -> dict[str, int]:
    """The counters of a stats item (storage/keys.py), by name."""
    return {name: int(value["N"]) for name, value in item.items() if "N" in value and name != TTL_ATTRIBUTE}


def app_password_attributes(password: AppPassword) -> dict:
    return {"password_id": s(password.password_id), "label": s(password.label), "created_at": n(password.created_at)}


def event(item: dict) -> Event:
    return Event(
        at=_int(item, "at") / 1000,
        event=item["event"]["S"],
        ip=_str(item, "ip") or "",
        detail=json.loads(_str(item, "detail") or "{}"),
    )


def event_item(pk: str, recorded: Event) -> dict:
    at_ms = int(recorded.at * 1000)
    return {
        **key(pk, f"{EVENT}{at_ms:013d}#{secrets.token_hex(4)}"),
        "at": n(at_ms),
        "event": s(recorded.event),
        "ip": s(recorded.ip),
        "detail": s(json.dumps(recorded.detail, sort_keys=True)),
        TTL_ATTRIBUTE: n(recorded.at + EVENT_DAYS * DAY),
    }


def cursor(last_key: dict | None) -> str | None:
    """The opaque cursor of a page's last item, for the next page."""
    return base64.urlsafe_b64encode(last_key["SK"]["S"].encode()).decode() if last_key else None


def event_sk_of(value: str) -> str:
    """The sort key a cursor stands for; InvalidRequest for anything we did not hand out."""
    try:
        sk = base64.urlsafe_b64decode(value.encode()).decode()
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidRequest("cursor is not valid.") from e
    if not sk.startswith(EVENT):
        raise InvalidRequest("cursor is not valid.")
    return sk
