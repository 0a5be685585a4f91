"""`make soak` in small (a few seconds, a few workers) on both engines: user journeys under load, then a
check of the table for lost writes, double accepts and failure counts other than answered."""

import pytest

from infra import soak

pytestmark = pytest.mark.both_engines


def test_a_short_soak_loses_nothing_and_accepts_no_code_twice(live):
    result = soak.run(live, seconds=6, workers=6)
    assert result["journeys"] >= 6, result
    assert result["errors"] == 0, result["error_samples"]
    assert result["double_accepts"] == 0 and result["lost_writes"] == [], result
