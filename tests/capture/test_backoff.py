"""Reconnection delays grow exponentially, never pass the cap, and are jittered."""

from __future__ import annotations

import random

import pytest

from camhub.capture.backoff import Backoff


def test_delays_grow_and_stay_under_cap() -> None:
    backoff = Backoff(0.5, 8.0, rng=lambda: 1.0)
    assert [backoff.next_delay() for _ in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    backoff.reset()
    assert backoff.next_delay() == 0.5


def test_jitter_spreads_delays_within_half_to_full() -> None:
    rng = random.Random(7)
    delays = []
    for _ in range(200):
        backoff = Backoff(1.0, 30.0, rng=rng.random)
        delays.append([backoff.next_delay() for _ in range(10)][-1])
    assert all(15.0 <= d <= 30.0 for d in delays)
    assert len({round(d, 3) for d in delays}) > 100  # cameras that failed together do not retry in step


def test_bad_bounds_rejected() -> None:
    with pytest.raises(ValueError, match="initial <= cap"):
        Backoff(5.0, 1.0)
