"""Retrying what lost a race: jittered, growing pauses within one request's time budget."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator

# How long one request may keep retrying lost races before it answers 503: well inside API Gateway's
# 29 s and the function's 15 s timeout, long enough for hundreds of writers on one item to get through.
CONTENTION_BUDGET_SECONDS = 6.0
FIRST_PAUSE_SECONDS = 0.005
MAX_PAUSE_SECONDS = 0.2


def pauses(budget: float = CONTENTION_BUDGET_SECONDS) -> Iterator[None]:
    """Yields once at once, then again after each jittered, growing pause, until the budget is spent.

    Full jitter: writers that collided pick different moments to try again, so they stop colliding."""
    deadline = time.monotonic() + budget
    ceiling = FIRST_PAUSE_SECONDS
    yield
    while True:
        pause = random.uniform(0, ceiling)  # noqa: S311 - timing jitter, not a secret
        if time.monotonic() + pause > deadline:
            return
        time.sleep(pause)
        ceiling = min(ceiling * 2, MAX_PAUSE_SECONDS)
        yield
