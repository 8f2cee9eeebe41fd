"""One camera input, read forever in its own thread, reconnected with backoff.

A reader thread hands its data straight to the consumers it was given at
construction, on that thread, with no hop through the event loop: every
packet to the `PacketConsumer`s (the recorder, on the record input), and for
the detect input every frame picked at the analysis rate to the
`FrameConsumer`s (the motion watcher, the live view). A consumer that raises
is logged and the input keeps reading. Status is kept per input; errors in it
are redacted. An error's time comes from the injected clock; rates and the
backoff use the monotonic clock.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, ParamSpec, Protocol

from camhub.capture.backoff import Backoff
from camhub.capture.media import Frame, OpenStream, PacedStream, Packet, PolledStream, Source, StreamInfo
from camhub.capture.shared_pace import SharedPace
from camhub.clock import Clock
from camhub.config import InputConfig, ReconnectConfig
from camhub.errors import SourceError
from camhub.redact import redact

log = logging.getLogger(__name__)
P = ParamSpec("P")

InputState = Literal["starting", "connecting", "online", "retrying", "stopped"]

# Consecutive undecodable packets after which the input is treated as broken.
MAX_DECODE_ERRORS = 50
# Seconds a connection must deliver before its backoff is forgotten.
STABLE_AFTER = 5.0
# Seconds a stopping reader thread is given to close its connection.
STOP_GRACE = 2.0
# A frame this fraction of the analysis interval early is still taken: a detect stream sent at the analysis
# rate itself (5 fps for 5 fps) whose timestamps jitter must not lose a frame that is 1 ms early.
EARLY_PICK = 0.25
# Seconds of the hub's clock (at least two analysis intervals) in which frames keep arriving but the stream's
# timestamps never make one due: its clock stands still or crawls, and the hub's clock takes over.
STALLED_CLOCK_S = 3.0


class Cadence:
    """Which decoded frames are analysed: the analysis rate, counted in the stream's own time.

    A frame's presentation time (its media timestamp, in seconds) decides, not when it arrived:
    frames sent 200 ms apart and delivered in a bunch, as a busy machine or network delivers
    them, are each still 200 ms apart, and a 5 fps detect stream analysed at 5 fps loses none
    (bench/results/pipeline.md, 2026-12-01). A frame without one is timed by its arrival.
    The stream's clock is trusted no further: going back (a file looping, a camera restarting
    its stream) restarts the cadence, and a clock that stands still while frames keep coming
    (STALLED_CLOCK_S) is dropped for the hub's, for the rest of the connection, with one log
    line. A burst is analysed faster than the rate for as long as its timestamps say it covers;
    every such frame was decoded anyway, which costs several times its analysis.
    """

    def __init__(self, interval: float, label: str = "stream") -> None:
        self.interval = interval
        self._label = label
        self._media = True  # the stream's timestamps are used while they behave
        self._next_due = float("-inf")  # the time the next frame is due at
        self._last = float("-inf")  # the time of the last frame seen
        self._picked_at = float("-inf")  # the hub's clock at the last pick

    def due(self, media: float | None, now: float) -> bool:
        """True when the frame at stream time `media` (None: untimed), arriving at `now`, is to be analysed."""
        if media is not None and self._media:
            at, timed = media, True
        else:
            at, timed = now, False
        restart, self._last = at < self._last, at
        if not restart and at < self._next_due - self.interval * EARLY_PICK:
            if not timed or now - self._picked_at < max(STALLED_CLOCK_S, 2 * self.interval):
                return False
            log.warning("%s: its timestamps do not advance; frames are analysed by arrival instead", self._label)
            self._media, at, restart = False, now, True
        self._picked_at = now
        self._next_due += self.interval  # the rate on average, whatever the jitter
        if restart or self._next_due <= at:
            # A new clock, or behind after a gap: the cadence starts again from this frame
            # rather than catch up with several frames at once.
            self._next_due = at + self.interval
        return True


class PacketConsumer(Protocol):
    """Takes every packet of the record input, on its reader thread (the recorder)."""

    def on_connect(self, stream: OpenStream) -> None: ...

    def on_packet(self, packet: Packet) -> None: ...

    def on_disconnect(self) -> None: ...


class FrameConsumer(Protocol):
    """Takes every analysed frame of the detect input, on its reader thread (motion, live views)."""

    def on_frame(self, frame: Frame) -> None: ...

    def on_lost(self) -> None:
        """The connection ended or could not be made; the next frame, if any, comes from a new one."""
        ...


class RateMeter:
    """Events per second over the last few seconds, safe to read from any thread."""

    def __init__(self, window: float = 5.0, clock: Clock = time.monotonic) -> None:
        self._window = window
        self._clock = clock
        self._samples: deque[tuple[float, int]] = deque()
        self.count = 0

    def tick(self) -> None:
        now = self._clock()
        self.count += 1
        if not self._samples or now - self._samples[-1][0] >= 0.5:
            self._samples.append((now, self.count))
            while self._samples and now - self._samples[0][0] > self._window:
                self._samples.popleft()

    def rate(self) -> float:
        now = self._clock()
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
    state: InputState = "starting"
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

    def as_dict(self) -> dict[str, Any]:
        info = self.info
        return {
            "roles": list(self.roles),
            "source": self.source,
            "state": self.state,
            "codec": info.codec if info else None,
            "width": info.width if info else None,
            "height": info.height if info else None,
            "stream_fps": round(info.fps, 3) if info and info.fps else None,
            "packets_per_second": round(self.packets.rate(), 2),
            "frames_analysed_per_second": round(self.frames.rate(), 2),
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
            "as_of": time.time(),  # when these were read: an input in a detect process reports once a second
        }


class InputReader:
    """Reads one input forever in its own thread until stopped.

    `on_state` is called after each change of `status.state`: on the reader
    thread, and once on the event loop when the reader stops.
    """

    def __init__(
        self,
        camera: str,
        config: InputConfig,
        source: Source,
        reconnect: ReconnectConfig,
        analysis_fps: float,
        *,
        packets: Sequence[PacketConsumer] = (),
        frames: Sequence[FrameConsumer] = (),
        secrets: tuple[str, ...] = (),
        clock: Clock = time.time,
        on_state: Callable[[], None] | None = None,
        batch: float = 0.0,
        shared: SharedPace | None = None,
    ) -> None:
        self.camera = camera
        self.config = config
        self.source = source
        self.status = InputStatus(roles=config.roles, source=source.description)
        self._backoff = Backoff(reconnect.initial, reconnect.cap)
        self._interval = 1.0 / analysis_fps
        self._detect = "detect" in config.roles  # decode and pick frames; otherwise packets only
        # A detect input whose stream can read in batches (`PacedStream`) reads `batch` seconds of frames at once
        # (`motion.batch`); an input that does not detect keeps the pace its integration chose.
        self._batch = batch if self._detect else None
        # A paced detect input whose stream can be polled is read by this turn's thread, not its own (a detect
        # process's inputs: camhub.capture.shared_pace).
        self._shared = shared
        self._packets = tuple(packets)
        self._frames = tuple(frames)
        self._secrets = secrets
        self._clock = clock
        self._on_state = on_state
        self._stop = threading.Event()
        self._frame_seq = 0
        self.latest_frame: Frame | None = None

    def set_analysis_fps(self, analysis_fps: float) -> None:
        """Pick frames at this rate from the next pick on (called from the event loop; one assignment)."""
        self._interval = 1.0 / analysis_fps

    @property
    def analysis_fps(self) -> float:
        """The rate frames are picked at for analysis, as set."""
        return 1.0 / self._interval

    async def run(self) -> None:
        """Run the reader thread until cancelled; cancellation stops the thread."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()

        def finished() -> None:
            if not done.done():
                done.set_result(None)

        def target() -> None:
            try:
                self._read_forever()
            finally:
                try:
                    loop.call_soon_threadsafe(finished)
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
            if self._shared is not None:
                self._shared.wake()
            # Give the thread a moment to close its connection; a read stuck in
            # FFmpeg ends at its own timeout and the daemon thread then exits.
            try:
                await asyncio.wait_for(asyncio.shield(done), STOP_GRACE)
            except TimeoutError:
                log.debug("camera %s: reader still busy after %.0f s", self.camera, STOP_GRACE)
            raise
        finally:
            self._stop.set()
            self._set_state("stopped")

    def _set_state(self, state: InputState) -> None:
        if self.status.state == state:
            return
        self.status.state = state
        if self._on_state is not None:
            self._call(self._on_state)

    def _fail(self, message: str) -> None:
        status = self.status
        error = redact(message, self._secrets)
        # Say it once per distinct error, not on every retry of a camera that stays down.
        level = logging.WARNING if error != status.last_error or status.state == "online" else logging.DEBUG
        log.log(level, "camera %s (%s): %s", self.camera, "+".join(status.roles), error)
        status.last_error = error
        status.last_error_time = self._clock()
        status.failures += 1

    def _read_forever(self) -> None:
        while not self._stop.is_set():
            self._set_state("connecting")
            stream: OpenStream | None = None
            connected_at = time.monotonic()
            try:
                stream = self.source.open()
                if self._batch is not None and isinstance(stream, PacedStream):
                    stream.pace = self._batch  # before the consumers see it: the live view keeps it as its own
                self.status.info = stream.info
                self.status.connects += 1
                self.status.retry_in = None
                for packets in self._packets:
                    self._call(packets.on_connect, stream)
                self._pump(stream)
            except SourceError as exc:
                self._fail(str(exc))
            except Exception as exc:  # a broken integration must not take the hub down
                self._fail(f"{type(exc).__name__}: {exc}")
                log.debug("camera %s input failed", self.camera, exc_info=True)
            finally:
                if stream is not None:
                    for packets in self._packets:
                        self._call(packets.on_disconnect)
                for frames in self._frames:
                    self._call(frames.on_lost)
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
            self.status.retry_in = round(delay, 3)
            self._set_state("retrying")
            self._stop.wait(delay)

    def _pump(self, stream: OpenStream) -> None:
        taker = _Taker(self, stream)
        shared, pace = self._shared, self._batch
        if shared is not None and pace and isinstance(stream, PolledStream) and stream.pollable:
            shared.read(stream, taker.take, pace, self._stop)  # on the shared thread, until the stream fails
            return
        for packet in stream.packets():
            if self._stop.is_set():
                return
            taker.take(packet)

    def _call(self, method: Callable[P, None], *args: P.args, **kwargs: P.kwargs) -> None:
        """A bug in a recorder or detector must not stop the camera: log it and keep reading."""
        try:
            method(*args, **kwargs)
        except Exception:
            log.exception("camera %s: %s failed", self.camera, getattr(method, "__qualname__", method))


class _Taker:
    """One connection's packets into the reader's status and consumers: decoded, picked, handed on."""

    def __init__(self, reader: InputReader, stream: OpenStream) -> None:
        self._reader = reader
        self._stream = stream
        self._cadence = Cadence(reader._interval, f"camera {reader.camera} ({'+'.join(reader.config.roles)})")
        self._bad_run = 0

    def take(self, packet: Packet) -> None:
        reader = self._reader
        status = reader.status
        now = packet.capture_time
        if not reader._detect:
            reader._set_state("online")
        status.last_packet_time = now
        status.packets.tick()
        for packets in reader._packets:
            reader._call(packets.on_packet, packet)
        if not reader._detect:
            return
        try:
            decoded = self._stream.decode(packet)
            self._bad_run = 0
        except SourceError as exc:
            status.decode_errors += 1
            self._bad_run += 1
            if self._bad_run >= MAX_DECODE_ERRORS:
                raise SourceError(f"{self._bad_run} packets in a row could not be decoded: {exc}") from None
            return
        cadence = self._cadence
        cadence.interval = reader._interval  # set_analysis_fps may have changed it
        for image in decoded:
            if not cadence.due(getattr(image, "time", None), now):
                continue
            reader._frame_seq += 1
            frame = Frame(image, now, reader._frame_seq)
            reader.latest_frame = frame
            status.last_frame_time = now
            status.frames.tick()
            reader._set_state("online")
            for frames in reader._frames:
                reader._call(frames.on_frame, frame)
