"""Scoring motion detectors against the corpus's ground truth (used by bench/motion.py).

Every detector's per-frame motion flag goes through the same event logic, the
hub's `MotionStateMachine` with the default `MotionConfig` (start after
`start_frames` motion frames, end after `post_roll` quiet seconds), so the
detectors are compared on the events a user would get, not on raw frames.

- An event matches a ground-truth window when their spans overlap (the
  event's span runs from its start to its end, post-roll included).
  Matching events are true positives; every other event is a false positive,
  and so is any event in a scenario that expects none.
- Recall counts windows matched by at least one event; precision counts
  events that match a window; F1 is their harmonic mean.
- Onset is how long after a window opens the event that covers it began:
  `start` is the first frame of the motion run (what the recorder's pre-roll
  counts from), `raised` the frame that completed the run (when MQTT hears).
  Measured from the first analysed frame at or after the window's start, in
  seconds and in analysed frames; 0 when an event was already open.
- Slow-mover coverage: of the whole seconds in which the truth says something
  moves, the fraction in which the detector flagged at least one frame.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from camhub.config import MotionConfig
from camhub.motion.detector import MotionEnded, MotionSample, MotionStarted, MotionStateMachine

Window = tuple[float, float]


@dataclass(frozen=True)
class Event:
    start: float  # first frame of the motion run, seconds
    raised: float  # the frame that started the event
    end: float  # the frame that ended it (post-roll included), or the end of the video


@dataclass
class Score:
    """Counts that add up across scenarios; the rates are computed from the sums."""

    events: int = 0
    true_events: int = 0
    windows: int = 0
    windows_hit: int = 0
    onsets: list[float] = field(default_factory=list)  # seconds, one per window hit
    raise_delays: list[float] = field(default_factory=list)  # seconds, one per window hit
    moving_seconds: int = 0
    flagged_seconds: int = 0

    @property
    def false_events(self) -> int:
        return self.events - self.true_events

    @property
    def precision(self) -> float | None:
        return self.true_events / self.events if self.events else None

    @property
    def recall(self) -> float | None:
        return self.windows_hit / self.windows if self.windows else None

    @property
    def f1(self) -> float | None:
        p, r = self.precision, self.recall
        if r is None and p is None:
            return None
        if not p or not r:
            return 0.0
        return 2 * p * r / (p + r)

    @property
    def coverage(self) -> float | None:
        return self.flagged_seconds / self.moving_seconds if self.moving_seconds else None

    def add(self, other: Score) -> None:
        self.events += other.events
        self.true_events += other.true_events
        self.windows += other.windows
        self.windows_hit += other.windows_hit
        self.onsets += other.onsets
        self.raise_delays += other.raise_delays
        self.moving_seconds += other.moving_seconds
        self.flagged_seconds += other.flagged_seconds


def events_from_flags(
    times: Sequence[float], flags: Sequence[bool], frame_interval: float, config: MotionConfig | None = None
) -> list[Event]:
    """Run per-frame flags through the hub's state machine; an event still open at the end closes there."""
    machine = MotionStateMachine("bench", config or MotionConfig())
    events: list[Event] = []
    open_event: MotionStarted | None = None
    for t, flag in zip(times, flags, strict=True):
        for change in machine.update(MotionSample(time=t, score=1.0 if flag else 0.0, motion=flag)):
            open_event = _note(change, open_event, events)
    end = (times[-1] + frame_interval) if times else 0.0
    for change in machine.close(end):
        open_event = _note(change, open_event, events)
    return events


def _note(change: object, open_event: MotionStarted | None, events: list[Event]) -> MotionStarted | None:
    if isinstance(change, MotionStarted):
        return change
    if isinstance(change, MotionEnded) and open_event is not None:
        events.append(Event(open_event.time, open_event.raised_at, change.end))
    return None


def overlaps(event: Event, window: Window) -> bool:
    return event.start <= window[1] and window[0] <= event.end


def score_events(events: Sequence[Event], windows: Sequence[Window], fps: float) -> Score:
    """Match one video's events to its windows (see the module docstring)."""
    score = Score(events=len(events), windows=len(windows))
    score.true_events = sum(1 for e in events if any(overlaps(e, w) for w in windows))
    for window in windows:
        covering = [e for e in events if overlaps(e, window)]
        if not covering:
            continue
        score.windows_hit += 1
        first = min(covering, key=lambda e: e.start)
        opened = math.ceil(window[0] * fps - 1e-9) / fps  # the first analysed frame in the window
        score.onsets.append(max(0.0, first.start - opened))
        score.raise_delays.append(max(0.0, first.raised - opened))
    return score


def movement_seconds(times: Sequence[float], moving: Sequence[bool], flags: Sequence[bool]) -> tuple[int, int]:
    """(seconds in which something moves, those of them with at least one flagged frame)."""
    seconds = {math.floor(t) for t, m in zip(times, moving, strict=True) if m}
    flagged = {math.floor(t) for t, m, f in zip(times, moving, flags, strict=True) if m and f}
    return len(seconds), len(flagged)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by the nearest rank: a value that occurred."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: Iterable[float]) -> float:
    values = list(values)
    return statistics.median(values) if values else math.nan
