"""A detect process: some cameras' detect inputs read, decoded and analysed outside the hub's process.

With `detect_processes` set (docs/config.md), the hub starts that many of
these, and each camera with a detect input of its own runs that input here:
the same `InputReader` and `CameraMotion` as in the hub, on a thread per
input, but under this process's own GIL (docs/decisions.md, 2026-12-01,
"past about one core the hub needs processes"). The record input, the
recorder, clips, the index, the web server and MQTT stay in the hub.

What crosses the pipe to the hub, as tuples whose first item names them:

- `status`: an input's status and its watcher's report, when its state changes; `statuses`: every
  input's, every second, in one message;
- `start`, `end`: the recorder's commands, with the event's peak frame as a BGR array;
- `event`: the watcher's bus events (`MotionStarted`, `MotionUpdated`, `MotionEnded`);
- `picture`: the live view's newest frame as a JPEG, answering a request.

From the hub: `add` (a `DetectSpec`), `remove`, `motion`, `detecting`, `fps`,
`picture`, `sync` (every input to run, after the hub had to drop messages),
and `stop` or the pipe's end, which stops every input and the process.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from camhub.capture.media import Frame
from camhub.capture.reader import InputReader
from camhub.capture.shared_pace import SharedPace
from camhub.config import InputConfig, MotionConfig, ReconnectConfig
from camhub.http.live import JPEG_QUALITY
from camhub.jpeg import encode_jpeg
from camhub.logs import setup_logging
from camhub.motion.watcher import CameraMotion
from camhub.recording.finisher import Peak
from camhub.registry import default_registry

log = logging.getLogger(__name__)

STATUS_INTERVAL = 1.0  # seconds between status reports of every input
MAX_WAITING_PICTURES = 8  # live-view requests one camera holds for its next frame; the oldest is answered empty


@dataclass(frozen=True)
class DetectSpec:
    """One camera's detect input as a detect process runs it (pickled across the pipe)."""

    key: str  # unique per camera start in the hub: what the messages about this input are addressed by
    camera: str
    input: InputConfig
    reconnect: ReconnectConfig
    analysis_fps: float
    batch: float
    motion: MotionConfig
    detecting: bool
    secrets: tuple[str, ...]
    records: bool  # the camera has a recorder in the hub for the watcher to drive


class _Pipe:
    """This process's end of the pipe: every reader thread sends through it, one message at a time."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._lock = threading.Lock()

    def send(self, message: tuple[Any, ...]) -> None:
        with self._lock:
            try:
                self._conn.send(message)
            except (OSError, ValueError):
                pass  # the hub is gone; the command thread sees the pipe's end and stops the process


class _Events:
    """The watcher's bus, as the pipe to the hub's."""

    def __init__(self, pipe: _Pipe) -> None:
        self._pipe = pipe

    def publish_threadsafe(self, event: object) -> None:
        self._pipe.send(("event", event))


class _Clips:
    """The camera's recorder in the hub, as the watcher drives it."""

    def __init__(self, pipe: _Pipe, key: str) -> None:
        self._pipe = pipe
        self._key = key

    def start(self, at: float) -> None:
        self._pipe.send(("start", self._key, at))

    def end(self, at: float, peak: Peak | None = None, zones: tuple[str, ...] = ()) -> None:
        picture = None if peak is None else peak.frame.to_ndarray(format="bgr24")
        score = 0.0 if peak is None else peak.score
        self._pipe.send(("end", self._key, at, picture, score, tuple(zones)))


class _Pictures:
    """The live view's side here: the newest analysed frame, sent as a JPEG when the hub asks for it."""

    def __init__(self, pipe: _Pipe) -> None:
        self._pipe = pipe
        self._latest: Frame | None = None
        self._waiting: list[tuple[int, int]] = []  # (request, seq it must be newer than)
        self._lock = threading.Lock()
        self._cache: tuple[int, bytes] | None = None

    def on_frame(self, frame: Frame) -> None:
        self._latest = frame  # before looking for requests, so one added after sees it
        if self._waiting:
            self._answer(frame)

    def on_lost(self) -> None:
        """The last picture stays until a new connection brings a newer one."""

    def ask(self, request: int, after: int, wait: bool) -> None:
        """Send the newest frame if newer than `after`; else, with `wait`, at the next frame; else nothing."""
        frame = self._latest
        if frame is not None and frame.seq > after:
            self._pipe.send(("picture", request, frame.seq, self._jpeg(frame)))
            return
        if not wait:
            self._pipe.send(("picture", request, 0, None))
            return
        with self._lock:
            self._waiting.append((request, after))
            dropped = self._waiting[:-MAX_WAITING_PICTURES]
            del self._waiting[:-MAX_WAITING_PICTURES]
        for old, _ in dropped:
            self._pipe.send(("picture", old, 0, None))
        frame = self._latest
        if frame is not None:
            self._answer(frame)  # a frame that came between the look above and the request's adding

    def _answer(self, frame: Frame) -> None:
        with self._lock:
            due = [request for request, after in self._waiting if after < frame.seq]
            self._waiting = [(request, after) for request, after in self._waiting if after >= frame.seq]
        if due:
            data = self._jpeg(frame)
            for request in due:
                self._pipe.send(("picture", request, frame.seq, data))

    def _jpeg(self, frame: Frame) -> bytes:
        cache = self._cache
        if cache is None or cache[0] != frame.seq:
            cache = self._cache = (frame.seq, encode_jpeg(frame.frame, JPEG_QUALITY))
        return cache[1]


@dataclass
class _Camera:
    reader: InputReader
    motion: CameraMotion
    pictures: _Pictures
    task: asyncio.Task[None]


class DetectProcess:
    """The cameras one detect process runs, by name; commands come from the hub through the pipe."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._pipe = _Pipe(conn)
        self._cameras: dict[str, _Camera] = {}  # by DetectSpec.key
        self._pace = SharedPace("detect-turn")  # one thread reads every batched input (camhub.capture.shared_pace)

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        commands: asyncio.Queue[tuple[Any, ...] | None] = asyncio.Queue()
        threading.Thread(target=self._receive, args=(loop, commands), name="detect-commands", daemon=True).start()
        reports = asyncio.create_task(self._report_every_second())
        try:
            while (message := await commands.get()) is not None:
                try:
                    self._handle(message)
                except Exception:  # a bad command must not stop the other cameras
                    log.exception("detect process: command %r failed", message[0])
        finally:
            reports.cancel()
            tasks = [camera.task for camera in self._cameras.values()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(reports, *tasks, return_exceptions=True)

    def _receive(self, loop: asyncio.AbstractEventLoop, commands: asyncio.Queue[tuple[Any, ...] | None]) -> None:
        while True:
            try:
                message: tuple[Any, ...] | None = self._conn.recv()
            except (EOFError, OSError):
                message = None  # the hub is gone: stop
            if message is not None and message[0] == "stop":
                message = None
            loop.call_soon_threadsafe(commands.put_nowait, message)
            if message is None:
                return

    def _handle(self, message: tuple[Any, ...]) -> None:
        kind, name, *args = message
        if kind == "add":
            self._add(args[0])
            return
        if kind == "sync":
            self._sync(args[0])
            return
        camera = self._cameras.get(name)
        if camera is None:
            return  # removed a moment ago; what was meant for it no longer applies
        if kind == "remove":
            del self._cameras[name]
            camera.task.cancel()
        elif kind == "motion":
            camera.motion.configure(args[0])
        elif kind == "detecting":
            camera.motion.set_detecting(args[0])
        elif kind == "fps":
            camera.reader.set_analysis_fps(args[0])
        elif kind == "picture":
            camera.pictures.ask(*args)
        else:
            log.warning("detect process: unknown command %r ignored", kind)

    def _sync(self, specs: list[DetectSpec]) -> None:
        """Run exactly `specs`, with their settings: the hub dropped messages to this process while it lagged."""
        wanted = {spec.key: spec for spec in specs}
        for key in [key for key in self._cameras if key not in wanted]:
            self._cameras.pop(key).task.cancel()
        for key, spec in wanted.items():
            camera = self._cameras.get(key)
            if camera is None:
                self._add(spec)
                continue
            camera.motion.configure(spec.motion)
            camera.motion.set_detecting(spec.detecting)
            camera.reader.set_analysis_fps(spec.analysis_fps)

    def _add(self, spec: DetectSpec) -> None:
        old = self._cameras.pop(spec.key, None)
        if old is not None:
            old.task.cancel()
        source = default_registry().source_for(spec.input)
        motion = CameraMotion(
            spec.camera,
            spec.motion,
            _Events(self._pipe),
            _Clips(self._pipe, spec.key) if spec.records else None,
            detecting=spec.detecting,
        )
        pictures = _Pictures(self._pipe)
        reader = InputReader(
            spec.camera,
            spec.input,
            source,
            spec.reconnect,
            spec.analysis_fps,
            frames=(motion, pictures),
            secrets=spec.secrets,
            on_state=lambda: self._send_status(spec.key),
            batch=spec.batch,
            shared=self._pace,
        )
        # Registered before its thread starts (at the task's first step), so each state change finds it.
        task = asyncio.create_task(reader.run(), name=f"{spec.camera}:{source.description}")
        self._cameras[spec.key] = _Camera(reader, motion, pictures, task)

    def _status(self, key: str, camera: _Camera) -> tuple[str, dict[str, Any], dict[str, object]]:
        return key, camera.reader.status.as_dict(), camera.motion.report()

    def _send_status(self, key: str) -> None:
        """On a reader thread, at a change of its state: that input's status now (a removed one's: none)."""
        camera = self._cameras.get(key)
        if camera is not None:
            self._pipe.send(("status", *self._status(key, camera)))

    async def _report_every_second(self) -> None:
        while True:
            await asyncio.sleep(STATUS_INTERVAL)
            # One message for all: each send gives up the GIL, and among busy reader threads each return for
            # it is a wait (docs/decisions.md, "past about one core"), so 64 sends a second took seconds.
            self._pipe.send(("statuses", "", [self._status(key, c) for key, c in list(self._cameras.items())]))


def main(conn: Connection, level: int, secrets: tuple[str, ...]) -> None:
    """The process's entry: the hub handles Ctrl-C and stops it through the pipe."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    setup_logging(0, secrets)
    logging.getLogger().setLevel(level)
    try:
        asyncio.run(DetectProcess(conn).serve())
    finally:
        conn.close()
