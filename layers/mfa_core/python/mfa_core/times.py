"""How the API writes a moment: ISO 8601 in UTC, to the second."""

from datetime import UTC, datetime


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
