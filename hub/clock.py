"""Time, injected, and time as people write it: the one clock type, parser and UTC formatter.

Retention, session expiry, audit checkpoints, consent expiry and delayed
notice all take a `Clock`, so tests move time instead of sleeping, as
Moonfire NVR's base/clock.rs does. Times that come from outside (a query
string, a JSON body) are read by `parse_time` and shown by `utc_text`, so
every route and command takes and prints them the same way.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import Literal

Clock = Callable[[], float]  # returns Unix seconds

LAST_SECOND = 253_402_300_799  # 9999-12-31T23:59:59Z, the last second Python's datetime can show
TIME_HINT = "Unix seconds or ISO 8601 with a zone, like 2026-11-29T10:00:00Z"


class ManualClock:
    """Unix seconds that move only when told to."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def parse_time(value: str | float) -> float:
    """Unix seconds (a number, or its text) or ISO 8601 with a zone, between 1970 and 9999.

    Raises ValueError saying what is wrong; the caller names the field.
    """
    if isinstance(value, str):
        try:
            seconds = float(value)
        except ValueError:
            try:
                parsed = dt.datetime.fromisoformat(value)
            except ValueError:
                raise ValueError(f"{value[:64]!r} is not a time; use {TIME_HINT}") from None
            if parsed.tzinfo is None:
                raise ValueError(f"{value[:64]!r} has no time zone; add Z or +hh:mm") from None
            seconds = parsed.timestamp()
    else:
        seconds = float(value)
    if not math.isfinite(seconds) or not 0 <= seconds <= LAST_SECOND:
        raise ValueError(f"{str(value)[:64]!r} is out of range (1970 to 9999)")
    return seconds


def utc_text(seconds: float, unit: Literal["second", "minute"] = "second") -> str:
    """A time for people: `2026-11-29 10:00:00 UTC`, or to the minute `2026-11-29 10:00 UTC`."""
    shape = "%Y-%m-%d %H:%M:%S UTC" if unit == "second" else "%Y-%m-%d %H:%M UTC"
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime(shape)
