"""A hostile or broken RTSP camera against the hub's RTSP client (integrations/rtsp/client.py).

The camera here is a fake: a real TCP server on 127.0.0.1, in threads of the
test process, answering from a script. The GStreamer RTSP server the other
RTSP tests use cannot be made to send a head without an end, a huge
Content-Length, garbage after PLAY, a fragment that never ends or a wrong
Digest exchange, and those bytes are what this file is about. What the fake
streams after PLAY is real H.264 from libx264, packetised as RFC 6184 says
(tests/rtp_media.py).

Every case must end within a bounded time with a `SourceError` that says what
went wrong (or `Unsupported`, where the camera is to be read by FFmpeg
instead): never a hang, a crash or memory without bound; and the camera's
password is never in an error or a log line.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import logging
import re
import socket
import struct
import termios
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from camhub.config import parse_config
from camhub.errors import SourceError
from camhub.integrations.rtsp import RtspSource
from camhub.integrations.rtsp.client import MAX_BODY, MAX_HEAD, RtspError, RtspStream, Unsupported
from camhub.integrations.rtsp.connection import CAPACITY, RECV_SIZE, RtspConnection
from camhub.integrations.rtsp.depay import MAX_UNIT, H264Depacketiser, UnitTooLarge
from camhub.integrations.rtsp.protocol import resolve

from ..rtp_media import FRAMES, GOP, HEIGHT, TICKS, WIDTH, encoded, h264_payloads, interleaved, rtp

pytestmark = pytest.mark.timeout(180)  # a hang fails the test instead of the run

DEADLINE = 60.0  # seconds for a condition the test waits on: generous, the machine is shared
PASSWORD = "pa55-Wörd:x"
USERNAME = "viewer"
REALM = "camhub-test"
NONCE = "0a4f113b"

H264_SDP = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=cam\r\nt=0 0\r\na=control:*\r\n"
    "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=1\r\na=control:track1\r\n"
)


@dataclass
class Request:
    method: str
    uri: str
    headers: dict[str, str]  # names in lower case
    after_play: bool  # came after this connection's PLAY was answered


def md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def digest_fields(header: str) -> dict[str, str]:
    return {
        m[1].lower(): m[2] if m[2] is not None else m[3] for m in re.finditer(r'(\w+)=(?:"([^"]*)"|([^,\s]*))', header)
    }


def digest_valid(request: Request, qop: bool) -> bool:
    """The request's Authorization checked as RFC 2617 says, with the password the camera knows."""
    header = request.headers.get("authorization", "")
    if not header.startswith("Digest "):
        return False
    got = digest_fields(header[7:])
    if (got.get("username"), got.get("realm"), got.get("nonce"), got.get("uri")) != (
        USERNAME,
        REALM,
        NONCE,
        request.uri,
    ):
        return False
    ha1 = md5(f"{USERNAME}:{REALM}:{PASSWORD}")
    ha2 = md5(f"{request.method}:{request.uri}")
    if qop:
        if got.get("qop") != "auth" or not got.get("cnonce") or not re.fullmatch(r"[0-9a-f]{8}", got.get("nc", "")):
            return False
        expected = md5(f"{ha1}:{NONCE}:{got['nc']}:{got['cnonce']}:auth:{ha2}")
    else:
        if "qop" in got or "nc" in got:
            return False
        expected = md5(f"{ha1}:{NONCE}:{ha2}")
    return got.get("response") == expected and got.get("opaque") == "op-1"


class Connection:
    """One client connection to the fake camera: requests read in turn, answers and stream sent under a lock."""

    def __init__(self, camera: FakeCamera, sock: socket.socket) -> None:
        self.camera, self.sock = camera, sock
        self.buf = b""
        self.played = False
        self.lock = threading.Lock()

    def read_request(self) -> Request | None:
        """The next request, or None once the client closed the connection."""
        while b"\r\n\r\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                return None
            self.buf += data
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("utf-8").split("\r\n")
        method, uri, _ = lines[0].split(" ", 2)
        headers = {n.strip().lower(): v.strip() for n, _, v in (ln.partition(":") for ln in lines[1:])}
        request = Request(method, uri, headers, self.played)
        self.camera.record(request)
        return request

    def send(self, data: bytes) -> None:
        with self.lock:
            self.sock.sendall(data)

    def answer(
        self, request: Request, status: str = "200 OK", headers: dict[str, str] | None = None, body: bytes = b""
    ) -> None:
        lines = [f"RTSP/1.0 {status}", f"CSeq: {request.headers.get('cseq', '0')}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        if body:
            lines.append(f"Content-Length: {len(body)}")
        self.send(("\r\n".join(lines) + "\r\n\r\n").encode() + body)


def video(
    units: Iterator[int] | None = None,
    fps: float = 30.0,
    channel: int = 0,
    between: bytes = b"",
    timestamp: int = 1 << 20,
) -> Callable[[Connection], None]:
    """After PLAY: the test's H.264 access units (`units` picks them by index; all, over and over, if None),
    on `channel`, with `between` sent after each."""

    def stream(conn: Connection) -> None:
        frames = encoded("h264")
        order = units if units is not None else (i % len(frames) for i in range(1 << 30))
        seq, ts = 4000, timestamp
        for index in order:
            parts = h264_payloads(frames[index].nals)
            data = b"".join(interleaved(rtp(p, seq + j, ts, j == len(parts) - 1), channel) for j, p in enumerate(parts))
            seq, ts = seq + len(parts), (ts + TICKS) & 0xFFFFFFFF
            conn.send(data + between)
            if conn.camera.stopped.wait(1 / fps):
                return

    return stream


@dataclass
class Script:
    """What the fake camera answers; each field replaces one part of a well-behaved camera's exchange."""

    public: str = "OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER"
    sdp: str = H264_SDP
    setup: dict[str, str] = field(
        default_factory=lambda: {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1", "Session": "abc;timeout=60"}
    )
    # method: bytes sent instead of its answer, or what sends them
    raw: dict[str, bytes | Callable[[Connection], None]] = field(default_factory=dict)
    after_play: Callable[[Connection], None] | None = None  # run in a thread of its own once PLAY is answered
    authorize: Callable[[Request], bool] | None = None  # None: no authentication
    challenge: str = f'Digest realm="{REALM}", nonce="{NONCE}", opaque="op-1", qop="auth"'


class FakeCamera:
    """A scripted RTSP server on 127.0.0.1: a thread accepting, a thread per connection, one per stream."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.stopped = threading.Event()
        self.changed = threading.Condition()
        self.requests: list[Request] = []
        self.errors: list[BaseException] = []
        self.socks: list[socket.socket] = []
        self.threads = [threading.Thread(target=self._accept, name="fake-camera", daemon=True)]
        self.threads[0].start()

    def url(self, userinfo: str = "") -> str:
        return f"rtsp://{userinfo}127.0.0.1:{self.port}/cam"

    def record(self, request: Request) -> None:
        with self.changed:
            self.requests.append(request)
            self.changed.notify_all()

    def wait_for(self, check: Callable[[list[Request]], bool], timeout: float = DEADLINE) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: check(self.requests), timeout)

    def methods(self) -> list[str]:
        with self.changed:
            return [r.method for r in self.requests]

    def close(self) -> None:
        self.stopped.set()
        self.threads[0].join(10)  # no connection is accepted after this
        for sock in self.socks:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for thread in self.threads:
            thread.join(10)
        self.listener.close()
        for sock in self.socks:
            sock.close()
        assert not any(t.is_alive() for t in self.threads), "the fake camera's threads did not end"
        assert not self.errors, self.errors

    def _thread(self, target: Callable[..., None], *args: Any) -> None:
        def guarded() -> None:
            try:
                target(*args)
            except OSError:
                pass  # the client went away: what these tests expect of it
            except Exception as exc:  # kept, and failed on in close(): a broken script, not a hostile camera
                self.errors.append(exc)

        thread = threading.Thread(target=guarded, name="fake-camera", daemon=True)
        self.threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                sock, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            sock.settimeout(None)
            self.socks.append(sock)
            self._thread(self._serve, Connection(self, sock))

    def _serve(self, conn: Connection) -> None:
        script = self.script
        while (request := conn.read_request()) is not None:
            if request.method in script.raw:
                raw = script.raw[request.method]
                if isinstance(raw, bytes):
                    conn.send(raw)
                else:
                    raw(conn)
                continue
            if script.authorize is not None and not script.authorize(request):
                conn.answer(request, "401 Unauthorized", {"WWW-Authenticate": script.challenge})
                continue
            if request.method == "OPTIONS":
                conn.answer(request, headers={"Public": script.public})
            elif request.method == "DESCRIBE":
                headers = {"Content-Type": "application/sdp", "Content-Base": self.url() + "/"}
                conn.answer(request, headers=headers, body=script.sdp.encode())
            elif request.method == "SETUP":
                conn.answer(request, headers=script.setup)
            elif request.method == "PLAY":
                conn.answer(request, headers={"Session": "abc", "Range": "npt=0.000-"})
                conn.played = True
                if script.after_play is not None:
                    self._thread(script.after_play, conn)
            elif request.method == "TEARDOWN":
                conn.answer(request)
                return
            else:
                conn.answer(request)


@pytest.fixture
def camera() -> Iterator[Callable[..., FakeCamera]]:
    """camera(Script(...)) starts a fake camera; each is stopped, and its threads joined, after the test."""
    started: list[FakeCamera] = []

    def start(script: Script | None = None) -> FakeCamera:
        started.append(FakeCamera(script or Script()))
        return started[-1]

    yield start
    for cam in started:
        cam.close()


def open_stream(cam: FakeCamera, timeout: float = 3.0, **kwargs: Any) -> RtspStream:
    return RtspStream(cam.url(), timeout=timeout, **kwargs)


def fails(cam: FakeCamera, kind: type[SourceError] = SourceError, timeout: float = 3.0, **kwargs: Any) -> str:
    """Open the camera's stream, expecting `kind`; its message."""
    with pytest.raises(kind) as caught:
        open_stream(cam, timeout=timeout, **kwargs).close()
    return str(caught.value)


def packet_sizes(cam: FakeCamera, count: int) -> list[int]:
    """The sizes of the first `count` packets of the camera's stream."""
    stream = open_stream(cam)
    try:
        packets = stream.packets()
        return [next(packets).packet.size for _ in range(count)]
    finally:
        stream.close()


def read_until_error(stream: RtspStream, limit: int = 100_000) -> str:
    """Packets of an opened stream until it fails; the message."""
    try:
        with pytest.raises(SourceError) as caught:
            for i, _ in enumerate(stream.packets()):
                assert i < limit, "the stream did not fail"
    finally:
        stream.close()
    return str(caught.value)


@pytest.mark.parametrize("timestamp", [1 << 20, (1 << 32) - 8 * TICKS], ids=["plain", "wrapping"])
def test_a_well_behaved_camera_for_comparison(camera: Callable[..., FakeCamera], timestamp: int) -> None:
    """The fake camera, behaving: what the cases below spoil is a stream the client reads whole."""
    cam = camera(Script(after_play=video(timestamp=timestamp)))
    stream = open_stream(cam)
    try:
        assert (stream.info.codec, stream.info.width, stream.info.height, stream.info.fps) == (
            "h264",
            WIDTH,
            HEIGHT,
            15,
        )
        packets = stream.packets()
        got = [next(packets) for _ in range(2 * FRAMES)]
        frames = [f for p in got for f in stream.decode(p)]
    finally:
        stream.close()
    units = encoded("h264")
    assert [bytes(p.packet) for p in got] == [units[i % FRAMES].annex_b for i in range(2 * FRAMES)]
    assert [p.keyframe for p in got] == [i % GOP == 0 for i in range(2 * FRAMES)]
    # Timestamps count on from 0 in the 90 kHz clock, through the RTP timestamp's wrap.
    assert [p.packet.pts for p in got] == [i * TICKS for i in range(2 * FRAMES)]
    assert len(frames) >= 2 * FRAMES - 2 and {(f.width, f.height) for f in frames} == {(WIDTH, HEIGHT)}
    assert "TEARDOWN" in cam.methods() or cam.wait_for(lambda rs: any(r.method == "TEARDOWN" for r in rs))


def test_a_burst_behind_the_answer_to_play_is_read_whole() -> None:
    """A camera catching up from its last keyframe may send much of the stream right behind its answer to PLAY,
    so that the read that brings the answer leaves more than a packet's worth unparsed in the client's buffer.
    The reads that follow must still fit that buffer and keep every byte (a real TCP connection on loopback;
    the client's socket is made to hold the burst before it reads, as a busy machine would)."""
    answer = b"RTSP/1.0 200 OK\r\nCSeq: 4\r\nSession: abc\r\n\r\n"
    frames = encoded("h264")
    stream = bytearray()
    seq = 4000
    while len(stream) < 2 * CAPACITY:
        i = (seq - 4000) % FRAMES
        parts = h264_payloads(frames[i].nals)
        stream += b"".join(
            interleaved(rtp(part, seq + j, i * TICKS, j == len(parts) - 1)) for j, part in enumerate(parts)
        )
        seq += len(parts)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        conn = RtspConnection(f"rtsp://127.0.0.1:{listener.getsockname()[1]}/cam", None, None, 5.0)
        conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        peer, _ = listener.accept()
        sender = threading.Thread(target=peer.sendall, args=(answer + stream,), daemon=True)
        sender.start()
        try:
            deadline = time.monotonic() + DEADLINE
            while waiting(conn.sock) < len(answer) + CAPACITY - RECV_SIZE + 1000:  # more than the rest of a read
                assert time.monotonic() < deadline, waiting(conn.sock)
                time.sleep(0.01)
            conn.fill()
            got = conn.take_message()
            assert got is not None and got.status == 200
            assert conn.end - conn.start > CAPACITY - RECV_SIZE
            received = bytearray()
            while len(received) < len(stream):
                conn.fill()
                received += conn.buf[conn.start : conn.end]
                conn.start = conn.end
        finally:
            sender.join(DEADLINE)
            peer.close()
            conn.sock.close()
    assert received == stream


def waiting(sock: socket.socket) -> int:
    """Bytes the socket holds, not yet read."""
    return struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0\0\0\0"))[0]


def test_aggregates_of_one_byte_nal_units_cost_memory_as_bytes_not_as_objects() -> None:
    """A camera sending STAP-A packets of one-byte NAL units (three bytes each on the wire) up to the unit's
    bound: the unit's bookkeeping stays near its bytes, not a hundred times them (each part a Python object)."""
    depay = H264Depacketiser(max_unit=1 << 20)
    payload = bytes([24]) + b"\x00\x01\x41" * 20_000  # STAP-A, 20,000 NAL units of one byte
    tracemalloc.start()
    try:
        with pytest.raises(UnitTooLarge):
            for seq in range(100):
                depay.push(memoryview(rtp(payload, seq, 0, False)), [])  # as the client gives them: views
                _, peak = tracemalloc.get_traced_memory()
                assert peak < 8 << 20, peak  # the unit is at most 1 MB; a view per byte peaked at 12 MB
    finally:
        tracemalloc.stop()


# --- answers out of bounds -------------------------------------------------------------------------------


def test_an_answer_head_over_max_head_without_an_end(camera: Callable[..., FakeCamera]) -> None:
    endless = b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nX-Filler: " + b"a" * (MAX_HEAD * 4)
    cam = camera(Script(raw={"OPTIONS": endless}))
    assert f"head over {MAX_HEAD} bytes" in fails(cam)


@pytest.mark.parametrize(
    "length",
    [
        MAX_BODY + 1,
        999_999_999,
        10**12,
        10**40,
    ],
)
def test_a_content_length_over_max_body(camera: Callable[..., FakeCamera], length: int) -> None:
    answer = f"RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Type: application/sdp\r\nContent-Length: {length}\r\n\r\n"
    cam = camera(Script(raw={"DESCRIBE": answer.encode() + H264_SDP.encode()}))
    assert f"body of {length} bytes" in fails(cam)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (b"RTSP/1.0 abc OK\r\nCSeq: 1\r\n\r\n", "does not start with an RTSP status line"),
        (b"RTSP/1.0\r\nCSeq: 1\r\n\r\n", "does not start with an RTSP status line"),
        (b"\x00\xff\x13\x37 garbage\r\n\r\n", "neither RTSP nor RTP"),
        # Looks like a request from the server, which is skipped: the answer never comes.
        (b"HTTP/1.1 200 OK\r\nCSeq: 1\r\n\r\n", "timed out"),
    ],
    ids=["status-not-a-number", "no-status", "binary", "http"],
)
def test_a_garbage_status_line(camera: Callable[..., FakeCamera], status: bytes, expected: str) -> None:
    cam = camera(Script(raw={"OPTIONS": status}))
    assert expected in fails(cam, timeout=1.0)


def trickle(conn: Connection) -> None:
    """An answer one byte at a time, each well within the client's socket timeout: a head that never ends."""
    head = b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nX-Filler: " + b"a" * 400
    for byte in head:
        if conn.camera.stopped.wait(0.25):
            return
        conn.send(bytes([byte]))


def test_an_answer_trickled_one_byte_at_a_time_times_out(camera: Callable[..., FakeCamera]) -> None:
    cam = camera(Script(raw={"OPTIONS": trickle}))
    assert "timed out" in fails(cam, timeout=1.0)


def test_answers_to_other_requests_are_skipped_until_timed_out(camera: Callable[..., FakeCamera]) -> None:
    other = b"".join(b"RTSP/1.0 200 OK\r\nCSeq: %d\r\n\r\n" % n for n in (0, 7, 99))
    cam = camera(Script(raw={"OPTIONS": other}))
    assert "timed out" in fails(cam, timeout=1.0)


# --- after PLAY ------------------------------------------------------------------------------------------


def garbage_after(frames: int) -> Callable[[Connection], None]:
    def stream(conn: Connection) -> None:
        video(iter(range(frames)))(conn)
        conn.send(bytes(range(0, 256, 7)) * 4)  # neither '$' nor a letter

    return stream


def test_binary_garbage_after_play_while_opening(camera: Callable[..., FakeCamera]) -> None:
    cam = camera(Script(after_play=garbage_after(0)))
    assert "neither RTSP nor RTP" in fails(cam)


def test_binary_garbage_in_the_middle_of_the_stream(camera: Callable[..., FakeCamera]) -> None:
    cam = camera(Script(after_play=garbage_after(12)))
    stream = open_stream(cam)
    assert (stream.info.codec, stream.info.width, stream.info.height) == ("h264", WIDTH, HEIGHT)
    assert "neither RTSP nor RTP" in read_until_error(stream)


def test_a_camera_choosing_other_channels_is_read_on_them(camera: Callable[..., FakeCamera]) -> None:
    noise = interleaved(rtp(bytes([0x65]) + bytes(200), 1, 1, True), channel=0)  # not the camera's channel
    cam = camera(
        Script(
            setup={"Transport": "RTP/AVP/TCP;unicast;interleaved=2-3", "Session": "abc"},
            after_play=video(channel=2, between=noise),
        )
    )
    sizes = packet_sizes(cam, 12)
    frames = encoded("h264")
    assert sizes == [len(f.annex_b) for f in frames[:12]]


def test_requests_and_answers_from_the_camera_in_the_stream_are_skipped(camera: Callable[..., FakeCamera]) -> None:
    body = b"x-note: " + b"n" * 2000 + b"\r\n"
    request = b"SET_PARAMETER rtsp://127.0.0.1/cam RTSP/1.0\r\nCSeq: 1\r\nContent-Length: %d\r\n\r\n" % len(body)
    answer = b"RTSP/1.0 200 OK\r\nCSeq: 555\r\nSession: abc\r\n\r\n"
    cam = camera(Script(after_play=video(between=request + body + answer)))
    sizes = packet_sizes(cam, 40)
    frames = encoded("h264")
    assert sizes == [len(frames[i % FRAMES].annex_b) for i in range(40)]


def undecodable_keyframes(conn: Connection) -> None:
    """IDR slices of noise, no parameter sets: keyframes by their NAL type that no decoder can read."""
    seq, ts = 1, 0
    noise = bytes(range(7, 256, 3)) * 40
    while not conn.camera.stopped.wait(1 / 30):
        parts = h264_payloads([bytes([0x65]) + noise])
        conn.send(b"".join(interleaved(rtp(p, seq + j, ts, j == len(parts) - 1)) for j, p in enumerate(parts)))
        seq, ts = seq + len(parts), ts + TICKS


def test_keyframes_ffmpeg_cannot_read(camera: Callable[..., FakeCamera]) -> None:
    cam = camera(Script(after_play=undecodable_keyframes))
    message = fails(cam, Unsupported)
    assert "first keyframe" in message, message


def endless_fragment(conn: Connection) -> None:
    """An IDR slice's FU-A start, then middles without end, up to past the depacketiser's bound."""
    chunk = bytes(range(256)) * 255  # 65280 bytes of fragment per packet
    sent, seq = 0, 1
    conn.send(interleaved(rtp(bytes([0x7C, 0x85]) + chunk, seq, 9000, False)))
    while sent <= MAX_UNIT + len(chunk) and not conn.camera.stopped.is_set():
        seq += 1
        conn.send(interleaved(rtp(bytes([0x7C, 0x05]) + chunk, seq, 9000, False)))
        sent += len(chunk)


def test_a_fragment_that_never_ends(camera: Callable[..., FakeCamera]) -> None:
    cam = camera(Script(after_play=endless_fragment))
    message = fails(cam, timeout=10.0)
    assert f"the bound is {MAX_UNIT}" in message, message


def test_a_camera_that_never_sends_a_keyframe_is_left_to_ffmpeg(camera: Callable[..., FakeCamera]) -> None:
    predicted = (i % FRAMES for i in range(1 << 30) if i % GOP)
    cam = camera(Script(after_play=video(predicted)))
    assert "no keyframe" in fails(cam, Unsupported, timeout=1.0)


def test_a_camera_silent_after_play(camera: Callable[..., FakeCamera]) -> None:
    cam = camera(Script(after_play=lambda conn: None))
    with pytest.raises(SourceError, match="timed out waiting for the camera") as caught:
        open_stream(cam, timeout=1.0)
    assert not isinstance(caught.value, Unsupported)  # a camera that stops is not one for FFmpeg


def test_a_camera_silent_in_the_middle_of_the_stream(camera: Callable[..., FakeCamera]) -> None:
    cam = camera(Script(after_play=video(iter(range(15)))))
    stream = open_stream(cam, timeout=1.0)
    assert "timed out waiting for the camera" in read_until_error(stream)


def rtcp_only_after(frames: int) -> Callable[[Connection], None]:
    """Some video, then only RTCP (channel 1) for a while, then the connection closed."""

    def stream(conn: Connection) -> None:
        video(iter(range(frames)))(conn)
        report = interleaved(bytes([0x80, 200, 0, 6]) + bytes(24), channel=1)
        deadline = time.monotonic() + 10  # ten times the client's timeout
        while time.monotonic() < deadline and not conn.camera.stopped.wait(0.2):
            conn.send(report)
        conn.sock.shutdown(socket.SHUT_RDWR)

    return stream


def test_a_camera_that_sends_only_rtcp_times_out(camera: Callable[..., FakeCamera]) -> None:
    cam = camera(Script(after_play=rtcp_only_after(12)))
    stream = open_stream(cam, timeout=1.0)
    assert "timed out" in read_until_error(stream)


# --- what the client leaves to FFmpeg, and SETUP -------------------------------------------------------


AUDIO_ONLY = "v=0\r\ns=x\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
MJPEG = "v=0\r\ns=x\r\nt=0 0\r\nm=video 0 RTP/AVP 26\r\na=rtpmap:26 JPEG/90000\r\na=control:track1\r\n"
MJPEG_STATIC = "v=0\r\ns=x\r\nt=0 0\r\nm=video 0 RTP/AVP 26\r\n"
INTERLEAVED_H264 = H264_SDP.replace("packetization-mode=1", "packetization-mode=2")
H265_DON = (
    "v=0\r\ns=x\r\nt=0 0\r\nm=video 0 RTP/AVP 97\r\na=rtpmap:97 H265/90000\r\n"
    "a=fmtp:97 sprop-max-don-diff=2\r\na=control:track1\r\n"
)


@pytest.mark.parametrize(
    ("sdp", "expected"),
    [
        (AUDIO_ONLY, "no video track"),
        (MJPEG, "offers JPEG"),
        (MJPEG_STATIC, "payload type 26"),
        (INTERLEAVED_H264, "interleaved packetization mode"),
        (H265_DON, "decoding order numbers"),
        ("", "no video track"),
    ],
    ids=["audio-only", "mjpeg", "mjpeg-static", "packetization-mode-2", "h265-don", "empty"],
)
def test_sdp_the_client_does_not_read(camera: Callable[..., FakeCamera], sdp: str, expected: str) -> None:
    cam = camera(Script(sdp=sdp))
    assert expected in fails(cam, Unsupported)
    assert "SETUP" not in cam.methods()


def test_a_setup_answer_without_session(camera: Callable[..., FakeCamera]) -> None:
    cam = camera(Script(setup={"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"}))
    with pytest.raises(SourceError, match="no Session") as caught:
        open_stream(cam)
    assert not isinstance(caught.value, Unsupported)
    assert "PLAY" not in cam.methods()


@pytest.mark.parametrize(
    "transport",
    ["RTP/AVP;unicast;client_port=5000-5001;server_port=6970-6971", "RTP/AVP/TCP;unicast", ""],
    ids=["udp", "tcp-without-channels", "none"],
)
def test_a_setup_answer_without_rtp_over_tcp_is_left_to_ffmpeg(
    camera: Callable[..., FakeCamera], transport: str
) -> None:
    cam = camera(Script(setup={"Transport": transport, "Session": "abc"}))
    assert "does not send RTP over the RTSP connection" in fails(cam, Unsupported)


# --- authentication --------------------------------------------------------------------------------------


@pytest.mark.parametrize("qop", [True, False], ids=["qop-auth", "no-qop"])
@pytest.mark.parametrize("in_url", [False, True], ids=["config", "url"])
def test_digest_authentication_is_answered_correctly(
    camera: Callable[..., FakeCamera], qop: bool, in_url: bool
) -> None:
    challenge = f'Digest realm="{REALM}", nonce="{NONCE}", opaque="op-1"' + (', qop="auth,auth-int"' if qop else "")
    cam = camera(Script(authorize=lambda r: digest_valid(r, qop), challenge=challenge, after_play=video()))
    if in_url:
        stream = RtspStream(cam.url(f"{USERNAME}:pa55-W%C3%B6rd%3Ax@"), timeout=3.0)
    else:
        stream = open_stream(cam, username=USERNAME, password=PASSWORD)
    try:
        assert (stream.info.width, stream.info.height) == (WIDTH, HEIGHT)
        packets = stream.packets()
        assert next(packets).keyframe
    finally:
        stream.close()
    with cam.changed:
        requests = list(cam.requests)
    # One 401, for the first request; every request after it carries a valid answer to the challenge.
    assert [r.method for r in requests[:2]] == ["OPTIONS", "OPTIONS"]
    assert "authorization" not in requests[0].headers
    assert all(digest_valid(r, qop) for r in requests[1:])
    assert {"DESCRIBE", "SETUP", "PLAY"} <= {r.method for r in requests[1:]}
    if qop:  # the nonce count goes up with each request
        counts = [int(digest_fields(r.headers["authorization"])["nc"], 16) for r in requests[1:]]
        assert counts == list(range(1, len(counts) + 1))


def test_basic_authentication(camera: Callable[..., FakeCamera]) -> None:
    token = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
    script = Script(
        authorize=lambda r: r.headers.get("authorization") == f"Basic {token}",
        challenge=f'Basic realm="{REALM}"',
        after_play=video(),
    )
    stream = open_stream(camera(script), username=USERNAME, password=PASSWORD)
    stream.close()


def test_a_digest_algorithm_other_than_md5_is_left_to_ffmpeg(camera: Callable[..., FakeCamera]) -> None:
    challenge = f'Digest realm="{REALM}", nonce="{NONCE}", algorithm=SHA-256, qop="auth"'
    cam = camera(Script(authorize=lambda r: False, challenge=challenge))
    assert "SHA-256" in fails(cam, Unsupported, username=USERNAME, password=PASSWORD)


def test_digest_is_chosen_over_basic(camera: Callable[..., FakeCamera]) -> None:
    # Two WWW-Authenticate headers, Basic first: the password must not go out in the clear.
    challenge = f'Basic realm="{REALM}"\r\nWWW-Authenticate: Digest realm="{REALM}", nonce="{NONCE}", opaque="op-1"'
    cam = camera(Script(authorize=lambda r: digest_valid(r, False), challenge=challenge, after_play=video()))
    open_stream(cam, username=USERNAME, password=PASSWORD).close()
    with cam.changed:
        assert not any(r.headers.get("authorization", "").startswith("Basic") for r in cam.requests)


@pytest.mark.parametrize(
    ("password", "authorize"),
    [("wrong", lambda r: digest_valid(r, True)), (PASSWORD, lambda r: False)],
    ids=["wrong-password", "refused-anyway"],
)
def test_401_after_the_credentials_is_authentication_failed(
    camera: Callable[..., FakeCamera], password: str, authorize: Callable[[Request], bool]
) -> None:
    cam = camera(Script(authorize=authorize))
    message = fails(cam, RtspError, username=USERNAME, password=password)
    assert "authentication failed" in message
    assert cam.methods() == ["OPTIONS", "OPTIONS"]  # answered once, not again and again


def test_401_without_credentials(camera: Callable[..., FakeCamera]) -> None:
    cam = camera(Script(authorize=lambda r: False))
    assert "authentication failed" in fails(cam, RtspError)
    assert cam.methods() == ["OPTIONS"]


def test_the_password_is_never_in_an_error_or_a_log_line(
    camera: Callable[..., FakeCamera], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    messages: list[str] = []
    bad_sps = H264_SDP.replace("packetization-mode=1", "packetization-mode=1;sprop-parameter-sets=!!,??")
    for script in (
        Script(authorize=lambda r: False),
        Script(sdp=MJPEG),
        Script(sdp=bad_sps, after_play=lambda conn: None),
        Script(setup={"Transport": "RTP/AVP/TCP;interleaved=0-1"}),
        Script(raw={"OPTIONS": b"\x00garbage"}),
        Script(after_play=garbage_after(12)),
    ):
        cam = camera(script)
        for url, kwargs in (
            (cam.url(f"{USERNAME}:{PASSWORD.replace(':', '%3A')}@"), {}),
            (cam.url(), {"username": USERNAME, "password": PASSWORD}),
        ):
            try:
                stream = RtspStream(url, timeout=1.0, **kwargs)
            except SourceError as exc:
                messages.append(str(exc))
            else:
                messages.append(read_until_error(stream))
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    try:
        RtspStream(f"rtsp://{USERNAME}:{PASSWORD}@127.0.0.1:{port}/cam", timeout=1.0)
    except SourceError as exc:
        messages.append(str(exc))
    assert len(messages) == 13
    for text in [*messages, caplog.text]:
        assert PASSWORD not in text and "pa55" not in text, text


# --- keep-alive ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("public", "keepalive"),
    [("OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER", "GET_PARAMETER"), ("OPTIONS, DESCRIBE", "OPTIONS")],
    ids=["get-parameter", "options"],
)
def test_a_keep_alive_is_sent_within_the_session_timeout(
    camera: Callable[..., FakeCamera], public: str, keepalive: str
) -> None:
    cam = camera(
        Script(
            public=public,
            setup={"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1", "Session": "abc;timeout=2"},
            after_play=video(),
        )
    )
    stream = open_stream(cam)

    def kept_alive(requests: list[Request]) -> bool:
        return any(r.after_play and r.method == keepalive for r in requests)

    deadline = time.monotonic() + DEADLINE
    try:
        for packet in stream.packets():
            assert packet.packet.size > 0
            if kept_alive(cam.requests) or time.monotonic() > deadline:
                break
    finally:
        stream.close()
    assert cam.wait_for(kept_alive, 0), cam.methods()
    sent = next(r for r in cam.requests if r.after_play and r.method == keepalive)
    assert sent.headers.get("session") == "abc"


# --- RtspSource: the fall-back to FFmpeg ------------------------------------------------------------------


def test_rtsp_source_falls_back_to_ffmpeg_once(
    camera: Callable[..., FakeCamera], caplog: pytest.LogCaptureFixture
) -> None:
    cam = camera(Script(sdp=MJPEG))
    config = parse_config(
        {"cameras": {"cam": {"inputs": [{"url": cam.url(), "timeout": 2, "username": "u", "password": PASSWORD}]}}}
    )
    source = RtspSource(config.cameras["cam"].inputs[0])

    def hub_requests() -> int:
        with cam.changed:
            return sum(r.headers.get("user-agent") == "camhub" for r in cam.requests)

    def ffmpeg_describes() -> int:
        with cam.changed:
            return sum(r.method == "DESCRIBE" and "Lavf" in r.headers.get("user-agent", "") for r in cam.requests)

    def open_once() -> None:
        """FFmpeg may open the fake's MJPEG track (it sends no picture) or give up on it: either will do."""
        try:
            stream = source.open()
        except SourceError as exc:
            assert not isinstance(exc, Unsupported)
        else:
            assert not isinstance(stream, RtspStream)
            stream.close()

    caplog.set_level(logging.INFO, logger="camhub.integrations.rtsp")
    open_once()
    assert source._ffmpeg
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "FFmpeg" in r.getMessage()]
    assert len(warnings) == 1 and "offers JPEG" in warnings[0].getMessage()
    assert ffmpeg_describes() >= 1
    hub_before = hub_requests()
    assert hub_before >= 2

    open_once()
    assert hub_requests() == hub_before  # straight to FFmpeg
    assert ffmpeg_describes() >= 2
    assert len([r for r in caplog.records if r.levelno == logging.WARNING and "FFmpeg" in r.getMessage()]) == 1
    assert PASSWORD not in caplog.text


@pytest.mark.parametrize("control", ["track 1", "track1\r\nAuthorization: x", "rtsp://h/cam\ttrack"])
def test_a_control_url_that_cannot_go_into_a_request_line_is_left_to_ffmpeg(control: str) -> None:
    with pytest.raises(Unsupported, match="control URL"):
        resolve("rtsp://127.0.0.1/cam", control)


def test_a_repeated_session_header_is_not_sent_back_with_its_line_break(camera: Callable[..., FakeCamera]) -> None:
    """`Answer` joins a repeated header with a line break; only the first Session goes into later requests."""
    setup = {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1", "Session": "abc\r\nSession: evil;timeout=60"}
    cam = camera(Script(setup=setup, after_play=video()))
    stream = RtspStream(cam.url(), timeout=5.0)
    try:
        assert stream._conn.session == "abc"
    finally:
        stream.close()
    play = next(r for r in cam.requests if r.method == "PLAY")
    assert play.headers["session"] == "abc"
