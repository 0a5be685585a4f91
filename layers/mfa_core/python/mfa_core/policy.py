"""A tenant's policy: defaults, validation of what an admin sends, and its JSON shape."""

from __future__ import annotations

from typing import NamedTuple

from . import phone
from .errors import InvalidRequest
from .times import iso

METHODS = ("authenticator", "phone")
ALGORITHMS = ("SHA1", "SHA256", "SHA512")
FIELD_ORDER = (
    "two_factor",
    "methods",
    "trusted_device_days",
    "app_passwords",
    "totp",
    "lockout",
    "enroll_grace_days",
    "sms",
    "version",
    "two_factor_since",
)


class TotpSettings(NamedTuple):
    issuer: str
    algorithm: str = "SHA1"
    digits: int = 6
    period: int = 30
    window: int = 1


class LockoutSettings(NamedTuple):
    max_failures: int = 5
    lock_seconds: int = 900


class SmsSettings(NamedTuple):
    """Where SMS may go and how many a day: SMS costs money per message, and an attacker who can make
    us send them (to numbers of their choosing, premium ones included) spends it."""

    countries: tuple[str, ...] = ()  # the country calling codes SMS may go to; empty: every country
    per_number_per_day: int = 10  # to one number, whichever users it belongs to
    per_tenant_per_day: int = 1000

    def allows(self, number: str) -> bool:
        return not self.countries or phone.calling_code(number) in self.countries

    @classmethod
    def from_dict(cls, doc: dict) -> SmsSettings:
        return cls(**doc | {"countries": tuple(doc.get("countries", ()))})


class Policy(NamedTuple):
    totp: TotpSettings
    two_factor: str = "off"
    methods: tuple[str, ...] = ("authenticator", "phone")
    trusted_device_days: int = 30
    app_passwords: bool = True
    lockout: LockoutSettings = LockoutSettings()
    enroll_grace_days: int = 0
    sms: SmsSettings = SmsSettings()
    version: int = 0
    # When two_factor last went from off to on (epoch seconds); the enrollment grace period counts from it.
    two_factor_since: int | None = None
    # When trusted_device_days was last set to 0: devices trusted until then never count again.
    devices_revoked_at: int | None = None

    @property
    def two_factor_on(self) -> bool:
        return self.two_factor == "on"

    def to_dict(self) -> dict:
        doc = self._asdict() | {
            "methods": list(self.methods),
            "totp": self.totp._asdict(),
            "lockout": self.lockout._asdict(),
            "sms": self.sms._asdict() | {"countries": list(self.sms.countries)},
        }
        if self.two_factor_since is not None:
            doc["two_factor_since"] = iso(self.two_factor_since)
        return {name: doc[name] for name in FIELD_ORDER}

    @classmethod
    def default(cls, tenant: str) -> Policy:
        return cls(totp=TotpSettings(issuer=tenant))

    @classmethod
    def from_dict(cls, doc: dict) -> Policy:
        """Rebuild a stored policy (already validated when it was saved)."""
        return cls(
            totp=TotpSettings(**doc["totp"]),
            two_factor=doc["two_factor"],
            methods=tuple(doc["methods"]),
            trusted_device_days=doc["trusted_device_days"],
            app_passwords=doc["app_passwords"],
            lockout=LockoutSettings(**doc["lockout"]),
            enroll_grace_days=doc["enroll_grace_days"],
            sms=SmsSettings.from_dict(doc.get("sms", {})),  # {}: saved before SMS limits existed, the defaults
            version=doc.get("version", 0),
            two_factor_since=doc.get("two_factor_since"),
            devices_revoked_at=doc.get("devices_revoked_at"),
        )


def validate(body: dict, current: Policy) -> tuple[Policy, int | None]:
    """The policy an admin's PUT asks for, and the `version` it expects (None: overwrite).

    A PUT carries the whole policy: a field left out takes its default value, an unknown one is refused."""
    base = Policy.default(current.totp.issuer)
    _no_unknown(body, set(FIELD_ORDER), "policy")
    two_factor = _choice(body, "two_factor", ("on", "off"), base.two_factor)
    methods = body.get("methods", list(base.methods))
    if (
        not isinstance(methods, list)
        or not methods
        or any(m not in METHODS for m in methods)
        or len(set(methods)) != len(methods)
    ):
        raise InvalidRequest("methods must be a non-empty list of distinct values from: authenticator, phone")
    totp_doc = _object(body, "totp")
    _no_unknown(totp_doc, {"issuer", "algorithm", "digits", "period", "window"}, "totp")
    issuer = totp_doc.get("issuer", current.totp.issuer)
    if not isinstance(issuer, str) or not 1 <= len(issuer.strip()) <= 64 or not issuer.isprintable():
        raise InvalidRequest("totp.issuer must be 1-64 printable characters")
    totp = TotpSettings(
        issuer=issuer.strip(),
        algorithm=_choice(totp_doc, "algorithm", ALGORITHMS, "SHA1", prefix="totp."),
        digits=_choice(totp_doc, "digits", (6, 8), 6, prefix="totp."),
        period=_choice(totp_doc, "period", (30, 60), 30, prefix="totp."),
        window=_int(totp_doc, "window", 0, 2, 1, prefix="totp."),
    )
    lockout_doc = _object(body, "lockout")
    _no_unknown(lockout_doc, {"max_failures", "lock_seconds"}, "lockout")
    lockout = LockoutSettings(
        max_failures=_int(lockout_doc, "max_failures", 1, 100, 5, prefix="lockout."),
        lock_seconds=_int(lockout_doc, "lock_seconds", 1, 86400, 900, prefix="lockout."),
    )
    sms = _sms(_object(body, "sms"))
    app_passwords = body.get("app_passwords", True)
    if not isinstance(app_passwords, bool):
        raise InvalidRequest("app_passwords must be true or false")
    version = body.get("version")
    if version is not None and (not _is_int(version) or version < 0):
        raise InvalidRequest("version must be a non-negative integer")
    policy = base._replace(
        two_factor=two_factor,
        methods=tuple(methods),
        trusted_device_days=_int(body, "trusted_device_days", 0, 365, 30),
        app_passwords=app_passwords,
        totp=totp,
        lockout=lockout,
        enroll_grace_days=_int(body, "enroll_grace_days", 0, 90, 0),
        sms=sms,
    )
    return policy, version


def _sms(doc: dict) -> SmsSettings:
    _no_unknown(doc, {"countries", "per_number_per_day", "per_tenant_per_day"}, "sms")
    countries = doc.get("countries", [])
    if (
        not isinstance(countries, list)
        or not all(isinstance(c, str) and phone.is_calling_code(c) for c in countries)
        or len(set(countries)) != len(countries)
    ):
        raise InvalidRequest('sms.countries must be a list of distinct country calling codes, like ["+86", "+1"]')
    return SmsSettings(
        countries=tuple(countries),
        per_number_per_day=_int(doc, "per_number_per_day", 1, 100, 10, prefix="sms."),
        per_tenant_per_day=_int(doc, "per_tenant_per_day", 1, 1_000_000, 1000, prefix="sms."),
    )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int(doc: dict, name: str, low: int, high: int, default: int, prefix: str = "") -> int:
    value = doc.get(name, default)
    if not _is_int(value) or not low <= value <= high:
        raise InvalidRequest(f"{prefix}{name} must be an integer from {low} to {high}")
    return value


def _choice(doc: dict, name: str, allowed: tuple, default: object, prefix: str = "") -> object:
    value = doc.get(name, default)
    if type(value) is not type(default) or value not in allowed:
        raise InvalidRequest(f"{prefix}{name} must be one of: {', '.join(str(a) for a in allowed)}")
    return value


def _object(doc: dict, name: str) -> dict:
    value = doc.get(name, {})
    if not isinstance(value, dict):
        raise InvalidRequest(f"{name} must be an object")
    return value


def _no_unknown(doc: dict, known: set[str], where: str) -> None:
    unknown = sorted(set(doc) - known)
    if unknown:
        raise InvalidRequest(f"unknown field in {where}: {unknown[0]}")
