"""Hostile peers against the adoption check: every one ends in a named error, in time, in bounded memory.

Each peer is a real TCP server on 127.0.0.1 answering the check's FFmpeg
with something no camera would send: random bytes (over HTTP and RTSP), a
response head that never ends (over HTTP and RTSP, many lines or one
endless line), and a first packet that never ends or claims 2 GB. FFmpeg
buffers a packet whole before the hub sees it; without the cap on its
allocations (camhub.capture.media.bound_ffmpeg_allocations) the endless
H.264 unit alone takes gigabytes.

Each case asserts the check answers a named code within its timeout (plus
slack for a busy machine), that the process's memory stays bounded while the
check and its reading thread run, and that the thread ends.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from camhub.discovery.check import CODES, StreamCheckFailed, check_stream
from camhub.registry import Registry, default_registry

TIMEOUT = 3.0
SLACK = 4.0  # seconds a busy machine may add to the check's own deadline
MAX_GROWTH = 256 << 20  # bytes of resident memory a check may add; FFmpeg alone would take gigabytes
CHUNK = 64 * 1024
NOISE = os.urandom(CHUNK)

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def request_head(reader: asyncio.StreamReader) -> None:
    """Read the client's request head (HTTP GET or RTSP OPTIONS), bounded."""
    await reader.readuntil(b"\r\n\r\n")


async def pour(writer: asyncio.StreamWriter, head: bytes, chunk: bytes) -> None:
    """Send `head`, then `chunk` again and again until the client goes."""
    writer.write(head)
    while True:
        await writer.drain()
        writer.write(chunk)


async def http_noise(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await request_head(reader)
    await pour(writer, b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n", NOISE)


async def rtsp_noise(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await request_head(reader)
    await pour(writer, b"", NOISE)


async def http_endless_head(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await request_head(reader)
    await pour(writer, b"HTTP/1.1 200 OK\r\n", b"Set-Cookie: c=" + b"a" * 1000 + b"\r\n")


async def rtsp_endless_head(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await request_head(reader)
    await pour(writer, b"RTSP/1.0 200 OK\r\nCSeq: 1\r\n", b"Public: " + b"A" * 1000 + b"\r\n")


async def http_endless_line(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await request_head(reader)
    await pour(writer, b"HTTP/1.1 200 OK\r\nX-Long: ", b"a" * CHUNK)


async def endless_h264_unit(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """An IDR slice whose bytes never reach a next start code: FFmpeg's parser keeps growing it."""
    await request_head(reader)
    await pour(writer, b"HTTP/1.1 200 OK\r\nContent-Type: video/h264\r\n\r\n\x00\x00\x00\x01\x65", b"\xff" * CHUNK)


async def two_gigabyte_jpeg(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """An MJPEG part that says 2 GB long, then sends that much: FFmpeg reads a part whole."""
    await request_head(reader)
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace;boundary=frame\r\n\r\n"
        b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: 2000000000\r\n\r\n\xff\xd8"
    )
    await pour(writer, head, b"\xff" * CHUNK)


Serve = Callable[[Handler], Awaitable[int]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """serve(handler) -> a port on 127.0.0.1 where `handler` answers each connection; all closed afterwards."""
    servers: list[asyncio.Server] = []
    writers: list[asyncio.StreamWriter] = []

    async def start(handler: Handler) -> int:
        async def guarded(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writers.append(writer)
            try:
                await handler(reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                pass  # the check hung up, as it should
            finally:
                writer.close()

        server = await asyncio.start_server(guarded, "127.0.0.1", 0)
        servers.append(server)
        return int(server.sockets[0].getsockname()[1])

    yield start
    for writer in writers:
        writer.close()
    for server in servers:
        server.close()
        await server.wait_closed()


class PeakMemory:
    """The process's resident memory, sampled by a thread every 10 ms while in use."""

    def __init__(self) -> None:
        self.start = self.peak = resident()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="peak-memory", daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, resident())

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth(self) -> int:
        return self.peak - self.start


def resident() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def check_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("stream-check:")]


async def wait_until(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


@pytest.fixture(scope="module")
def registry() -> Registry:
    return default_registry()


CASES = [
    # (handler, URL path and scheme, codes a check may name it by)
    (http_noise, "http", "/noise", {"no_video", "timeout"}),  # MJPEG integration
    (http_noise, "http", "/noise.ts", {"no_video", "timeout"}),  # MPEG-TS
    (http_noise, "http", "/noise.h264", {"no_video", "timeout", "unsupported_codec"}),  # raw H.264
    (rtsp_noise, "rtsp", "/noise", {"no_video", "timeout"}),
    (http_endless_head, "http", "/main.ts", {"timeout", "no_video"}),
    (rtsp_endless_head, "rtsp", "/main", {"timeout", "no_video"}),
    (http_endless_line, "http", "/main.ts", {"timeout", "no_video"}),
    (endless_h264_unit, "http", "/main.h264", {"no_video", "timeout"}),
    (two_gigabyte_jpeg, "http", "/mjpeg", {"no_video", "timeout", "unsupported_codec"}),
]


@pytest.mark.parametrize(("handler", "scheme", "path", "codes"), CASES, ids=[f"{c[0].__name__}-{c[2]}" for c in CASES])
async def test_a_hostile_peer_ends_in_a_named_error(
    serve: Serve, registry: Registry, handler: Handler, scheme: str, path: str, codes: set[str]
) -> None:
    port = await serve(handler)
    url = f"{scheme}://127.0.0.1:{port}{path}"
    with PeakMemory() as memory:
        started = time.monotonic()
        with pytest.raises(StreamCheckFailed) as caught:
            await check_stream(registry, url, "admin", "hostile-secret-1", timeout=TIMEOUT)
        elapsed = time.monotonic() - started
        # The reading thread ends by the source's own timeouts: open (twice) and a read.
        ended = await wait_until(lambda: not check_threads(), 3 * TIMEOUT + 10)
    error = caught.value
    assert error.code in CODES and error.code in codes, error
    assert "hostile-secret-1" not in str(error)
    assert elapsed < TIMEOUT + SLACK, f"answered after {elapsed:.1f} s"
    assert ended, f"reading threads still alive: {check_threads()}"
    assert memory.growth < MAX_GROWTH, f"resident memory grew by {memory.growth >> 20} MB"
