"""Nothing blocks the event loop: decoding and reading run in threads.

The hub runs under asyncio's debug mode, which logs every callback that
holds the loop longer than `slow_callback_duration` and raises when a
thread touches the loop without `call_soon_threadsafe`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest

from camhub.app import Hub
from camhub.config import parse_config

# Generous, since the machine is shared: decoding a 1280x720 frame on the
# loop would take longer than this many times over.
SLOW = 0.25


@pytest.fixture(scope="module")
def clip(make_video: Callable[..., Path]) -> Path:
    return make_video(size="1280x720", rate=15, seconds=3, pattern="testsrc2")


async def test_hub_never_blocks_the_loop(
    clip: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    household_login: Callable[[str, str | None], Awaitable[tuple[aiohttp.ClientSession, str]]],
) -> None:
    loop = asyncio.get_running_loop()
    loop.set_debug(True)
    loop.slow_callback_duration = SLOW
    caplog.set_level(logging.WARNING, logger="asyncio")
    cameras = {f"cam{i}": {"inputs": [{"url": str(clip)}], "motion": {"analysis_fps": 15}} for i in range(3)}
    cameras["dead"] = {"inputs": [{"url": "rtsp://127.0.0.1:9/x"}]}
    config = parse_config(
        {"data_dir": str(tmp_path), "web": {"port": 0}, "reconnect": {"initial": 0.1, "cap": 0.5}, "cameras": cameras}
    )
    hub = Hub(config)
    stop = asyncio.Event()
    task = asyncio.create_task(hub.run(stop))
    await hub.ready.wait()
    got = 0
    # Logging in hashes passwords with Argon2id: in a thread, so this is checked too.
    http, _ = await household_login(hub.url, hub.initial_password)
    async with http:

        async def watch(name: str) -> int:
            async with http.get(f"{hub.url}/api/cameras/{name}/live.mjpeg") as response:
                seen = 0
                async for _ in response.content.iter_chunked(65536):
                    seen += 1
                    if seen >= 20:
                        return seen
            return seen

        views = await asyncio.wait_for(asyncio.gather(*(watch(f"cam{i}") for i in range(3))), 30)
        got = sum(views)
        for _ in range(20):
            async with http.get(f"{hub.url}/api/cameras") as response:
                assert response.status == 200
    stop.set()
    await asyncio.wait_for(task, 15)
    assert got >= 60
    slow = [r.getMessage() for r in caplog.records if r.name == "asyncio" and "took" in r.getMessage()]
    assert slow == [], slow
