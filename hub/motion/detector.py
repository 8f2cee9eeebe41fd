"""Motion events: samples in, `MotionStarted` / `MotionEnded` out.

`MotionStateMachine` is one camera's event logic, pure and synchronous like
the engine that feeds it (`camhub.motion.engine`): it takes one
`MotionSample` per analysed frame (the engine's result with the frame's
capture time) and returns the events it causes: start after N motion frames,
end after a quiet post-roll, split events longer than a maximum. It keeps
the zones an event touched and its score history, from which the snapshot
frame is chosen (the peak).

It reads no clock: every time is the frame's capture time in Unix seconds,
so tests replay recorded or simulated frames without sleeping.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from camhub.config import MotionConfig

Box = tuple[float, float, float, float]
# Capture times are decimal fractions in binary floats (9.2 - 5.2 < 4.0): comparisons allow this much.
TIME_EPSILON = 1e-6
# Scores kept per event for choosing its snapshot: a 5-minute event at 5 fps.
HISTORY = 1500


@dataclass(frozen=True)
class MotionSample:
    """What the engine saw in one frame, at the frame's capture time."""

    time: float  # capture time, Unix seconds
    score: float  # changed fraction of the unmasked frame, 0..1
    motion: bool  # enough change where it counts
    box: Box | None = None  # changed region as fractions of the frame: x, y, width, height
    recalibrated: bool = False  # a global change (light switch, camera moved) reset the background
    zones: tuple[str, ...] = ()  # zones touched in this frame


@dataclass(frozen=True)
class MotionStarted:
    camera: str
    time: float  # capture time of the first frame of the motion run, Unix seconds
    raised_at: float = 0.0  # capture time of the frame that completed the run and started the event
    score: float = 0.0  # that frame's changed fraction, 0..1
    box: Box | None = None  # that frame's largest changed region, fractions of the frame: x, y, width, height
    zones: tuple[str, ...] = ()  # zones the run touched so far, sorted


@dataclass(frozen=True)
class MotionEnded:
    camera: str
    start: float  # Unix seconds, as in the matching MotionStarted
    end: float  # capture time of the frame that ended the event (post-roll included)
    peak_score: float  # the highest score in the event, 0..1
    peak_time: float  # capture time of the frame with that score
    zones: tuple[str, ...] = ()  # every zone the event touched, sorted


MotionEvent = MotionStarted | MotionEnded


class MotionStateMachine:
    """Turns one camera's samples into motion events.

    An event starts after `start_frames` consecutive motion samples (its start
    is the first of them, so a recorder's pre-roll covers the whole run), ends
    once no motion has been seen for `post_roll` seconds, and is split (ended
    and restarted at the same time) when it reaches `max_event_length` while
    motion continues. Sample times must not decrease.
    """

    def __init__(self, camera: str, config: MotionConfig | None = None) -> None:
        self.camera = camera
        self.config = config or MotionConfig()
        self._run = 0  # consecutive motion samples while idle
        self._start: float | None = None  # start of the run or of the open event
        self._last_motion = 0.0
        self._peak: tuple[float, float] = (0.0, 0.0)  # (score, time)
        self._zones: set[str] = set()  # touched by the run or the open event
        self._history: deque[tuple[float, float]] = deque(maxlen=HISTORY)  # (time, score) of its motion frames
        self._active = False

    @property
    def active(self) -> bool:
        """True while an event is open (started and not yet ended)."""
        return self._active

    @property
    def history(self) -> tuple[tuple[float, float], ...]:
        """(capture time, score) of the motion frames of the run or open event, oldest first (bounded)."""
        return tuple(self._history)

    @property
    def zones(self) -> frozenset[str]:
        """Zones touched by the run or the open event so far."""
        return frozenset(self._zones)

    @property
    def peak(self) -> tuple[float, float]:
        """(score, capture time) of the best frame of the run or open event: the snapshot's frame."""
        return self._peak

    def update(self, sample: MotionSample) -> list[MotionEvent]:
        """Feed one sample; return the events it causes (usually none)."""
        if not self._active:
            return self._update_idle(sample)
        events: list[MotionEvent] = []
        assert self._start is not None
        if sample.motion:
            self._last_motion = sample.time
            self._note_peak(sample)
        if sample.time - self._start >= self.config.max_event_length - TIME_EPSILON:
            events.append(self._end(sample.time))
            if sample.motion:
                self._begin(sample)
                self._active = True
                events.append(
                    MotionStarted(self.camera, sample.time, sample.time, sample.score, sample.box, sample.zones)
                )
        elif not sample.motion and sample.time - self._last_motion >= self.config.post_roll:
            events.append(self._end(sample.time))
        return events

    def close(self, time: float) -> list[MotionEvent]:
        """End an open event at `time`, e.g. when the stream stops."""
        if not self._active:
            self._run = 0
            return []
        return [self._end(time)]

    def _update_idle(self, sample: MotionSample) -> list[MotionEvent]:
        if not sample.motion:
            self._run = 0
            return []
        if self._run == 0:
            self._begin(sample)
        else:
            self._note_peak(sample)
        self._run += 1
        self._last_motion = sample.time
        if self._run < self.config.start_frames:
            return []
        self._active = True
        assert self._start is not None
        zones = tuple(sorted(self._zones))
        return [MotionStarted(self.camera, self._start, sample.time, sample.score, sample.box, zones)]

    def _begin(self, sample: MotionSample) -> None:
        self._start = sample.time
        self._peak = (sample.score, sample.time)
        self._last_motion = sample.time
        self._zones = set(sample.zones)
        self._history.clear()
        self._history.append((sample.time, sample.score))

    def _note_peak(self, sample: MotionSample) -> None:
        self._zones.update(sample.zones)
        self._history.append((sample.time, sample.score))
        if sample.score > self._peak[0]:
            self._peak = (sample.score, sample.time)

    def _end(self, time: float) -> MotionEnded:
        assert self._start is not None
        ended = MotionEnded(self.camera, self._start, time, self._peak[0], self._peak[1], tuple(sorted(self._zones)))
        self._active = False
        self._run = 0
        self._start = None
        return ended
