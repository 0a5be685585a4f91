"""Caps and throttles, as plain rules on what is stored (storage.guarantees makes them the conditions
of the writes; the use cases answer with them)."""

from __future__ import annotations

from .lockout import DAY
from .model import SmsChallenge

SMS_SECONDS = 300  # an SMS code's life
SMS_MIN_GAP_SECONDS = 30
SMS_PER_DAY = 10  # per user and UTC day: SMS costs money and a flood annoys the phone's owner
# The day's limits per number and per tenant are the tenant's to set: policy.SmsSettings.
MAX_TRUSTED_DEVICES = 10  # the device slots of a user
MAX_APP_PASSWORDS = 40
APP_PASSWORD_FAILURES_PER_MINUTE = 10  # per user: past it even the right password waits for the minute
ACCESS_PASS_ATTACH_SECONDS = 15 * 60  # after a temporary access pass logon, the time to attach a new factor
ACCESS_PASS_HOURS = (1, 72)  # how long an admin may make one live
STATS_DAYS = 90  # the days of counts the report can show


def sms_wait(seen: SmsChallenge | None, now: float) -> float | None:
    """Seconds until another SMS may be sent after `seen`, or None when one may be sent now."""
    if seen is None:
        return None
    wait = seen.last_sent_at + SMS_MIN_GAP_SECONDS - now
    if wait > 0:
        return wait
    if seen.day == int(now) // DAY and seen.day_count >= SMS_PER_DAY:
        return until_next_day(now)
    return None


def until_next_day(now: float) -> float:
    """Seconds until the next UTC midnight, when every day's count of SMS starts again."""
    return (int(now) // DAY + 1) * DAY - now


def minute_of(now: float) -> int:
    """The app-password throttle's window: failures are counted per clock minute."""
    return int(now) // 60


def minute_left(now: float) -> int:
    return 60 - int(now) % 60
