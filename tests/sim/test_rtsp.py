"""RTSP: Debian's GstRtspServer serving pre-encoded scenes, read with PyAV over TCP."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import av
import pytest

from camhub.sim.rtsp import RtspServer

pytestmark = [pytest.mark.rtsp, pytest.mark.timeout(90)]
TCP = {"rtsp_transport": "tcp"}


def read_rtsp(url: str, seconds: float) -> tuple[str, tuple[int, int], int, float, bool]:
    """(codec, size, frames decoded, elapsed seconds, first frame was a keyframe)."""
    with av.open(url, options=TCP, timeout=(5, 5)) as container:
        stream = container.streams.video[0]
        codec = stream.codec_context.name
        frames = 0
        first_key = False
        size = (0, 0)
        start = None
        for frame in container.decode(stream):
            if start is None:
                # Count from the first frame: the catch-up burst at connect
                # is not part of the steady rate.
                start, first_key, size = time.monotonic(), frame.key_frame, (frame.width, frame.height)
                continue
            frames += 1
            if time.monotonic() - start > seconds:
                break
        assert start is not None
        return codec, size, frames, time.monotonic() - start, first_key


@pytest.mark.parametrize(
    "camera, role, codec, size",
    [
        ("cam", "main", "h264", (1280, 720)),
        ("cam", "sub", "h264", (640, 360)),
        ("hevc", "main", "hevc", (1280, 720)),
        ("hevc", "sub", "hevc", (640, 360)),
    ],
)
def test_rtsp_streams_decode_with_codec_size_and_rate(
    rtsp_server: RtspServer, camera: str, role: str, codec: str, size: tuple[int, int]
) -> None:
    got_codec, got_size, frames, elapsed, first_key = read_rtsp(rtsp_server.url(camera, role), 2.5)
    assert got_codec == codec
    assert got_size == size
    assert first_key  # a new client starts at a keyframe
    # 15 fps scenes; allow for a catch-up burst and a slow machine.
    assert 0.5 < frames / elapsed / 15 < 2.5, (frames, elapsed)


async def test_stop_then_start_on_the_same_port(rtsp_server_factory: Callable[..., RtspServer]) -> None:
    server = rtsp_server_factory()
    await server.start()
    port = server.port
    assert port > 0
    codec, *_ = await asyncio.to_thread(read_rtsp, server.url("cam", "sub"), 0.5)
    assert codec == "h264"
    await server.stop()
    assert not server.running
    with pytest.raises(av.error.FFmpegError):
        await asyncio.to_thread(read_rtsp, server.url("cam", "sub"), 0.5)
    await server.start()
    assert server.port == port
    codec, size, *_ = await asyncio.to_thread(read_rtsp, server.url("cam", "sub"), 0.5)
    assert (codec, size) == ("h264", (640, 360))


async def test_credentials_are_required(rtsp_server_factory: Callable[..., RtspServer]) -> None:
    server = rtsp_server_factory(credentials=("viewer", "s3cret-pw"))
    await server.start()
    assert server.url("cam", "sub").startswith("rtsp://viewer:s3cret-pw@127.0.0.1:")
    codec, *_ = await asyncio.to_thread(read_rtsp, server.url("cam", "sub"), 0.5)
    assert codec == "h264"
    wrong = f"rtsp://viewer:wrong@127.0.0.1:{server.port}/cam/sub"
    none = server.url("cam", "sub", with_credentials=False)
    for url in (wrong, none):
        with pytest.raises(av.error.HTTPUnauthorizedError):
            await asyncio.to_thread(read_rtsp, url, 0.5)


async def test_child_exits_when_stopped(rtsp_server_factory: Callable[..., RtspServer]) -> None:
    server = rtsp_server_factory()
    await server.start()
    proc = server._proc
    assert proc is not None and proc.poll() is None
    await server.stop()
    assert proc.poll() is not None
