"""The shared fixtures work from async tests too (the hub's tests are async)."""

from __future__ import annotations

import asyncio

import av
import pytest

from camhub.sim.http_server import SimHttpServer
from camhub.sim.rtsp import RtspServer

pytestmark = pytest.mark.timeout(60)


def first_frame_size(url: str, fmt: str | None, options: dict[str, str]) -> tuple[int, int]:
    with av.open(url, format=fmt, options=options, timeout=(5, 5)) as container:
        frame = next(container.decode(video=0))
        return frame.width, frame.height


async def test_http_sim_serves_while_the_test_loop_runs(http_sim: SimHttpServer) -> None:
    sizes = await asyncio.gather(
        asyncio.to_thread(first_frame_size, http_sim.url("cam", "mjpeg"), "mpjpeg", {}),
        asyncio.to_thread(first_frame_size, http_sim.url("hevc", "mjpeg"), "mpjpeg", {}),
    )
    assert sizes == [(640, 360), (640, 360)]


@pytest.mark.rtsp
async def test_rtsp_server_fixture_from_async_test(rtsp_server: RtspServer) -> None:
    size = await asyncio.to_thread(first_frame_size, rtsp_server.url("cam", "main"), None, {"rtsp_transport": "tcp"})
    assert size == (1280, 720)
