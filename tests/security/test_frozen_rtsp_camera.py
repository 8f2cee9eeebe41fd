"""A camera that keeps its connection open and stops sending is noticed, and the camera comes back.

RTSP inputs are read by the hub's own client (integrations/rtsp/client.py), whose
socket reads time out; a camera left to FFmpeg is timed out by FFmpeg's own socket
timeout, not by PyAV's read timeout (a Python callback that takes the GIL on every
socket read; see docs/decisions.md, 2026-11-30). This is what the timeout must catch:
the real GStreamer RTSP server is frozen with SIGSTOP mid-stream, so its TCP
connection stays open and silent, and then thawed.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from typing import Any

from camhub.capture.camera import CameraPipeline
from camhub.capture.media import ContainerStream
from camhub.config import parse_config
from camhub.integrations.rtsp import RtspSource
from camhub.registry import Registry
from camhub.sim.rtsp import RtspServer

DEADLINE = 60.0  # generous: a busy 2-core machine


async def wait_for(pipeline: CameraPipeline, what: Callable[[dict[str, Any]], bool], label: str) -> dict[str, Any]:
    deadline = time.monotonic() + DEADLINE
    while True:
        status = pipeline.status()["inputs"][0]
        if what(status):
            return status
        assert time.monotonic() < deadline, f"{label}: not within {DEADLINE:.0f} s; last status {status}"
        await asyncio.sleep(0.1)


async def test_a_frozen_rtsp_camera_times_out_and_reconnects_when_it_thaws(
    rtsp_server_factory: Callable[..., RtspServer],
) -> None:
    server = rtsp_server_factory()
    await server.start()
    config = parse_config(
        {
            "cameras": {
                "cam": {"inputs": [{"url": server.url("cam", "main"), "roles": ["record", "detect"], "timeout": 2}]}
            },
            "reconnect": {"initial": 0.2, "cap": 1.0},
        }
    )
    camera = config.cameras["cam"]
    source = Registry().load().source_for(camera.inputs[0])
    pipeline = CameraPipeline("cam", camera, [source], config.reconnect, config.secrets())
    task = asyncio.create_task(pipeline.run())
    assert server._proc is not None
    pid = server._proc.pid
    try:
        await wait_for(pipeline, lambda s: s["frames_analysed"] >= 3, "first frames")
        os.kill(pid, signal.SIGSTOP)
        frozen = await wait_for(pipeline, lambda s: s["failures"] >= 1, "the frozen camera noticed")
        assert "timed out" in (frozen["last_error"] or ""), frozen["last_error"]
        received = frozen["packets_received"]
        os.kill(pid, signal.SIGCONT)
        back = await wait_for(
            pipeline, lambda s: s["connects"] >= 2 and s["packets_received"] > received + 15, "reconnected after thaw"
        )
        assert back["state"] == "online"
    finally:
        os.kill(pid, signal.SIGCONT)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def test_an_rtsp_stream_read_by_ffmpeg_has_no_pyav_per_read_timeout(
    rtsp_server_factory: Callable[..., RtspServer],
) -> None:
    """For a camera the hub's client leaves to FFmpeg: the opening keeps PyAV's timeout; reads rely on the
    demuxer's socket timeout (in microseconds)."""
    server = rtsp_server_factory()
    asyncio.run(server.start())
    config = parse_config({"cameras": {"cam": {"inputs": [{"url": server.url("cam", "main"), "timeout": 3}]}}})
    stream = RtspSource(config.cameras["cam"].inputs[0])._ffmpeg_stream()
    try:
        assert isinstance(stream, ContainerStream)
        container = stream._container
        assert (container.open_timeout, container.read_timeout) == (3, None)
        assert stream._options["timeout"] == "3000000"
    finally:
        stream.close()
