"""One camera: its inputs read in their own threads, reconnected with backoff.

Each input of a camera runs in a dedicated reader thread, so a camera that
is down, slow or sending garbage blocks only its own thread. Packets of the
record input and frames of the detect input (decoded at the analysis rate)
go out through bounded fan-outs. Status is kept per input and summarised
per camera; errors in it are redacted.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from camhub.capture.backoff import Backoff
from camhub.capture.fanout import Fanout
from camhub.capture.media import Frame, OpenStream, Packet, Source, StreamInfo
from camhub.config import CameraConfig, InputConfig, ReconnectConfig
from camhub.errors import SourceError
from camhub.redact import redact

log = logging.getLogger(__name__)

SourceFactory = Callable[[InputConfig], Source]


class PacketSink(Protocol):
    """Takes every packet of an input on its reader thread (the recorder)."""

    def on_connect(self, stream: OpenStream) -> None: ...

    def on_packet(self, packet: Packet) -> None: ...

    def on_disconnect(self) -> None: ...


# Consecutive undecodable packets after which the input is treated as broken.
MAX_DECODE_ERRORS = 50
# Seconds a connection must deliver before its backoff is forgotten.
STABLE_AFTER = 5.0
# Seconds a stopping reader thread is given to close its connection.
STOP_GRACE = 2.0


class RateMeter:
    """Events per second over the last few seconds, safe to read from any thread."""

    def __init__(self, window: float = 5.0) -> None:
        self._window = window
        self._samples: deque[tuple[float, int]] = deque()
        self.count = 0

    def tick(self, now: float) -> None:
        self.count += 1
        if not self._samples or now - self._samples[-1][0] >= 0.5:
            self._samples.append((now, self.count))
            while self._samples and now - self._samples[0][0] > self._window:
                self._samples.popleft()

    def rate(self, now: float) -> float:
        samples = list(self._samples)
        if not samples or now - samples[-1][0] > self._window:
            return 0.0
        t0, c0 = samples[0]
        span = now - t0
        return (self.count - c0) / span if span > 0.5 else 0.0


@dataclass
class InputStatus:
    roles: tuple[str, ...]
    source: str
    state: str = "starting"  # starting, connecting, online, retrying, stopped
    info: StreamInfo | None = None
    last_packet_time: float | None = None
    last_frame_time: float | None = None
    last_error: str | None = None
    last_error_time: float | None = None
    connects: int = 0
    failures: int = 0
    packets: RateMeter = field(default_factory=RateMeter)
    frames: RateMeter = field(default_factory=RateMeter)
    decode_errors: int = 0
    retry_in: float | None = None

    def as_dict(self, now: float) -> dict[str, Any]:
        info = self.info
        return {
            "roles": list(self.roles),
            "source": self.source,
            "state": self.state,
            "codec": info.codec if info else None,
            "width": info.width if info else None,
            "height": info.height if info else None,
            "stream_fps": round(info.fps, 3) if info and info.fps else None,
            "packets_per_second": round(self.packets.rate(now), 2),
            "frames_analysed_per_second": round(self.frames.rate(now), 2),
            "packets_received": self.packets.count,
            "frames_analysed": self.frames.count,
            "last_packet_time": self.last_packet_time,
            "last_frame_time": self.last_frame_time,
            "last_error": self.last_error,
            "last_error_time": self.last_error_time,
            "connects": self.connects,
            "failures": self.failures,
            "decode_errors": self.decode_errors,
            "retry_in": self.retry_in,
        }


class InputReader:
    """Reads one input forever in its own thread until stopped."""

    def __init__(
        self,
        camera: str,
        config: InputConfig,
        source: Source,
        reconnect: ReconnectConfig,
        analysis_fps: float,
        packets: Fanout[Packet] | None,
        frames: Fanout[Frame] | None,
        secrets: tuple[str, ...] = (),
    ) -> None:
        self.camera = camera
        self.config = config
        self.source = source
        self.status = InputStatus(roles=config.roles, source=source.description)
        self._backoff = Backoff(reconnect.initial, reconnect.cap)
        self._interval = 1.0 / analysis_fps
        self._packets = packets
        self._frames = frames
        self._secrets = secrets
        self._stop = threading.Event()
        self._frame_seq = 0
        self.latest_frame: Frame | None = None
        # Called on this reader's thread: for each analysed frame, and when the connection is lost.
        self.frame_listeners: list[Callable[[Frame], None]] = []
        self.lost_listeners: list[Callable[[], None]] = []
        self.sink: PacketSink | None = None

    async def run(self) -> None:
        """Run the reader thread until cancelled; cancellation stops the thread."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()

        def target() -> None:
            try:
                self._read_forever()
            finally:
                try:
                    loop.call_soon_threadsafe(lambda: done.done() or done.set_result(None))
                except RuntimeError:
                    pass  # the loop closed while this thread finished a slow read; nobody waits

        thread = threading.Thread(
            target=target, name=f"camera:{self.camera}:{'+'.join(self.config.roles)}", daemon=True
        )
        thread.start()
        try:
            await asyncio.shield(done)
        except asyncio.CancelledError:
            self._stop.set()
            # Give the thread a moment to close its connection; a read stuck in
            # FFmpeg ends at its own timeout and the daemon thread then exits.
            try:
                await asyncio.wait_for(asyncio.shield(done), STOP_GRACE)
            except TimeoutError:
                log.debug("camera %s: reader still busy after %.0f s", self.camera, STOP_GRACE)
            raise
        finally:
            self._stop.set()
            self.status.state = "stopped"

    def _fail(self, message: str) -> None:
        status = self.status
        error = redact(message, self._secrets)
        # Say it once per distinct error, not on every retry of a camera that stays down.
        level = logging.WARNING if error != status.last_error or status.state == "online" else logging.DEBUG
        log.log(level, "camera %s (%s): %s", self.camera, "+".join(status.roles), error)
        status.last_error = error
        status.last_error_time = time.time()
        status.failures += 1

    def _read_forever(self) -> None:
        while not self._stop.is_set():
            self.status.state = "connecting"
            stream: OpenStream | None = None
            connected_at = time.monotonic()
            try:
                stream = self.source.open()
                self.status.info = stream.info
                self.status.connects += 1
                self.status.retry_in = None
                if self.sink is not None:
                    self.sink.on_connect(stream)
                self._pump(stream)
            except SourceError as exc:
                self._fail(str(exc))
            except Exception as exc:  # a broken integration must not take the hub down
                self._fail(f"{type(exc).__name__}: {exc}")
                log.debug("camera %s input failed", self.camera, exc_info=True)
            finally:
                if self.sink is not None and stream is not None:
                    self._sink_call(self.sink.on_disconnect)
                for lost in self.lost_listeners:
                    self._sink_call(lost)
                if stream is not None:
                    try:
                        stream.close()
                    except Exception:  # closing a dead connection may fail; nothing to save
                        pass
            if self._stop.is_set():
                break
            if time.monotonic() - connected_at >= STABLE_AFTER:
                self._backoff.reset()
            delay = self._backoff.next_delay()
            self.status.state = "retrying"
            self.status.retry_in = round(delay, 3)
            self._stop.wait(delay)

    def _pump(self, stream: OpenStream) -> None:
        status = self.status
        detect = self._frames is not None
        next_due = 0.0
        bad_run = 0
        for packet in stream.packets():
            if self._stop.is_set():
                return
            now = packet.capture_time
            if not detect and status.state != "online":
                status.state = "online"
            status.last_packet_time = now
            status.packets.tick(now)
            if self._packets is not None:
                self._packets.publish(packet)
            if self.sink is not None:
                self._sink_call(self.sink.on_packet, packet)
            if not detect:
                continue
            try:
                decoded = stream.decode(packet)
                bad_run = 0
            except SourceError as exc:
                status.decode_errors += 1
                bad_run += 1
                if bad_run >= MAX_DECODE_ERRORS:
                    raise SourceError(f"{bad_run} packets in a row could not be decoded: {exc}") from None
                continue
            for image in decoded:
                if now < next_due:
                    continue
                next_due += self._interval
                if next_due <= now:
                    # Behind after a gap, or frames decoded in a burst: restart the cadence
                    # from now rather than catch up with several frames at once.
                    next_due = now + self._interval
                self._frame_seq += 1
                frame = Frame(image, now, self._frame_seq)
                self.latest_frame = frame
                status.state = "online"
                status.last_frame_time = now
                status.frames.tick(now)
                assert self._frames is not None
                self._frames.publish(frame)
                for listener in self.frame_listeners:
                    self._sink_call(listener, frame)

    def _sink_call(self, method: Callable[..., None], *args: Any) -> None:
        """A bug in a recorder or detector must not stop the camera: log it and keep reading."""
        try:
            method(*args)
        except Exception:
            log.exception("camera %s: %s failed", self.camera, getattr(method, "__qualname__", method))

    def stop(self) -> None:
        self._stop.set()


class CameraPipeline:
    """A camera's inputs, their fan-outs and its status."""

    def __init__(
        self,
        name: str,
        config: CameraConfig,
        factory_for: Callable[[InputConfig], Source],
        reconnect: ReconnectConfig,
        secrets: tuple[str, ...] = (),
    ) -> None:
        self.name = name
        self.config = config
        self.packets: Fanout[Packet] = Fanout()
        self.frames: Fanout[Frame] = Fanout()
        self.readers = [
            InputReader(
                name,
                cfg,
                factory_for(cfg),
                reconnect,
                config.motion.analysis_fps,
                self.packets if "record" in cfg.roles else None,
                self.frames if "detect" in cfg.roles else None,
                secrets,
            )
            for cfg in config.inputs
        ]
        self._detect = next(r for r in self.readers if "detect" in r.config.roles)
        self.record_reader = next((r for r in self.readers if "record" in r.config.roles), None)
        # Set by the hub when this camera records and detects motion; shown in the status.
        self.recording: Any = None
        self.motion: Any = None

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            for reader in self.readers:
                tg.create_task(reader.run(), name=f"{self.name}:{reader.status.source}")

    @property
    def latest_frame(self) -> Frame | None:
        return self._detect.latest_frame

    @property
    def detect_reader(self) -> InputReader:
        return self._detect

    def status(self, now: float | None = None) -> dict[str, Any]:
        now = time.time() if now is None else now
        inputs = [r.status.as_dict(now) for r in self.readers]
        online = all(i["state"] == "online" for i in inputs)
        detect = self._detect.status
        errors = [(r.status.last_error_time or 0.0, r.status.last_error) for r in self.readers if r.status.last_error]
        return {
            "name": self.name,
            "online": online,
            "state": "online" if online else ("offline" if all(i["state"] != "online" for i in inputs) else "degraded"),
            "fps_in": max((i["packets_per_second"] for i in inputs), default=0.0),
            "fps_analysed": detect.frames.rate(now),
            "last_frame_time": detect.last_frame_time,
            "last_error": max(errors)[1] if errors else None,
            "inputs": inputs,
            "motion": asdict(self.motion.status) if self.motion is not None else None,
            "recording": asdict(self.recording.status) if self.recording is not None else None,
        }
