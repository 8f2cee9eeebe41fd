"""Time, injected: the real clock in the hub, a manual one in tests.

Retention, session expiry, audit checkpoints and (later) consent expiry and
delayed notice all take a `Clock`, so tests move time instead of sleeping,
as Moonfire NVR's base/clock.rs does.
"""

from __future__ import annotations

from collections.abc import Callable

Clock = Callable[[], float]  # returns Unix seconds


class ManualClock:
    """Unix seconds that move only when told to."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
