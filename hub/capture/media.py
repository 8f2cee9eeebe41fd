"""What a source hands the hub: compressed packets and decoded frames.

Integrations implement `Source` and `OpenStream` (blocking, run in a thread
the hub owns) and may build on `ContainerStream`, which reads anything FFmpeg
can demux through PyAV. Nothing here touches the event loop. How an
integration declares what its streams can do (stream copy) is in
docs/integrations.md; the registry holds a stream to its declaration.

A file read in real time is paced by its packets' media time: their
timestamps, or for a raw elementary stream (.h264, which has none) each
packet's duration as FFmpeg's parser gives it, else one frame at the
stream's guessed rate. A file that cannot seek back to its start (raw
streams answer EPERM) is reopened to loop.

FFmpeg buffers a whole packet before anyone sees it, so a hostile stream
(a 2 GB Content-Length, an H.264 unit that never ends) could make it
allocate gigabytes: on import this module caps every single FFmpeg
allocation of the process at `MAX_FFMPEG_ALLOCATION`
(`bound_ffmpeg_allocations`), and such a packet fails with ENOMEM instead.
"""

from __future__ import annotations

import ctypes
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Protocol, cast, runtime_checkable
from urllib.parse import quote, urlsplit, urlunsplit

import av
import numpy as np
from av.container import InputContainer, OutputContainer
from av.video.codeccontext import VideoCodecContext
from av.video.stream import VideoStream

from camhub.errors import SourceError
from camhub.redact import redact, redact_url

log = logging.getLogger(__name__)

# The largest block FFmpeg may allocate at once (its own default is INT_MAX, 2 GiB). A 4K frame
# as RGB is 25 MB; a camera's packets are a few MB at most.
MAX_FFMPEG_ALLOCATION = 64 << 20


def bound_ffmpeg_allocations(limit: int = MAX_FFMPEG_ALLOCATION) -> None:
    """Cap FFmpeg's single allocations in this process with av_max_alloc, which PyAV does not wrap."""
    try:
        # dlsym on a PyAV extension's handle also searches its dependencies: the libavutil it uses.
        av_max_alloc = ctypes.CDLL(av.error.__file__).av_max_alloc
    except (OSError, AttributeError) as exc:
        log.warning(
            "cannot cap FFmpeg's allocations (av_max_alloc not found: %s); a hostile stream may use much memory", exc
        )
        return
    av_max_alloc.argtypes = [ctypes.c_size_t]
    av_max_alloc.restype = None
    av_max_alloc(limit)


bound_ffmpeg_allocations()


class NoVideoStream(SourceError):
    """The input opened, and holds no video stream (audio only, data only)."""


class UndecodableVideo(SourceError):
    """The input's video is in a codec this hub's FFmpeg has no decoder for."""


@dataclass(frozen=True, slots=True)
class StreamInfo:
    codec: str  # FFmpeg codec name: h264, hevc, mjpeg
    width: int
    height: int
    fps: float | None  # nominal frames per second, when the stream says
    # The codec's out-of-band setup (H.264's SPS/PPS from an MP4), which a decoder of these
    # packets needs when they do not repeat it in-band as RTSP and raw streams do.
    extradata: bytes | None = None


@dataclass(frozen=True, slots=True)
class Packet:
    """One compressed packet, as received; `packet` is kept for stream copy.

    `capture_time` is when the source handed the packet to the hub. The hub's RTSP client hands a frame
    on as its last RTP packet arrives; FFmpeg's RTSP demuxer (cameras that client leaves to FFmpeg)
    one frame interval later, as its parser waits for the next frame's first packet: 67 ms at 15 fps,
    measured by bench/rtsp_handout.py (bench/results/latency.md).
    """

    packet: av.Packet[Any]
    capture_time: float  # Unix seconds when the demuxer handed it to the hub (see above)
    keyframe: bool


def mux_shared(
    out: OutputContainer, stream: VideoStream, packet: Packet, pts: int, dts: int, time_base: Fraction, duration: int
) -> None:
    """Mux `packet` into `stream` of `out` at the given timestamps, sharing its bytes rather than copying them.

    PyAV's `mux` takes a new reference to the packet's buffer and rescales the packet's timestamps in place,
    so the packet's own pts, dts, duration and time base are set back after: the same packet may sit in the
    pre-roll ring for the next clip, and go to the live view's muxer too (docs/decisions.md, 2026-12-02).
    Its `stream` stays the last one it went to, which PyAV cannot unset; nothing of the hub reads it. A
    packet without a time base (a source timed by capture time) could not get its None back, and is copied.
    """
    src = packet.packet
    kept = cast(Fraction | None, src.time_base)  # None for a packet made from bytes, whatever PyAV's stubs say
    if kept is None:
        src = av.Packet(bytes(src))
    kept_pts, kept_dts, kept_duration = src.pts, src.dts, src.duration
    src.pts, src.dts, src.time_base, src.duration = pts, dts, time_base, duration
    src.is_keyframe = packet.keyframe
    src.stream = stream
    try:
        out.mux(src)
    finally:
        if kept is not None:
            src.pts, src.dts, src.time_base, src.duration = kept_pts, kept_dts, kept, kept_duration


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded frame picked for analysis."""

    frame: av.VideoFrame
    capture_time: float  # Unix seconds of the packet it was decoded from
    seq: int  # counts analysed frames of this input, from 1

    @property
    def luma(self) -> np.ndarray:
        """The Y plane as a (height, width) uint8 array, without line padding."""
        return luma_plane(self.frame)


def luma_plane(frame: av.VideoFrame) -> np.ndarray[Any, np.dtype[np.uint8]]:
    if not frame.format.name.startswith(("yuv", "yuvj", "nv12", "gray")):
        frame = frame.reformat(format="gray")
    plane = frame.planes[0]
    rows = np.frombuffer(memoryview(plane), np.uint8).reshape(frame.height, plane.line_size)
    return rows[:, : frame.width]


@runtime_checkable
class OpenStream(Protocol):
    """A connected input. All methods block; the hub calls them from one thread.

    `copy_template` is the demuxed stream whose packets a clip can mux
    unchanged, or None. Only an integration whose manifest declares the
    `stream_copy` capability must give one; the registry shows the hub None
    for every other, so its clips are re-encoded (an MJPEG camera's).
    """

    info: StreamInfo

    @property
    def copy_template(self) -> VideoStream | None: ...

    def packets(self) -> Iterator[Packet]: ...

    def decode(self, packet: Packet) -> list[av.VideoFrame]: ...

    def close(self) -> None: ...


@runtime_checkable
class PacedStream(Protocol):
    """An open stream that may read in batches, `pace` seconds apart, to save its thread wake-ups.

    A packet consumer that needs each packet as it comes (a live viewer) sets `pace` to 0 while it does,
    and back after; it does so on the reader thread, in `on_packet`. The hub's RTSP client paces a record
    input's reads (camhub.integrations.rtsp.RtspStream).
    """

    pace: float

    def wake(self) -> None:
        """End the wait between two reads now (from any thread): a viewer arrived and wants packets at once."""
        ...


@runtime_checkable
class PolledStream(Protocol):
    """An open stream that can hand over what has come without waiting, so that one thread reads many.

    A paced detect input in a detect process is read this way (camhub.capture.shared_pace). `pollable` says
    whether `poll` works (a wrapper may stand for a stream that cannot). `poll` raises SourceError as reading
    would, a stream silent for its timeout included; a stream is polled or read with `packets`, never both.
    """

    @property
    def pollable(self) -> bool: ...

    def poll(self) -> list[Packet]: ...


@runtime_checkable
class Source(Protocol):
    """One camera input, as an integration provides it."""

    description: str  # for status and logs; never holds a password

    def open(self) -> OpenStream: ...


def describe_av_error(exc: BaseException, url: str = "") -> str:
    """A short, user-facing reason for a PyAV/FFmpeg failure, with secrets masked."""
    text = getattr(exc, "strerror", None) or str(exc)
    lowered = text.lower()
    if "401" in text or "unauthorized" in lowered:
        reason = "authentication failed (401): check the username and password"
    elif "403" in text or "forbidden" in lowered:
        reason = "access forbidden (403)"
    elif "moov atom not found" in lowered:
        reason = "the file is truncated or not a finished MP4 (moov atom not found)"
    elif "404" in text:
        reason = "not found on the camera (404): check the path in the URL"
    elif "connection refused" in lowered:
        reason = "connection refused: nothing listens at that host and port"
    elif "timed out" in lowered or isinstance(exc, (TimeoutError, av.ExitError)):
        reason = "timed out waiting for the camera"
    elif "invalid data" in lowered or isinstance(exc, av.InvalidDataError):
        reason = "the stream is not video the hub can read (invalid data)"
    elif isinstance(exc, FileNotFoundError) or "no such file" in lowered:
        reason = "no such file"
    else:
        reason = text or type(exc).__name__
    where = f" ({redact_url(url)})" if url else ""
    return redact(f"{reason}{where}")


def with_credentials(url: str, username: str | None, password: str | None) -> str:
    """Put config-given credentials into the URL's user info, as FFmpeg expects them."""
    if username is None:
        return url
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    userinfo = quote(username, safe="")
    if password is not None:
        userinfo += ":" + quote(password, safe="")
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{host}"))


# Live sources are probed briefly: cameras send parameter sets with the first
# keyframe, and FFmpeg's defaults (5 MB, 5 s) would slow every reconnect.
LIVE_PROBE = {"probesize": "500000", "analyzeduration": "1000000"}
# AVFMT_NOTIMESTAMPS: a raw elementary stream (h264, hevc) whose packets carry no times,
# whose average rate is FFmpeg's default of 25 rather than the stream's own.
NO_TIMESTAMPS = 0x0080
DEFAULT_FPS = 25.0  # pacing of untimed packets when the stream names no rate either


class ContainerStream:
    """An input read through a PyAV container: RTSP, HTTP streams, files."""

    def __init__(
        self,
        url: str,
        *,
        format: str | None = None,
        options: dict[str, str] | None = None,
        timeout: float = 10.0,
        socket_timeout: str | None = None,
        loop: bool = False,
        realtime: bool = False,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._url = url
        self._loop = loop
        self._realtime = realtime
        self._clock = clock
        self._sleep = sleep
        self._format = format
        self._options = dict(options or {})
        self._timeout = timeout
        # PyAV's read timeout is an interrupt callback that takes the GIL on every call, and FFmpeg calls it
        # on every socket read: twice per RTP packet, a thousand times a second for a 1080p camera, on each
        # of the hub's reader threads. A demuxer with its own socket timeout option is given that instead
        # (in microseconds), and PyAV's timeout guards only the opening (docs/decisions.md, 2026-11-30).
        self._read_timeout: float | None = timeout
        if socket_timeout is not None:
            self._options[socket_timeout] = str(round(timeout * 1_000_000))
            self._read_timeout = None
        self._container = self._open()
        self._stream = self._container.streams.video[0]
        ctx = self._stream.codec_context
        untimed = bool(self._container.format.flags & NO_TIMESTAMPS)
        # A format without timestamps (MJPEG over HTTP, raw H.264) gets them made up by FFmpeg at a guessed
        # rate, which need not be the camera's: its decoded frames are handed on untimed, so the analysis
        # cadence counts their arrival instead (`camhub.capture.reader.Cadence`).
        self._untimed = untimed
        rate = (
            (self._stream.guessed_rate or self._stream.average_rate)
            if untimed
            else (self._stream.average_rate or self._stream.guessed_rate)
        )
        self.info = StreamInfo(
            codec=ctx.name,
            width=ctx.width,
            height=ctx.height,
            fps=float(rate) if rate else None,
            extradata=ctx.extradata or None,
        )
        # Decoding uses its own context so the demuxer's stays untouched for copying.
        # The stream is video, so its decoder is a video codec context.
        self._decoder = cast(VideoCodecContext, av.CodecContext.create(ctx.name, "r"))
        if ctx.extradata:
            self._decoder.extradata = ctx.extradata
        # One thread per decoder: frame threads cost more CPU than they save on
        # sub-streams (bench/results/pipeline.md: 241 vs 324 us per 640x360 frame)
        # and add three threads per camera.
        self._decoder.thread_count = 1

    def _open(self) -> InputContainer:
        try:
            container = av.open(
                self._url, "r", format=self._format, options=self._options, timeout=(self._timeout, self._read_timeout)
            )
        except (av.FFmpegError, OSError) as exc:
            raise SourceError(describe_av_error(exc, self._url)) from None
        if not container.streams.video:
            container.close()
            raise NoVideoStream(f"no video stream in {redact_url(self._url)}")
        # PyAV gives a stream no codec context when FFmpeg has no decoder for it, whatever its stubs say.
        if cast(VideoCodecContext | None, container.streams.video[0].codec_context) is None:
            container.close()
            raise UndecodableVideo(f"the video of {redact_url(self._url)} is in a codec this hub cannot decode")
        return container

    @property
    def copy_template(self) -> VideoStream:
        """The demuxer's stream: what a clip copies packets into MP4 from."""
        return self._stream

    def _media_time(self, packet: av.Packet[Any], untimed_next: float) -> tuple[float, float]:
        """(this packet's media time in seconds, the next untimed packet's) within one pass of the file."""
        ts = float(packet.pts * packet.time_base) if packet.pts is not None else untimed_next
        if packet.duration and packet.time_base:
            step = float(packet.duration * packet.time_base)
        else:
            step = 1.0 / (self.info.fps or DEFAULT_FPS)
        return ts, ts + step

    def _rewind(self) -> None:
        """Back to the file's first packet: seek, or where the demuxer cannot (raw streams), reopen."""
        try:
            self._container.seek(0, stream=self._stream)
            return
        except (av.FFmpegError, OSError):
            pass
        self._container.close()
        self._container = self._open()
        self._stream = self._container.streams.video[0]

    def packets(self) -> Iterator[Packet]:
        started = self._clock()
        offset = 0.0  # seconds added per loop of a file, so time keeps running forward
        # Media time is only needed to pace a file or to continue its times over a loop; a live stream
        # skips its per-packet Fraction arithmetic.
        timed = self._realtime or self._loop
        while True:
            end_ts = 0.0  # media time just after the last packet of this pass
            untimed_next = 0.0
            try:
                for packet in self._container.demux(self._stream):
                    if packet.size == 0:
                        continue  # a flush packet at end of stream
                    if timed:
                        ts, untimed_next = self._media_time(packet, untimed_next)
                        end_ts = max(end_ts, untimed_next)
                        if self._realtime:
                            delay = started + offset + ts - self._clock()
                            if delay > 0:
                                self._sleep(min(delay, 1.0))
                    yield Packet(packet, time.time(), packet.is_keyframe)
            except (av.FFmpegError, OSError) as exc:
                raise SourceError(describe_av_error(exc, self._url)) from None
            if not self._loop:
                raise SourceError(f"end of stream ({redact_url(self._url)})")
            self._rewind()
            offset += end_ts

    def decode(self, packet: Packet) -> list[av.VideoFrame]:
        try:
            frames = list(self._decoder.decode(packet.packet))
        except av.FFmpegError as exc:
            raise SourceError(describe_av_error(exc, self._url)) from None
        if self._untimed:
            for frame in frames:
                frame.pts = None
        return frames

    def close(self) -> None:
        self._container.close()
