"""Capped exponential backoff with jitter, for reconnecting to cameras."""

from __future__ import annotations

import random
from collections.abc import Callable


class Backoff:
    """Delays of initial * 2**n, capped, each scaled by a random factor in [0.5, 1].

    The jitter keeps many cameras that failed together from retrying in step;
    the lower bound keeps a retry from coming instantly. No delay exceeds `cap`.
    """

    def __init__(self, initial: float, cap: float, rng: Callable[[], float] = random.random) -> None:
        if initial <= 0 or cap < initial:
            raise ValueError(f"need 0 < initial <= cap, got initial={initial}, cap={cap}")
        self.initial = initial
        self.cap = cap
        self._rng = rng
        self.attempts = 0

    def next_delay(self) -> float:
        ceiling = min(self.cap, self.initial * 2.0 ** min(self.attempts, 60))
        self.attempts += 1
        return ceiling * (0.5 + 0.5 * self._rng())

    def reset(self) -> None:
        self.attempts = 0
