"""The test suite. Its helper modules (tests/helpers_*.py) get pytest's assertion rewriting, as the tests do."""

from pathlib import Path

import pytest

pytest.register_assert_rewrite(*sorted(f"{__name__}.{p.stem}" for p in Path(__file__).parent.glob("helpers_*.py")))
