"""Motion per camera: a frame consumer of the detect input, driving the recorder.

`CameraMotion` is given to its camera at construction and runs on the detect
input's reader thread. For each analysed frame: the detector gives a sample,
the state machine turns samples into events, the recorder gets start/end
commands (thread-safe, no loop hop), and the events go on the bus for MQTT,
the dashboard and the log. The frame with the most motion is kept for the
clip's snapshot.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from camhub.bus import Bus
from camhub.capture.media import Frame
from camhub.config import MotionConfig
from camhub.motion.detector import MotionDetector, MotionEnded, MotionSample, MotionStarted, MotionStateMachine
from camhub.recording.finisher import Peak
from camhub.recording.recorder import CameraRecorder


@dataclass
class MotionStatus:
    active: bool = False
    score: float = 0.0  # changed fraction of the last analysed frame
    events: int = 0
    last_start: float | None = None
    last_end: float | None = None


class CameraMotion:
    """A camera's motion watcher; every method runs on the detect input's reader thread."""

    def __init__(self, camera: str, config: MotionConfig, bus: Bus, recorder: CameraRecorder | None = None) -> None:
        self.camera = camera
        self.bus = bus
        self.recorder = recorder
        self.status = MotionStatus()
        self.detector = MotionDetector(config)
        self.machine = MotionStateMachine(camera, config)
        self._best: Peak | None = None
        self._last_time = 0.0

    def report(self) -> dict[str, object]:
        return asdict(self.status)

    def on_frame(self, frame: Frame) -> None:
        sample = self.detector.analyse(frame.luma, frame.capture_time)
        self._last_time = frame.capture_time
        self.status.score = sample.score
        if sample.motion and (self._best is None or sample.score > self._best.score):
            self._best = Peak(frame.frame, sample.score)
        self._handle(self.machine.update(sample), sample)

    def on_lost(self) -> None:
        """The detect stream went away: an open event ends at its last frame."""
        self.detector.reset()
        self._handle(self.machine.close(self._last_time), None)

    def _handle(self, events: list[MotionStarted | MotionEnded], sample: MotionSample | None) -> None:
        for event in events:
            if isinstance(event, MotionStarted):
                self.status.active, self.status.last_start = True, event.time
                self.status.events += 1
                if self.recorder is not None:
                    self.recorder.start(event.time)
            else:
                self.status.active, self.status.last_end = False, event.end
                if self.recorder is not None:
                    self.recorder.end(event.end, self._best)
                self._best = None
            self.bus.publish_threadsafe(event)
        if not self.machine.active and (sample is None or not sample.motion):
            self._best = None
