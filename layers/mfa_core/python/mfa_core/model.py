"""The domain's records: what a user has attached, what a request proved, and what accepting it
changes. Immutable records (NamedTuples: a frozen dataclass costs a Lambda cold start about ten times as
much to define, docs/STYLE.md): storage turns them into items, the use cases decide with them."""

from __future__ import annotations

from typing import NamedTuple

from .lockout import Lockout


class TotpKey(NamedTuple):
    """A TOTP secret (sealed by crypto.Vault) and the parameters the app was given with it."""

    secret: bytes
    algorithm: str
    digits: int
    period: int


class Enrollment(NamedTuple):
    """A QR code shown and not yet confirmed."""

    enrollment_id: str
    key: TotpKey
    label: str
    expires_at: int


class Authenticator(NamedTuple):
    auth_id: str
    key: TotpKey
    label: str
    attached_at: int
    last_step: int  # the latest TOTP step accepted: a code of this step or earlier is a replay


class Phone(NamedTuple):
    number: str
    attached_at: int


class Device(NamedTuple):
    device_id: str  # "<slot>-<random>": the slot it is stored in, so a delete by id needs no read
    token_hash: str
    label: str
    created_at: int
    expires_at: int
    last_used_at: int | None
    generation: int  # the user's device generation when it was trusted
    trusted_ms: int  # when it was trusted, in ms: devices trusted in one second still have an order

    @property
    def slot(self) -> int:
        return int(self.device_id.partition("-")[0])


class SmsChallenge(NamedTuple):
    """The last SMS code sent (None once used) and the send counters the limits read."""

    purpose: str | None
    number: str | None
    code_hash: str | None
    expires_at: int
    last_sent_at: int
    day: int  # the UTC day number of day_count
    day_count: int
    purge_at: int


class AccessPass(NamedTuple):
    """A temporary access pass an admin issued (its keyed hash); once used, the window in which the logon
    it opened may attach a new factor."""

    pass_hash: str
    expires_at: int
    used_at: int | None
    attach_until: int | None

    def live(self, now: float) -> bool:
        return self.used_at is None and self.expires_at > now

    def opens_attach(self, now: float) -> bool:
        return self.attach_until is not None and self.attach_until > now


class Standing(NamedTuple):
    """What one user adds to the tenant's running totals. `listed`: the user's MFA item is in the UserList
    index (a user is counted from the first write of it)."""

    listed: bool
    authenticator: bool
    phone: bool
    app_passwords: int

    def totals(self) -> dict[str, int]:
        if not self.listed:
            return {}
        return {
            "users": 1,
            "authenticator": int(self.authenticator),
            "phone": int(self.phone),
            "any": int(self.authenticator or self.phone),
            "app_passwords": self.app_passwords,
        }

    def change_to(self, after: Standing) -> dict[str, int]:
        """What the totals gain (or lose) when this user's standing becomes `after`; only what changes."""
        before, now = self.totals(), after.totals()
        changed = {name: now.get(name, 0) - before.get(name, 0) for name in now.keys() | before.keys()}
        return {name: delta for name, delta in changed.items() if delta}


class AppPassword(NamedTuple):
    password_id: str
    label: str
    created_at: int
    last_used_at: int | None


class Event(NamedTuple):
    at: float
    event: str
    ip: str
    detail: dict


class UserState(NamedTuple):
    authenticator: Authenticator | None
    recovery: frozenset[str]  # keyed hashes of the unused recovery codes
    phone: Phone | None
    device_gen: int
    app_password_count: int
    lockout: Lockout  # as stored: may be a round that is over (TTL deletes late); Lockout handles that
    enrollment: Enrollment | None
    sms: SmsChallenge | None
    devices: tuple[Device, ...]
    access_pass: AccessPass | None = None
    listed: bool = False

    @property
    def standing(self) -> Standing:
        return Standing(self.listed, self.authenticator is not None, self.phone is not None, self.app_password_count)

    def attach_window(self, now: float) -> bool:
        """Whether a temporary access pass used in the last minutes lets the logon attach a new factor."""
        return self.access_pass is not None and self.access_pass.opens_attach(now)

    @property
    def factors(self) -> list[str]:
        """What the user can verify with at logon, authenticator first. A secure phone always counts."""
        return [m for m, has in (("authenticator", self.authenticator), ("phone", self.phone)) if has is not None]


class StoredPolicy(NamedTuple):
    doc: dict
    version: int
    two_factor_since: int | None
    devices_revoked_at: int | None


class Proof(NamedTuple):
    """What a request proved, to be accepted once: a TOTP step later than any accepted one, an unused
    recovery code, the pending SMS code sent for `sms_purpose`, or a live temporary access pass. TOTP and
    recovery proofs are bound to the authenticator that was read (`auth_id`); an SMS proof to the phone it
    was sent to (`phone`).
    Attaching an authenticator proves nothing beyond the new code (Proof())."""

    auth_id: str | None = None
    step: int | None = None
    recovery_hash: str | None = None
    sms_hash: str | None = None
    sms_purpose: str | None = None
    phone: Phone | None = None
    pass_hash: str | None = None


class Effects(NamedTuple):
    """What the same write changes once the proof is accepted."""

    attach: Authenticator | None = None  # attach this authenticator ...
    enrollment_id: str | None = None  # ... made from this pending enrollment
    detach: bool = False  # remove the authenticator and its recovery codes, end every trusted device
    recovery: tuple[str, ...] | None = None  # replace the recovery-code hashes
    attach_phone: str | None = None
    remove_phone: bool = False
    device: Device | None = None  # trust a device, bound to the generation read
    replaces: str | None = None  # the device id read in the new device's slot (None: the slot was free)
    only_factor: bool = False  # the logon's enroll step: no other factor may be attached meanwhile
    replaces_auth: str | None = None  # the attach replaces this authenticator (after a temporary access pass)
    replaces_phone: Phone | None = None  # the phone attach replaces this phone (after a temporary access pass)
    attach_window: bool = False  # allowed by a used access pass: its window must still be open as stored

    def standing(self, before: Standing) -> Standing:
        """The user's standing once these effects are applied on `before` (and the user is listed)."""
        authenticator = (before.authenticator or self.attach is not None) and not self.detach
        phone = (before.phone or self.attach_phone is not None) and not self.remove_phone
        return Standing(True, authenticator, phone, before.app_passwords)
