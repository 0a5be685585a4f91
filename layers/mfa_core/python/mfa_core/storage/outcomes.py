"""What a write whose condition failed found, when the use case decides what that means."""

from __future__ import annotations

from ..lockout import Lockout


class Stale(Exception):
    """The write's conditions did not hold on the state as stored: something changed since the read
    (the proof was used, the authenticator deleted, the user reset...). Read again and decide anew."""


class LockedMeanwhile(Exception):
    """A concurrent failure locked the user between our read and our write."""

    def __init__(self, lockout: Lockout) -> None:
        super().__init__()
        self.lockout = lockout


class Changed(Exception):
    """A single-item write found its item changed since the read; `stored` is the record as it is now."""

    def __init__(self, stored: object) -> None:
        super().__init__()
        self.stored = stored


class Full(Exception):
    """The throttle's count for this window is at its limit, as stored."""
