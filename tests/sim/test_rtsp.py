"""RTSP: Debian's GstRtspServer serving pre-encoded scenes, read with PyAV over TCP."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable

import av
import pytest

from camhub.integrations.rtsp.connection import RtspConnection
from camhub.integrations.rtsp.protocol import Track
from camhub.sim.render import Rendering
from camhub.sim.rtsp import SHARED_PHASES, RtspServer

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


def play(url: str) -> tuple[RtspConnection, int]:
    """DESCRIBE, SETUP and PLAY `url` over TCP: the open connection, and the RTP timestamp of its RTP-Info."""
    conn = RtspConnection(url, None, None, timeout=10)
    described = conn.request("DESCRIBE", conn.url, {"Accept": "application/sdp"})
    track = Track(described.body.decode(), described.headers.get("content-base") or conn.url)
    setup = conn.request("SETUP", track.url, {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"})
    conn.session = setup.headers["session"].partition(";")[0].strip()
    info = conn.request("PLAY", track.aggregate, {"Range": "npt=0.000-"}).headers["rtp-info"]
    match = re.search(r"rtptime=(\d+)", info)
    assert match, info
    return conn, int(match.group(1))


async def test_shared_cameras_take_turns_over_a_few_pipelines_per_stream(sim_rendering: Rendering) -> None:
    # rtph264pay starts each pipeline's RTP clock at a random 32-bit offset, so clients of separate
    # pipelines are billions of ticks apart (a chance of 1 in 2,400 of coming within 10 s of each other);
    # clients of one pipeline are apart by the seconds between their PLAYs, at 90 kHz. The clients stay
    # connected: a shared pipeline ends with its last client.
    # Cameras take turns over SHARED_PHASES pipelines a stream: the first and the one SHARED_PHASES later
    # share one.
    names = [f"c{i}" for i in range(SHARED_PHASES + 1)]
    server = RtspServer(dict.fromkeys(names, sim_rendering), shared=True)
    async with server:
        together = (names[0], names[-1], names[0])
        played = [await asyncio.to_thread(play, server.url(name, "sub")) for name in together]
        try:
            codec, size, frames, *_ = await asyncio.to_thread(read_rtsp, server.url(names[3], "main"), 1.0)
        finally:
            for conn, _ in played:
                conn.close()
    times = [t for _, t in played]
    assert all((t - times[0]) % (1 << 32) < 90_000 * 10 for t in times), times
    assert (codec, size) == ("h264", (1280, 720)) and frames > 0
