"""A whole hub for a test, from a config dict: started, ready, and stopped again on leaving.

`hub_config` gives the settings most tests share (a data folder, any free
port, no mDNS, no free-space floor) and takes whole sections to replace;
`running` starts the hub from such a dict and stops it when the block ends;
`until` waits for a condition with a deadline, never a fixed sleep.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from camhub.app import Hub
from camhub.config import parse_config
from camhub.sim.http_server import SimHttpServer


def hub_config(data: Path, cameras: dict[str, Any], **sections: Any) -> dict[str, Any]:
    """A config for a hub keeping its files in `data` with `cameras`; each keyword replaces that whole section."""
    return {
        "data_dir": str(data),
        "web": {"port": 0},
        "discovery": {"enabled": False},
        "retention": {"min_free_bytes": 0},
        "cameras": cameras,
        **sections,
    }


def detecting_camera(http_sim: SimHttpServer) -> dict[str, Any]:
    """A camera whose one input is the HTTP simulator's moving H.264 stream, used for motion detection."""
    return {"inputs": [{"url": http_sim.url("cam", "sub.h264"), "roles": ["detect"]}]}


@asynccontextmanager
async def running(raw: dict[str, Any]) -> AsyncIterator[Hub]:
    """The hub `raw` describes, running and ready; stopped (and its run finished) when the block ends."""
    hub = Hub(parse_config(raw, "<test>"))
    stop = asyncio.Event()
    task = asyncio.create_task(hub.run(stop))
    await asyncio.wait_for(hub.ready.wait(), 60)
    try:
        yield hub
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)


async def until(check: Callable[[], Any], timeout: float, what: str) -> None:
    """Wait until `check()` is true, polling; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.1)
