"""The clock is a value passed in, so tests can inject time."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Protocol

from pydantic import AfterValidator


class Clock(Protocol):
    def __call__(self) -> datetime: ...


def utc_now() -> datetime:
    """The real clock: timezone-aware UTC."""
    return datetime.now(UTC)


def as_utc(ts: datetime) -> datetime:
    """A stored timestamp as timezone-aware UTC (SQLite hands back naive UTC values)."""
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


# A wire timestamp: always with its offset (RFC 3339 date-time, as the OpenAPI documents),
# also when it was read back from SQLite without one.
UtcDateTime = Annotated[datetime, AfterValidator(as_utc)]
