"""A camera's detect input as the hub sees it when a detect process runs it (`camhub.capture.detect_pool`).

`RemoteInput` stands in the camera's pipeline for that input's reader: its
status is what the process last reported, and its watcher (`RemoteMotion`)
and live view (`RemotePictures`) forward settings and requests to it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from camhub.bus import Bus
from camhub.capture.detect_process import DetectSpec
from camhub.capture.media import Frame
from camhub.capture.reader import InputStatus
from camhub.clock import Clock
from camhub.config import InputConfig, MotionConfig
from camhub.motion.detector import MotionEnded
from camhub.motion.watcher import ClipCommands

if TYPE_CHECKING:
    from camhub.capture.detect_pool import DetectProcesses, DetectWorker

PICTURE_TIMEOUT = 5.0  # seconds to wait for a live picture that a process has at hand


class RemoteStatus:
    """A detect input's status, as its process last reported it (`InputStatus.as_dict`)."""

    def __init__(self, config: InputConfig, source: str) -> None:
        self._values = InputStatus(roles=config.roles, source=source).as_dict()

    def set(self, values: dict[str, Any]) -> None:
        self._values = values

    def change(self, **values: Any) -> None:
        self._values = {**self._values, **values}

    def as_dict(self) -> dict[str, Any]:
        return dict(self._values)

    @property
    def state(self) -> str:
        return str(self._values["state"])

    @property
    def source(self) -> str:
        return str(self._values["source"])

    @property
    def last_error(self) -> str | None:
        error = self._values["last_error"]
        return None if error is None else str(error)

    @property
    def last_error_time(self) -> float | None:
        at = self._values["last_error_time"]
        return None if at is None else float(at)


class RemoteMotion:
    """The camera's motion watcher in its detect process: its report, and settings sent to it."""

    def __init__(self, remote: RemoteInput) -> None:
        self._remote = remote
        self._report: dict[str, object] = {"detecting": remote.spec.detecting, "active": False}

    def report(self) -> dict[str, object]:
        return dict(self._report)

    def reported(self, report: dict[str, object]) -> None:
        """What the watcher in the process last reported (on the worker's receiving thread)."""
        self._report = report

    def configure(self, config: MotionConfig) -> None:
        self._remote.update_spec(motion=config)
        self._remote.send("motion", config)

    def set_detecting(self, on: bool) -> None:
        self._remote.update_spec(detecting=on)
        self._remote.send("detecting", on)

    # The watcher is fed in its process; a pipeline never hands frames to this one.
    def on_frame(self, frame: Frame) -> None:
        raise RuntimeError(f"camera {self._remote.spec.camera}: its frames are analysed in a detect process")

    def on_lost(self) -> None:
        pass


class RemotePictures:
    """The camera's live view: the newest analysed frame as a JPEG, asked of its detect process."""

    def __init__(self, remote: RemoteInput) -> None:
        self._remote = remote

    async def jpeg(self) -> tuple[int, bytes] | None:
        """The newest frame as (seq, JPEG), or None before the first frame."""
        return await self._remote.ask_picture(0, False, PICTURE_TIMEOUT)

    async def next_jpeg(self, after_seq: int, timeout: float) -> tuple[int, bytes] | None:
        """Wait up to `timeout` seconds for a frame newer than `after_seq`."""
        return await self._remote.ask_picture(after_seq, True, timeout)


class RemoteInput:
    """A camera's detect input run by a detect process: what its pipeline needs of a reader."""

    def __init__(self, pool: DetectProcesses, spec: DetectSpec, recorder: ClipCommands | None, source: str) -> None:
        self._pool = pool
        self.spec = spec
        self.recorder = recorder
        self.config = spec.input
        self.status = RemoteStatus(spec.input, source)
        self.motion = RemoteMotion(self)
        self.pictures = RemotePictures(self)
        self.latest_frame: Frame | None = None  # frames stay in the detect process
        self._worker: DetectWorker | None = None
        self._on_state: Callable[[], None] = lambda: None

    @property
    def analysis_fps(self) -> float:
        return self.spec.analysis_fps

    def set_analysis_fps(self, analysis_fps: float) -> None:
        self.update_spec(analysis_fps=analysis_fps)
        self.send("fps", analysis_fps)

    def watch(self, on_state: Callable[[], None]) -> None:
        """Call `on_state` after each change of `status.state` (the pipeline's summary)."""
        self._on_state = on_state

    def update_spec(self, **changes: Any) -> None:
        """Settings in force, sent again when the process is restarted."""
        self.spec = replace(self.spec, **changes)

    def send(self, kind: str, *args: Any) -> None:
        if self._worker is not None:
            self._worker.send((kind, self.spec.key, *args))

    async def run(self) -> None:
        """Run in a detect process until cancelled."""
        self._worker = self._pool.assign(self)
        try:
            await asyncio.get_running_loop().create_future()  # until cancelled
        finally:
            self._worker.remove(self)
            self._worker = None
            self.status.change(state="stopped")
            self._on_state()

    async def ask_picture(self, after: int, wait: bool, timeout: float) -> tuple[int, bytes] | None:
        if self._worker is None:
            return None
        return await self._pool.ask_picture(self._worker, self.spec.key, after, wait, timeout)

    # -- on the worker's receiving thread
    def reported(self, values: dict[str, Any], motion: dict[str, object]) -> None:
        before = self.status.state
        self.status.set(values)
        self.motion.reported(motion)
        if self.status.state != before:
            self._on_state()

    def lost(self, reason: str, clock: Clock, bus: Bus) -> None:
        """Its process ended: an open event ends at the last analysed frame, and the input waits to restart."""
        values = self.status.as_dict()
        report = self.motion.report()
        if report.get("active"):
            at = values["last_frame_time"] or clock()
            start = report.get("last_start")
            start = float(start) if isinstance(start, (int, float)) else at
            if self.recorder is not None:
                self.recorder.end(at)
            score = report.get("score")
            bus.publish_threadsafe(
                MotionEnded(self.spec.camera, start, at, float(score) if isinstance(score, float) else 0.0, at)
            )
            self.motion.reported({**report, "active": False, "last_end": at})
        failures = int(values["failures"]) + 1
        self.status.change(state="retrying", last_error=reason, last_error_time=clock(), failures=failures)
        self._on_state()
