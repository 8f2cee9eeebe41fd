"""Checking a stream before adoption, against real peers: each failure ends in its named error.

The camera is Debian's GStreamer RTSP server with credentials (the
simulator's), the other peers real servers on 127.0.0.1: aiohttp serving an
audio-only and an AVS2 MPEG-TS made here with PyAV, a TCP server that
accepts and never answers, and a port nobody listens on.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from aiohttp import web

from camhub.discovery.check import CODES, StreamCheckFailed, StreamFacts, check_stream
from camhub.registry import Registry, default_registry
from camhub.sim.loop_thread import LoopThread
from camhub.sim.scene import Scene
from camhub.sim.simulator import Simulator

from ..conftest import free_port, skip_or_fail_without_rtsp

USER, PASSWORD = "admin", "correct-horse-77"
# Small and short: rendered in a second or two, and cached for the session.
TINY = Scene(name="check-tiny", width=320, height=240, fps=10, duration=2.0)


@pytest.fixture(scope="module")
def camera(sim_cache: Path) -> Iterator[Simulator]:
    """The simulator's RTSP camera "yard", asking for USER and PASSWORD; nothing announced.

    It runs on its own loop thread, which owns its servers from start to stop.
    """
    skip_or_fail_without_rtsp()
    sim = Simulator(
        [("yard", TINY)], cache_dir=sim_cache, announce=False, onvif=False, rtsp_credentials=(USER, PASSWORD)
    )
    with LoopThread("check-camera") as loop:
        loop.run(sim.start())
        yield sim
        loop.run(sim.stop())


def rtsp_url(sim: Simulator, role: str = "main") -> str:
    assert sim.rtsp is not None
    return sim.rtsp.url("yard", role, with_credentials=False)


@pytest.fixture(scope="module")
def registry() -> Registry:
    return default_registry()


def mpegts(*, audio: bool, video_stream_type: int | None = None) -> bytes:
    """A real MPEG-TS: AAC audio alone, or H.264 whose PMT then says `video_stream_type`."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mpegts") as out:
        if audio:
            stream = out.add_stream("aac", rate=16000)
            for i in range(40):
                frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
                frame.sample_rate, frame.pts, frame.time_base = 16000, i * 1024, Fraction(1, 16000)
                for packet in stream.encode(frame):
                    out.mux(packet)
            for packet in stream.encode(None):
                out.mux(packet)
        else:
            video = out.add_stream("libx264", rate=10, options={"preset": "ultrafast"})
            video.width, video.height, video.pix_fmt = 320, 240, "yuv420p"
            for i in range(20):
                image = av.VideoFrame.from_ndarray(np.full((240, 320, 3), i * 10, np.uint8), format="rgb24")
                image = image.reformat(format="yuv420p")
                image.pts = i
                for packet in video.encode(image):
                    out.mux(packet)
            for packet in video.encode(None):
                out.mux(packet)
    data = bytearray(buffer.getvalue())
    if video_stream_type is not None:
        assert retype_video(data, video_stream_type) > 0
    return bytes(data)


def retype_video(ts: bytearray, stream_type: int) -> int:
    """Rewrite the H.264 entry (type 0x1b) of every PMT to `stream_type`, with a fresh CRC; how many."""
    changed = 0
    for offset in range(0, len(ts), 188):
        packet = ts[offset : offset + 188]
        pid = ((packet[1] & 0x1F) << 8) | packet[2]
        if pid != 0x1000 or not packet[1] & 0x40:  # FFmpeg's PMT PID, with a section starting
            continue
        start = 5 + packet[4]  # after the pointer field
        end = start + 3 + (((packet[start + 1] & 0x0F) << 8) | packet[start + 2])
        entry = start + 12 + (((packet[start + 10] & 0x0F) << 8) | packet[start + 11])
        assert packet[entry] == 0x1B
        packet[entry] = stream_type
        packet[end - 4 : end] = crc32_mpeg2(packet[start : end - 4]).to_bytes(4, "big")
        ts[offset : offset + 188] = packet
        changed += 1
    return changed


def crc32_mpeg2(data: bytes | bytearray) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7 if crc & 0x80000000 else crc << 1) & 0xFFFFFFFF
    return crc


@pytest.fixture
async def files() -> AsyncIterator[str]:
    """An aiohttp server on 127.0.0.1 serving /audio.ts (AAC only) and /avs2.ts (video marked AVS2)."""
    bodies = {"/audio.ts": mpegts(audio=True), "/avs2.ts": mpegts(audio=False, video_stream_type=0xD2)}

    async def serve(request: web.Request) -> web.Response:
        return web.Response(body=bodies[request.path], content_type="video/mp2t")

    app = web.Application()
    for path in bodies:
        app.router.add_get(path, serve)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def silent() -> AsyncIterator[int]:
    """A TCP server on 127.0.0.1 that accepts connections, reads what comes, and never answers."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        while await reader.read(4096):
            pass

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


async def failure(
    registry: Registry, url: str, password: str | None = None, timeout: float = 10.0
) -> StreamCheckFailed:
    with pytest.raises(StreamCheckFailed) as caught:
        await check_stream(registry, url, USER if password else None, password, timeout=timeout)
    error = caught.value
    assert error.code in CODES and error.key == error.code
    if password:
        assert password not in str(error)
    return error


async def test_right_credentials_give_the_streams_facts(camera: Simulator, registry: Registry) -> None:
    facts = await check_stream(registry, rtsp_url(camera), USER, PASSWORD)
    assert facts == StreamFacts(integration="rtsp", codec="h264", width=320, height=240, fps=facts.fps)
    sub = await check_stream(registry, rtsp_url(camera, "sub"), USER, PASSWORD)
    assert (sub.codec, sub.width, sub.height) == ("h264", 640, 360)


async def test_wrong_password_is_auth_failed(camera: Simulator, registry: Registry) -> None:
    error = await failure(registry, rtsp_url(camera), password="wrong-staple-99")
    assert error.code == "auth_failed", error
    assert "username and password" in str(error)
    # Characters that URLs escape: neither the password nor its escaped form is shown.
    error = await failure(registry, rtsp_url(camera), password="wr@ng:p/ss%42")
    assert error.code == "auth_failed" and "p%2Fss" not in str(error), error
    # Credentials inside the URL are masked too.
    inline = rtsp_url(camera).replace("rtsp://", f"rtsp://{USER}:inline-wrong-55@")
    error = await failure(registry, inline)
    assert error.code == "auth_failed" and "inline-wrong-55" not in str(error), error
    error = await failure(registry, rtsp_url(camera))
    assert error.code == "auth_failed" and "asks for a username and password" in str(error), error


async def test_a_camera_path_that_is_not_there_is_no_video_with_its_404(camera: Simulator, registry: Registry) -> None:
    """Read by the hub's own RTSP client, whose errors carry the camera's answer, not FFmpeg's."""
    error = await failure(registry, rtsp_url(camera).replace("/yard/", "/nobody/"), password=PASSWORD)
    assert error.code == "no_video" and "no stream at that path (404)" in str(error), error


async def test_a_port_nobody_listens_on_is_unreachable(registry: Registry) -> None:
    error = await failure(registry, f"rtsp://127.0.0.1:{free_port()}/stream", password="not-shown-42")
    assert error.code == "unreachable", error
    assert "nothing listens" in str(error)


async def test_a_name_that_does_not_resolve_is_unreachable(registry: Registry) -> None:
    """RFC 6761 reserves .invalid: the lookup fails (or, without DNS, takes too long); either is unreachable."""
    error = await failure(registry, "rtsp://camhub-check.invalid/stream", timeout=3.0)
    assert error.code == "unreachable", error


async def test_audio_only_is_no_video(files: str, registry: Registry) -> None:
    error = await failure(registry, f"{files}/audio.ts")
    assert error.code == "no_video", error


async def test_a_missing_path_is_no_video(files: str, registry: Registry) -> None:
    error = await failure(registry, f"{files}/nothing.ts")
    assert error.code == "no_video" and "404" in str(error), error


async def test_a_server_that_never_answers_is_a_timeout(silent: int, registry: Registry) -> None:
    for url in (f"rtsp://127.0.0.1:{silent}/stream", f"http://127.0.0.1:{silent}/main.h264"):
        error = await failure(registry, url, timeout=2.0)
        assert error.code == "timeout", error


async def test_video_in_a_codec_without_decoder_is_unsupported(files: str, registry: Registry) -> None:
    """AVS2 (MPEG-TS stream type 0xd2): FFmpeg demuxes it, but has no built-in decoder."""
    error = await failure(registry, f"{files}/avs2.ts")
    assert error.code == "unsupported_codec", error
    assert "H.264" in str(error)


async def test_a_url_no_integration_reads_is_unsupported(registry: Registry) -> None:
    error = await failure(registry, "ftp://127.0.0.1/cam", password="s3cret-ftp")
    assert error.code == "unsupported_url", error
    error = await failure(registry, "rtsp://127.0.0.1:99999/cam")
    assert error.code == "unsupported_url", error
