"""Failed-code counting and lockout, as arithmetic on one small record (the storage keeps it atomic).

A streak of failures locks the user when it reaches `max_failures`; each further lock in the same
streak doubles the wait (up to a day). A success, or a day without a failure, ends the streak."""

from __future__ import annotations

from typing import NamedTuple

from .policy import LockoutSettings

DAY = 86400


class Lockout(NamedTuple):
    fails: int = 0  # failures in the current round (a round ends with a lock)
    level: int = 0  # locks earlier in this streak: the current lock lasts lock_seconds * 2**level
    last_fail_at: int = 0  # epoch seconds; 0 when there is no record

    @property
    def exists(self) -> bool:
        return self.last_fail_at > 0

    def streak_over(self, now: float) -> bool:
        return self.last_fail_at + DAY <= now

    def lock_seconds(self, rules: LockoutSettings) -> int:
        """How long a lock at this record's level lasts."""
        return min(rules.lock_seconds * 2**self.level, DAY)

    def locked_until(self, rules: LockoutSettings) -> int | None:
        if self.fails < rules.max_failures:
            return None
        return self.last_fail_at + self.lock_seconds(rules)

    def retry_after(self, rules: LockoutSettings, now: float) -> int | None:
        """Seconds until the lock ends, or None when codes may be tried now."""
        until = self.locked_until(rules)
        if until is None or until <= now:
            return None
        return max(1, int(until - now + 0.999))

    def attempts_left(self, rules: LockoutSettings) -> int:
        return max(0, rules.max_failures - self.fails)

    def restart(self, rules: LockoutSettings, now: float) -> Lockout | None:
        """The record the next failure writes in place of this one when its round is over, or None
        when that failure simply adds one to the current round."""
        if not self.exists:
            return None
        if self.streak_over(now):
            return Lockout(fails=1, level=0, last_fail_at=int(now))
        until = self.locked_until(rules)
        if until is not None and until <= now:
            return Lockout(fails=1, level=self.level + 1, last_fail_at=int(now))
        return None
