"""One camera: its inputs, the consumers they feed, and its status.

Everything a camera feeds is passed in at construction and never changed
after: the recorder takes the record input's packets, the motion watcher and
the live views take the detect input's analysed frames, each on that input's
reader thread (`camhub.capture.reader`). The camera's summarised state
(online when every input delivers, degraded when some do, offline when none
does) goes on the bus as `CameraStateChanged` whenever it changes, stamped
by the injected clock. The status shows each input and, typed by the
Protocols below, the recorder's and the motion watcher's own reports.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from camhub.bus import Bus
from camhub.capture.media import Frame, Source
from camhub.capture.reader import FrameConsumer, InputReader, PacketConsumer
from camhub.clock import Clock
from camhub.config import CameraConfig, InputConfig, MotionConfig, ReconnectConfig

CameraState = Literal["online", "degraded", "offline"]


@dataclass(frozen=True)
class CameraStateChanged:
    """A camera's summarised state changed; MQTT's availability topic follows it."""

    camera: str
    state: CameraState
    time: float  # Unix seconds, from the hub's clock


class Reporting(Protocol):
    def report(self) -> dict[str, object]:
        """What this consumer shows in its camera's status, as JSON values."""
        ...


class RecordingConsumer(PacketConsumer, Reporting, Protocol):
    """The camera's recorder: takes the record input's packets, shown as `recording` in the status."""


class MotionConsumer(FrameConsumer, Reporting, Protocol):
    """The camera's motion watcher: takes the detect input's frames, shown as `motion` in the status."""

    def configure(self, config: MotionConfig) -> None:
        """New motion settings from the next frame on, without losing what was learnt."""


class StatusView(Protocol):
    """What the pipeline reads of an input's status."""

    @property
    def state(self) -> str: ...

    @property
    def source(self) -> str: ...

    @property
    def last_error(self) -> str | None: ...

    @property
    def last_error_time(self) -> float | None: ...

    def as_dict(self) -> dict[str, Any]: ...


class Input(Protocol):
    """One input as the pipeline runs it: an `InputReader`, or a detect input run in a detect process."""

    @property
    def config(self) -> InputConfig: ...

    @property
    def status(self) -> StatusView: ...

    @property
    def analysis_fps(self) -> float: ...

    @property
    def latest_frame(self) -> Frame | None: ...

    def set_analysis_fps(self, analysis_fps: float) -> None: ...

    async def run(self) -> None: ...


class SeparateDetect(Input, Protocol):
    """A detect-only input run elsewhere (`camhub.capture.detect_pool.RemoteInput`), given to the pipeline built."""

    def watch(self, on_state: Callable[[], None]) -> None: ...


class CameraPipeline:
    """A camera's inputs, read with one thread each, feeding the consumers it was built with."""

    def __init__(
        self,
        name: str,
        config: CameraConfig,
        sources: Sequence[Source],
        reconnect: ReconnectConfig,
        secrets: tuple[str, ...] = (),
        *,
        recorder: RecordingConsumer | None = None,
        motion: MotionConsumer | None = None,
        packets: Sequence[PacketConsumer] = (),
        frames: Sequence[FrameConsumer] = (),
        bus: Bus | None = None,
        clock: Clock = time.time,
        detect: SeparateDetect | None = None,
    ) -> None:
        """`sources` has one source per input of `config`, in order. The record input's packets go to
        `recorder` then `packets`, the detect input's frames to `motion` then `frames` (the live view).
        `detect`, when given, runs the detect-only input in place of a reader here (its source is unused)."""
        if len(sources) != len(config.inputs):
            raise ValueError(f"camera {name!r}: {len(sources)} sources given for {len(config.inputs)} inputs")
        if (recorder is not None or packets) and config.input_for("record") is None:
            raise ValueError(f"camera {name!r}: packets are given to consumers, but no input has the role 'record'")
        self.name = name
        self._recorder = recorder
        self._motion = motion
        self._bus = bus
        self._clock = clock
        packet_consumers = (*((recorder,) if recorder is not None else ()), *packets)
        frame_consumers = (*((motion,) if motion is not None else ()), *frames)
        self._readers: list[Input] = []
        for cfg, source in zip(config.inputs, sources, strict=True):
            if detect is not None and cfg.roles == ("detect",):
                detect.watch(self._input_state_changed)
                self._readers.append(detect)
                continue
            reader = InputReader(
                name,
                cfg,
                source,
                reconnect,
                config.motion.analysis_fps,
                packets=packet_consumers if "record" in cfg.roles else (),
                frames=frame_consumers if "detect" in cfg.roles else (),
                secrets=secrets,
                clock=clock,
                on_state=self._input_state_changed,
                batch=config.motion.batch,
            )
            self._readers.append(reader)
        if detect is not None and detect not in self._readers:
            raise ValueError(f"camera {name!r}: a separate detect input is given, but no input has only 'detect'")
        self._detect = next(r for r in self._readers if "detect" in r.config.roles)
        self._state: CameraState = "offline"
        self._state_lock = threading.Lock()

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            for reader in self._readers:
                tg.create_task(reader.run(), name=f"{self.name}:{reader.status.source}")

    def configure_motion(self, config: MotionConfig) -> None:
        """New motion settings while the camera runs: the analysis rate and the watcher's settings
        (threshold, areas, zones, masks, event timing) apply from the next frame, nothing restarts."""
        self._detect.set_analysis_fps(config.analysis_fps)
        if self._motion is not None:
            self._motion.configure(config)

    @property
    def motion(self) -> MotionConsumer | None:
        """The motion watcher given at construction, if any."""
        return self._motion

    @property
    def latest_frame(self) -> Frame | None:
        return self._detect.latest_frame

    def _summary(self) -> CameraState:
        online = [r.status.state == "online" for r in self._readers]
        return "online" if all(online) else "degraded" if any(online) else "offline"

    def _input_state_changed(self) -> None:
        """On a reader thread (or the loop, as a reader stops): publish the camera's state if it changed."""
        with self._state_lock:  # held while publishing, so the bus gets the changes in their order
            state = self._summary()
            if state == self._state:
                return
            self._state = state
            if self._bus is not None:
                self._bus.publish_threadsafe(CameraStateChanged(self.name, state, self._clock()))

    def status(self) -> dict[str, Any]:
        # "starting": no input has begun connecting yet (the hub holds its cameras until their streams
        # can exist, as the demo does while its scenes render). Never published: the bus's states start later.
        started = any(r.status.state != "starting" for r in self._readers)
        state = self._summary() if started else "starting"
        detect = self._detect.status.as_dict()
        errors = [(r.status.last_error_time or 0.0, r.status.last_error) for r in self._readers if r.status.last_error]
        inputs = [r.status.as_dict() for r in self._readers]
        return {
            "name": self.name,
            "online": state == "online",
            "state": state,
            "fps_in": max((i["packets_per_second"] for i in inputs), default=0.0),
            "fps_analysed": detect["frames_analysed_per_second"],
            "analysis_fps": self._detect.analysis_fps,
            "last_frame_time": detect["last_frame_time"],
            "last_error": max(errors)[1] if errors else None,
            "inputs": inputs,
            "motion": self._motion.report() if self._motion is not None else None,
            "recording": self._recorder.report() if self._recorder is not None else None,
        }
