"""Motion per camera: a frame consumer of the detect input, driving the recorder.

`CameraMotion` is given to its camera at construction and runs on the detect
input's reader thread. For each analysed frame: the engine gives a result,
which with the frame's capture time is a sample, the state machine turns
samples into events, the recorder gets start/end
commands (thread-safe, no loop hop), and the events go on the bus for MQTT,
the dashboard and the log. The frame with the most motion is kept for the
clip's snapshot.

Settings change while the hub runs (`configure`, `set_threshold`,
`set_detecting`, from the event loop): the new ones are picked up at the
next frame, and the engine keeps its background.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from camhub.capture.media import Frame
from camhub.config import MotionConfig
from camhub.motion.detector import (
    Box,
    MotionEnded,
    MotionSample,
    MotionStarted,
    MotionStateMachine,
)
from camhub.motion.engine import MotionEngine, MotionResult
from camhub.recording.finisher import Peak

# An open event's peak is announced (`MotionUpdated`) when it grows by this factor, at most this often.
UPDATE_GROWTH = 1.25
UPDATE_INTERVAL = 1.0  # seconds of capture time


@dataclass(frozen=True)
class MotionUpdated:
    """An open motion event reached a new peak (for MQTT's events and the dashboard)."""

    camera: str
    start: float  # as in its MotionStarted
    time: float  # capture time of the frame with the new peak
    score: float  # its changed fraction, 0..1
    box: Box | None  # its changed region, fractions of the frame: x, y, width, height
    zones: tuple[str, ...] = ()  # zones the event touched so far, sorted


@dataclass
class MotionStatus:
    detecting: bool = True  # off: frames are not analysed (switched off while the hub runs)
    threshold: float = 0.0  # luma levels set (with auto_threshold, the least the learnt one may be)
    learnt_threshold: float = 0.0  # luma levels a pixel had to change by in the last analysed frame
    active: bool = False
    score: float = 0.0  # changed fraction of the last analysed frame
    events: int = 0
    last_start: float | None = None
    last_end: float | None = None
    zones: tuple[str, ...] = ()  # zones touched by the last analysed frame


class EventSink(Protocol):
    """Where the watcher's events go: the bus, or in a detect process the pipe to the hub."""

    def publish_threadsafe(self, event: object) -> None: ...


class ClipCommands(Protocol):
    """The camera's recorder as the watcher drives it: thread-safe start and end commands."""

    def start(self, at: float) -> None: ...

    def end(self, at: float, peak: Peak | None = None, zones: tuple[str, ...] = ()) -> None: ...


class CameraMotion:
    """A camera's motion watcher; every method runs on the detect input's reader thread."""

    def __init__(
        self,
        camera: str,
        config: MotionConfig,
        bus: EventSink,
        recorder: ClipCommands | None = None,
        *,
        detecting: bool = True,
    ) -> None:
        self.camera = camera
        self.bus = bus
        self.recorder = recorder
        self.status = MotionStatus(detecting=detecting, threshold=config.threshold)
        self.engine = MotionEngine(config)
        self.machine = MotionStateMachine(camera, config)
        self._best: Peak | None = None
        self._last_time = 0.0
        self._announced = (0.0, 0.0)  # (score, capture time) of the last MotionStarted or MotionUpdated
        # Set from the event loop, read on the reader thread at its next frame (a plain assignment each).
        self._detecting = detecting
        self._wanted = config  # the settings asked for; `_version` counts the asks, `_applied` the last one taken
        self._version = self._applied = 0

    def report(self) -> dict[str, object]:
        # Its fields are all immutable values, so a shallow copy is asdict's result without its recursion,
        # at a tenth of the cost: a detect process reports every camera's once a second.
        return dict(vars(self.status))

    # -- from the event loop: take effect at the next frame
    def set_detecting(self, on: bool) -> None:
        self._detecting = on

    def set_threshold(self, threshold: float) -> None:
        self.configure(self._wanted.model_copy(update={"threshold": threshold}))

    def configure(self, config: MotionConfig) -> None:
        """New motion settings (threshold, zones, masks, areas, event timing) from the next frame on."""
        self._wanted = config
        self._version += 1

    # -- the detect input's reader thread
    def on_frame(self, frame: Frame) -> None:
        if not self._follow_settings(frame.capture_time):
            return
        result = self.engine.analyse(frame.luma)
        sample = sample_of(result, frame.capture_time, frame.frame.width, frame.frame.height)
        self._last_time = frame.capture_time
        self.status.score = sample.score
        self.status.zones = sample.zones
        self.status.learnt_threshold = result.threshold
        if sample.motion and (self._best is None or sample.score > self._best.score):
            self._best = Peak(frame.frame, sample.score)
        self._handle(self.machine.update(sample), sample)
        if self.machine.active and sample.motion:
            self._maybe_update(sample)

    def _follow_settings(self, now: float) -> bool:
        """Apply what the loop set; whether this frame is analysed."""
        version = self._version
        if version != self._applied:
            config = self._wanted
            self.engine.configure(config)
            self.machine.config = config
            self.status.threshold = config.threshold
            self._applied = version
        if self._detecting == self.status.detecting:
            return self._detecting
        self.status.detecting = self._detecting
        if not self._detecting:  # an open event ends now; the background is learnt again when it is back on
            self._handle(self.machine.close(self._last_time or now), None)
            self.engine.reset()
            self.status.score = 0.0
        return self._detecting

    def _maybe_update(self, sample: MotionSample) -> None:
        score, at = self._announced
        if sample.score >= score * UPDATE_GROWTH and sample.time - at >= UPDATE_INTERVAL:
            start = self.status.last_start if self.status.last_start is not None else sample.time
            self._announced = (sample.score, sample.time)
            zones = tuple(sorted(self.machine.zones))
            self.bus.publish_threadsafe(MotionUpdated(self.camera, start, sample.time, sample.score, sample.box, zones))

    def on_lost(self) -> None:
        """The detect stream went away: an open event ends at its last frame."""
        self.engine.reset()
        self._handle(self.machine.close(self._last_time), None)

    def _handle(self, events: list[MotionStarted | MotionEnded], sample: MotionSample | None) -> None:
        for event in events:
            if isinstance(event, MotionStarted):
                self.status.active, self.status.last_start = True, event.time
                self.status.events += 1
                self._announced = (event.score, event.raised_at)
                if self.recorder is not None:
                    self.recorder.start(event.time)
            else:
                self.status.active, self.status.last_end = False, event.end
                if self.recorder is not None:
                    self.recorder.end(event.end, self._best, event.zones)
                self._best = None
            self.bus.publish_threadsafe(event)
        if not self.machine.active and (sample is None or not sample.motion):
            self._best = None


def sample_of(result: MotionResult, time: float, width: int, height: int) -> MotionSample:
    """The engine's result at a capture time, its largest region as fractions of the frame."""
    box: Box | None = None
    if result.boxes:
        x, y, w, h = result.boxes[0]
        box = (x / width, y / height, w / width, h / height)
    return MotionSample(
        time=time,
        score=result.score,
        motion=result.motion,
        box=box,
        recalibrated=result.global_change,
        zones=result.zones,
    )
