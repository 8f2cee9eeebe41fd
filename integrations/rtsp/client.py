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
import socket
import statistics
import time
from collections.abc import Iterator
from fractions import Fraction
from typing import cast
from urllib.parse import unquote, urlsplit, urlunsplit

import av
from av.container import InputContainer
from av.video.codeccontext import VideoCodecContext
from av.video.stream import VideoStream

from camhub.capture.media import Packet, StreamInfo, describe_av_error
from camhub.errors import SourceError
from camhub.integrations.rtsp.clock import ArrivalClock
from camhub.integrations.rtsp.depay import Depacketiser, Unit, UnitTooLarge
from camhub.integrations.rtsp.protocol import (
    MAX_BODY,
    MAX_HEAD,
    Answer,
    Digest,
    RtspError,
    Track,
    Unsupported,
    challenge_from,
    message_length,
)
from camhub.redact import redact_url

__all__ = ["MAX_BODY", "MAX_HEAD", "RtspError", "RtspStream", "Unsupported"]  # the rest is in `protocol`

log = logging.getLogger(__name__)

RECV_SIZE = 256 * 1024  # one read: a 1080p frame's packets are some 40 kB, a keyframe a few hundred
RTP_CLOCK = Fraction(1, 90_000)  # H.264 and H.265 over RTP always count 90 kHz
RTP_SECONDS = float(RTP_CLOCK)
FPS_UNITS = 4  # units after the first keyframe whose timestamps estimate the frame rate
KEYFRAME_WAIT = 10.0  # seconds after PLAY the first keyframe may take, at least (`RtspStream._first_units`)
DEFAULT_SESSION_TIMEOUT = 60.0  # seconds, RFC 2326's default when the Session header gives none
USER_AGENT = "camhub"


class RtspConnection:
    """One RTSP session over TCP: requests answered in turn, then interleaved data read in large pieces."""

    def __init__(self, url: str, username: str | None, password: str | None, timeout: float) -> None:
        parts = urlsplit(url)
        if parts.scheme.lower() != "rtsp":
            raise Unsupported(f"the scheme {parts.scheme!r} (this client reads rtsp://)")
        if any(c in url for c in "\r\n\t "):
            raise SourceError(f"the URL has white space or a line break in it ({redact_url(url)})")
        self.username = unquote(parts.username) if parts.username is not None else username
        self.password = unquote(parts.password or "") if parts.username is not None else password
        for secret in (self.username, self.password):
            if secret is not None and any(c in secret for c in "\r\n"):
                raise SourceError("the camera's username or password has a line break in it")
        host = parts.hostname or ""
        netloc = f"[{host}]" if ":" in host else host
        if parts.port:
            netloc += f":{parts.port}"
        self.url = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))  # no credentials
        self.shown = redact_url(url)
        self.timeout = timeout
        self.buf = bytearray()
        self.cseq = 0
        self.session: str | None = None
        self.auth: Digest | None = None
        try:
            self.sock = socket.create_connection((host, parts.port or 554), timeout=timeout)
        except OSError as exc:  # kept as the cause: what kind of failure it was (refused, unreachable, timed out)
            raise SourceError(describe_av_error(exc, url)) from exc
        # SO_RCVBUF is left to the kernel: setting it would turn off TCP's buffer autotuning, and a paced
        # reader (`RtspStream`) needs the socket to hold half a second of a 4K camera's stream.
        self.sock.settimeout(timeout)

    def fill(self) -> int:
        """One read from the socket into the buffer, of at most RECV_SIZE bytes: how many came. A closed or
        silent connection is a SourceError."""
        try:
            data = self.sock.recv(RECV_SIZE)
        except OSError as exc:  # TimeoutError included
            raise SourceError(describe_av_error(exc, self.shown)) from None
        if not data:
            raise SourceError(f"the camera closed the connection ({self.shown})")
        self.buf += data
        return len(data)

    def send(self, method: str, url: str, headers: dict[str, str] | None = None) -> int:
        self.cseq += 1
        lines = [f"{method} {url} RTSP/1.0", f"CSeq: {self.cseq}", f"User-Agent: {USER_AGENT}"]
        if self.session is not None:
            lines.append(f"Session: {self.session}")
        if self.auth is not None:
            lines.append(f"Authorization: {self.auth.header(method, url)}")
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        try:
            self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8"))
        except OSError as exc:
            raise SourceError(describe_av_error(exc, self.shown)) from None
        return self.cseq

    def request(self, method: str, url: str, headers: dict[str, str] | None = None) -> Answer:
        """Send a request and wait for its answer; a 401 is answered once with the credentials given."""
        answer = self._exchange(method, url, headers)
        if answer.status == 401 and self.auth is None and self.username is not None:
            challenge = challenge_from(answer.headers.get("www-authenticate", ""))
            if challenge:
                self.auth = Digest(challenge, self.username, self.password or "")
                answer = self._exchange(method, url, headers)
        if answer.status == 401:
            raise RtspError(f"authentication failed (401): check the username and password ({self.shown})", 401)
        if answer.status == 403:
            raise RtspError(f"access forbidden (403) ({self.shown})", 403)
        if answer.status == 404:
            raise RtspError(f"not found on the camera (404): check the path in the URL ({self.shown})", 404)
        if answer.status in (300, 301, 302, 303, 305, 307, 461):
            raise Unsupported(f"the camera answered {method} with {answer.status} {answer.reason[:60]}")
        if not 200 <= answer.status < 300:
            raise RtspError(
                f"the camera answered {method} with {answer.status} {answer.reason[:60]} ({self.shown})", answer.status
            )
        return answer

    def _exchange(self, method: str, url: str, headers: dict[str, str] | None) -> Answer:
        cseq = self.send(method, url, headers)
        deadline = time.monotonic() + self.timeout
        while True:
            answer = self.take_message()
            if answer is not None:
                if answer.headers.get("cseq", "").strip() == str(cseq):
                    return answer
                continue  # an answer to an earlier request (a keep-alive), or a request from the server
            if time.monotonic() > deadline:
                raise SourceError(f"timed out waiting for the camera ({self.shown})")
            self.fill()

    def take_message(self) -> Answer | None:
        """The RTSP message at the buffer's start, removed from it; interleaved data before it is skipped."""
        buf = self.buf
        while buf[:1] == b"$":  # data before the answer (PLAY's stream may start first): not needed yet
            if len(buf) < 4 or len(buf) < 4 + ((buf[2] << 8) | buf[3]):
                return None
            del buf[: 4 + ((buf[2] << 8) | buf[3])]
        if not buf:
            return None
        if not buf[:1].isalpha():
            raise SourceError(f"the camera sent bytes that are neither RTSP nor RTP data ({self.shown})")
        ends = message_length(buf, 0)
        if ends is None:
            return None
        head_end, end = ends
        message = bytes(buf[:end])
        del buf[:end]
        if not message.startswith(b"RTSP/"):
            return None  # a request from the server (ANNOUNCE, SET_PARAMETER): not acted on
        return Answer(message[:head_end], message[head_end + 4 :])

    def close(self) -> None:
        if self.session is not None:
            try:
                self.sock.settimeout(0.5)
                self.send("TEARDOWN", self.url)
            except (SourceError, OSError):
                pass  # the connection is going anyway
        self.sock.close()


class RtspStream:
    """A camera's H.264 or H.265 stream, opened (DESCRIBE, SETUP, PLAY) up to its first keyframe.

    `pace` (seconds) spaces the reads: each read takes all that came since the last (up to RECV_SIZE, and
    another read follows at once when that filled it). A record input read twice a second instead of at
    every frame costs a third less (bench/results/pipeline.md, 2026-12-01): each wake-up of a reader
    thread costs more than the frames it reads. A packet's capture time is when it
    arrived, whatever the pace: placed by its RTP timestamp (`ArrivalClock`).
    """

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
        self._drained = True  # whether the last read took all the socket held (`_read`)
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

    def _read(self) -> list[Unit]:
        """Read once from the socket; the access units completed by what came."""
        conn = self._conn
        self._drained = conn.fill() < RECV_SIZE
        units: list[Unit] = []
        buf = conn.buf
        size = len(buf)
        pos = 0
        channel = self._channel
        push = self._depay.push
        with memoryview(buf) as view:
            while size - pos >= 4:
                if buf[pos] == 0x24:  # '$', channel, 16-bit length, then that many bytes
                    end = pos + 4 + ((buf[pos + 2] << 8) | buf[pos + 3])
                    if end > size:
                        break
                    if buf[pos + 1] == channel:
                        try:
                            push(view[pos + 4 : end], units)
                        except UnitTooLarge as exc:
                            raise SourceError(f"{exc} ({conn.shown})") from None
                    pos = end
                    continue
                if not (65 <= buf[pos] <= 90):  # an RTSP message starts with an upper-case letter
                    raise SourceError(f"the camera sent bytes that are neither RTSP nor RTP data ({conn.shown})")
                ends = message_length(buf, pos)
                if ends is None:
                    break
                pos = ends[1]  # an answer to a keep-alive, or a request from the server: not acted on
        del buf[:pos]
        now = time.monotonic()
        if now >= self._next_keepalive:
            self._next_keepalive = now + max(self._session_timeout / 2, 1.0)
            conn.send(self._keepalive, conn.url)
        return units

    @property
    def copy_template(self) -> VideoStream:
        return self._template

    def packets(self) -> Iterator[Packet]:
        """The stream's frames as they come; a camera that sends data but no frame for the input's timeout
        (RTCP alone, say, with its encoder hung) is timed out as a silent one is."""
        pending, self._ready = self._ready, []
        timeout = self._conn.timeout
        last = time.monotonic()
        clock = ArrivalClock()
        while True:
            if pending:
                now, pace = time.time(), self.pace
                stamps = [self._media_time(unit) for unit in pending]
                clock.read(now, stamps[-1] * RTP_SECONDS, pace)
                for unit, stamp in zip(pending, stamps, strict=True):
                    yield self._packet(unit, stamp, clock.capture_time(stamp * RTP_SECONDS, now, pace))
            if self.pace and self._drained:
                time.sleep(max(0.0, last + self.pace - time.monotonic()))
            pending = self._read()
            now_mono = time.monotonic()
            if pending:
                last = now_mono
            elif now_mono - last > timeout:
                raise SourceError(
                    f"timed out waiting for the camera: no frame for {timeout:.0f} s ({self._conn.shown})"
                )

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
