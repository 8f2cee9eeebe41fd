"""An RTSP client for H.264 and H.265 cameras: RTP interleaved on the RTSP connection (TCP).

Why the hub has its own (docs/decisions.md, 2026-12-01): FFmpeg's RTSP
demuxer makes four system calls for every RTP packet (a `poll` and a `recv`
for the 4-byte interleave header, again for the payload) and runs its H.264
parser over every byte, which made reading a camera's main stream cost as
much as a whole `ffmpeg -c copy` recorder. This client reads what the socket
holds in one `recv` (a frame's packets arrive together) and cuts access units
at the RTP marker bit. bench/results/pipeline.md has the figures.

`RtspStream` is an `OpenStream`: blocking, used from the one reader thread of
its input. What it does not handle it refuses with `Unsupported` before any
packet is handed on, and the source then reads that camera with FFmpeg
(`camhub.integrations.rtsp.RtspSource`): another codec than H.264 or H.265,
H.264's interleaved packetization, H.265 with decoding-order numbers, a server
that will not send RTP over TCP, or a stream whose first keyframe does not
come within the timeout. Errors a camera causes (refused, 401, 404, timed
out) are a `SourceError` with the same wording as FFmpeg's.

Every byte from the camera is bounded: an answer's head (`MAX_HEAD`) and
body (`MAX_BODY`), an access unit (`depay.MAX_UNIT`); bytes that are neither
interleaved data nor an RTSP message end the connection with an error. What the
answers and the SDP say is read in `camhub.integrations.rtsp.protocol`.
"""

from __future__ import annotations

import io
import logging
import re
import statistics
import threading
import time
from collections.abc import Iterator
from fractions import Fraction
from typing import cast

import av
from av.container import InputContainer
from av.video.codeccontext import VideoCodecContext
from av.video.stream import VideoStream

from camhub.capture.media import Packet, StreamInfo, describe_av_error
from camhub.errors import SourceError
from camhub.integrations.rtsp.clock import ArrivalClock
from camhub.integrations.rtsp.connection import RtspConnection
from camhub.integrations.rtsp.depay import Depacketiser, Unit, UnitTooLarge
from camhub.integrations.rtsp.protocol import MAX_BODY, MAX_HEAD, RtspError, Track, Unsupported, message_length

__all__ = ["MAX_BODY", "MAX_HEAD", "RtspError", "RtspStream", "Unsupported"]  # the rest is in `protocol`

log = logging.getLogger(__name__)

RTP_CLOCK = Fraction(1, 90_000)  # H.264 and H.265 over RTP always count 90 kHz
RTP_SECONDS = float(RTP_CLOCK)
FPS_UNITS = 4  # units after the first keyframe whose timestamps estimate the frame rate
KEYFRAME_WAIT = 10.0  # seconds after PLAY the first keyframe may take, at least (`RtspStream._first_units`)
DEFAULT_SESSION_TIMEOUT = 60.0  # seconds, RFC 2326's default when the Session header gives none


# Socket reads one `poll` makes at most (of RECV_SIZE each, 4 MB): a second of a 32 Mbit/s stream.
MAX_POLL_READS = 16


class RtspStream:
    """A camera's H.264 or H.265 stream, opened (DESCRIBE, SETUP, PLAY) up to its first keyframe.

    `pace` (seconds) spaces the reads: each read takes all that came since the last (up to RECV_SIZE, and
    another read follows at once when that filled it). A record input read once a second instead of at
    every frame costs more than a third less (bench/results/pipeline.md, bench/results/wakeups.md): each
    wake-up of a reader thread costs more than the frames it reads. A packet's capture time is when it
    arrived, whatever the pace: placed by its RTP timestamp (`ArrivalClock`).
    """

    pollable = True  # `poll` reads without waiting (`PolledStream`)

    def __init__(
        self,
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
        pace: float = 0.0,
    ) -> None:
        self.pace = pace
        self._woken = threading.Event()  # `wake`: the wait between two reads ends at once
        self._drained = True  # whether the last read took all the socket held (`_read`)
        self._clock = ArrivalClock()
        self._last_unit = time.monotonic()  # when a read last completed a frame (`_check_silence`)
        self._conn = conn = RtspConnection(url, username, password, timeout)
        self._template_container: InputContainer | None = None
        try:
            self._start(conn)
        except BaseException:
            conn.close()
            raise

    def _start(self, conn: RtspConnection) -> None:
        options = conn.request("OPTIONS", conn.url)
        public = options.headers.get("public", "").upper()
        self._keepalive = "GET_PARAMETER" if "GET_PARAMETER" in public else "OPTIONS"
        described = conn.request("DESCRIBE", conn.url, {"Accept": "application/sdp"})
        base = described.headers.get("content-base") or described.headers.get("content-location") or conn.url
        track = Track(described.body.decode("utf-8", "replace"), base)
        setup = conn.request("SETUP", track.url, {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"})
        transport = setup.headers.get("transport", "")
        match = re.search(r"interleaved=(\d{1,3})", transport)
        if "TCP" not in transport.upper() or match is None:
            raise Unsupported(f"the camera does not send RTP over the RTSP connection (Transport: {transport[:80]!r})")
        self._channel = int(match.group(1))
        # The first Session header only: a repeated one is joined with a line break (`Answer`).
        session, _, params = setup.headers.get("session", "").split("\n")[0].partition(";")
        if not re.fullmatch(r"[\x21-\x7e]{1,256}", session.strip()):
            raise SourceError(f"the camera's SETUP answer has no Session, or not a plain token ({conn.shown})")
        conn.session = session.strip()
        found = re.search(r"timeout=(\d{1,6})", params)
        self._session_timeout = float(found.group(1)) if found else DEFAULT_SESSION_TIMEOUT
        conn.request("PLAY", track.aggregate, {"Range": "npt=0.000-"})
        self._track = track
        self._depay: Depacketiser = track.depacketiser()
        self._next_keepalive = time.monotonic() + max(self._session_timeout / 2, 1.0)
        self._last_ts: int | None = None
        self._ext_ts = 0  # timestamps unwrapped past 32 bits, counted from the first unit
        self._ready: list[Unit] = self._first_units(conn.timeout)
        key = self._ready[0]
        self._template_container = template = self._probe(track.parameter_sets + key.data)
        stream = template.streams.video[0]
        ctx = stream.codec_context
        extradata = track.parameter_sets or ctx.extradata or None
        self.info = StreamInfo(
            codec=track.codec, width=ctx.width, height=ctx.height, fps=track.fps or self._rate(), extradata=extradata
        )
        self._template = stream
        decoder = cast(VideoCodecContext, av.CodecContext.create(track.codec, "r"))
        if extradata:
            decoder.extradata = extradata
        decoder.thread_count = 1  # as ContainerStream: one thread per decoder costs least (bench/results/pipeline.md)
        self._decoder = decoder

    def _first_units(self, timeout: float) -> list[Unit]:
        """Read up to the first keyframe, then FPS_UNITS more to time the stream by; units before it are dropped.

        A camera sends a keyframe every few seconds; one that sends none within `KEYFRAME_WAIT` (or twice the
        input's timeout, if longer) is left to FFmpeg, whose demuxer hands on frames before the first keyframe.
        """
        wait = max(2 * timeout, KEYFRAME_WAIT)
        deadline = time.monotonic() + wait
        units: list[Unit] = []
        while len(units) <= FPS_UNITS:
            for unit in self._read():
                if units or unit.keyframe:
                    units.append(unit)
            if time.monotonic() > deadline:
                if units:
                    break
                raise Unsupported(f"no keyframe came within {wait:.0f} s of PLAY")
        return units

    def _rate(self) -> float | None:
        """Frames per second from the first units' RTP timestamps (their median step), if they advance."""
        steps = [(b.timestamp - a.timestamp) & 0xFFFFFFFF for a, b in zip(self._ready, self._ready[1:], strict=False)]
        steps = [s for s in steps if 0 < s < 90_000 * 10]
        return round(90_000 / statistics.median(steps), 3) if steps else None

    def _probe(self, data: bytes) -> InputContainer:
        """The first keyframe opened by FFmpeg's raw demuxer: its stream is the template clips copy into."""
        try:
            container = av.open(io.BytesIO(data), "r", format=self._track.codec, options={"probesize": str(len(data))})
        except (av.FFmpegError, OSError) as exc:
            raise Unsupported(f"FFmpeg cannot read the first keyframe ({exc})") from None
        ctx = container.streams.video[0].codec_context if container.streams.video else None
        if ctx is None or not ctx.width or not ctx.height:
            container.close()
            raise Unsupported("the first keyframe gives no picture size")
        return container

    def _read(self, wait: bool = True) -> list[Unit]:
        """Read once from the socket (`RtspConnection.fill`); the access units completed by what came."""
        conn = self._conn
        conn.fill(wait)
        self._drained = conn.drained
        units: list[Unit] = []
        buf, view = conn.buf, conn.view
        size = conn.end
        pos = conn.start
        channel = self._channel
        packets: list[memoryview] = []  # the stream's RTP packets in this read, depacketised together
        while size - pos >= 4:
            if buf[pos] == 0x24:  # '$', channel, 16-bit length, then that many bytes
                end = pos + 4 + ((buf[pos + 2] << 8) | buf[pos + 3])
                if end > size:
                    break
                if buf[pos + 1] == channel:
                    packets.append(view[pos + 4 : end])
                pos = end
                continue
            if not (65 <= buf[pos] <= 90):  # an RTSP message starts with an upper-case letter
                raise SourceError(f"the camera sent bytes that are neither RTSP nor RTP data ({conn.shown})")
            ends = message_length(buf, pos, size)
            if ends is None:
                break
            pos = ends[1]  # an answer to a keep-alive, or a request from the server: not acted on
        conn.start = pos
        try:
            self._depay.push_all(packets, units)
        except UnitTooLarge as exc:
            raise SourceError(f"{exc} ({conn.shown})") from None
        self._depay.keep()  # the next read reuses the buffer
        now = time.monotonic()
        if now >= self._next_keepalive:
            self._next_keepalive = now + max(self._session_timeout / 2, 1.0)
            conn.send(self._keepalive, conn.url)
        return units

    def wake(self) -> None:
        """End the current wait between two reads (any thread); a wake during a read ends the next wait."""
        self._woken.set()

    @property
    def copy_template(self) -> VideoStream:
        return self._template

    def packets(self) -> Iterator[Packet]:
        """The stream's frames as they come; a camera that sends data but no frame for the input's timeout
        (RTCP alone, say, with its encoder hung) is timed out as a silent one is."""
        pending, self._ready = self._ready, []
        self._last_unit = time.monotonic()
        while True:
            if pending:
                yield from self._stamped(pending)
            if self.pace and self._drained:
                self._woken.wait(max(0.0, self._last_unit + self.pace - time.monotonic()))
                self._woken.clear()
            pending = self._read()
            self._check_silence(pending)

    def poll(self) -> list[Packet]:
        """The frames that came since the last poll, without waiting: perhaps none (`PolledStream`).

        One thread reads many streams this way (camhub.capture.shared_pace). A stream with no frame for the
        input's timeout is a SourceError, as in `packets`; don't mix the two on one stream.
        """
        units, self._ready = self._ready, []
        for _ in range(MAX_POLL_READS):  # a camera that floods is read on at its next poll, not for ever now
            units += self._read(wait=False)
            if self._drained:
                break
        self._check_silence(units)
        return list(self._stamped(units)) if units else []

    def _check_silence(self, units: list[Unit]) -> None:
        now = time.monotonic()
        if units:
            self._last_unit = now
        elif now - self._last_unit > self._conn.timeout:
            raise SourceError(
                f"timed out waiting for the camera: no frame for {self._conn.timeout:.0f} s ({self._conn.shown})"
            )

    def _stamped(self, units: list[Unit]) -> Iterator[Packet]:
        """Packets of the units of one read, each placed by its RTP timestamp against the read's arrival."""
        now, pace, clock = time.time(), self.pace, self._clock
        stamps = [self._media_time(unit) for unit in units]
        clock.read(now, stamps[-1] * RTP_SECONDS, pace)
        for unit, stamp in zip(units, stamps, strict=True):
            yield self._packet(unit, stamp, clock.capture_time(stamp * RTP_SECONDS, now, pace))

    def _media_time(self, unit: Unit) -> int:
        """The unit's RTP timestamp unwrapped past 32 bits, counted from the first unit (90 kHz)."""
        if self._last_ts is not None:
            step = (unit.timestamp - self._last_ts) & 0xFFFFFFFF
            self._ext_ts += step - (1 << 32) if step >= 1 << 31 else step  # a step back is negative
        self._last_ts = unit.timestamp
        return self._ext_ts

    def _packet(self, unit: Unit, stamp: int, capture_time: float) -> Packet:
        packet = av.Packet(unit.data)
        packet.pts = packet.dts = stamp
        packet.time_base = RTP_CLOCK
        packet.is_keyframe = unit.keyframe
        return Packet(packet, capture_time, unit.keyframe)

    def decode(self, packet: Packet) -> list[av.VideoFrame]:
        try:
            return list(self._decoder.decode(packet.packet))
        except av.FFmpegError as exc:
            raise SourceError(describe_av_error(exc, self._conn.shown)) from None

    def close(self) -> None:
        self._conn.close()
        if self._template_container is not None:
            self._template_container.close()
