"""A whole hub watching real simulated RTSP cameras, for the full-quality live stream's tests.

"yard" records the H.264 test scene's 1280x720 main stream and analyses its sub
stream; "attic" is the same for the H.265 scene. An owner (password changed) and
a member allowed only "attic" are made over the API. `codec_census()` counts the
codec contexts alive in this process, and how many of them are open decoders or
encoders, by walking the garbage collector's objects: PyAV's contexts are tracked
there, whoever created them.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import av
import pytest

from camhub.app import Hub
from camhub.config import parse_config
from camhub.sim.rtsp import RtspServer

from ..conftest import HOUSEHOLD_PASSWORD

DEADLINE_S = 60.0
MEMBER_PASSWORD = "the member's own long password"


@dataclass
class LiveHub:
    hub: Hub
    url: str
    owner: aiohttp.ClientSession
    member: aiohttp.ClientSession  # allowed "attic" only

    def client(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(self.url, cookie_jar=aiohttp.CookieJar(unsafe=True))


def codec_census() -> tuple[int, int]:
    """(codec contexts alive, of them open as a decoder or encoder) in this process."""
    gc.collect()
    contexts = [o for o in gc.get_objects() if isinstance(o, av.CodecContext)]
    return len(contexts), sum(1 for c in contexts if c.is_open)


async def login(url: str, user: str, password: str, new_password: str | None = None) -> aiohttp.ClientSession:
    http = aiohttp.ClientSession(url, cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with http.post("/api/auth/login", json={"username": user, "password": password}) as r:
        assert r.status == 200, await r.text()
    if new_password is not None:
        change = {"current_password": password, "new_password": new_password}
        async with http.post("/api/auth/password", json=change) as r:
            assert r.status == 200, await r.text()
    return http


@pytest.fixture
async def live_hub(rtsp_server: RtspServer, tmp_path: Path) -> AsyncIterator[LiveHub]:
    def camera(name: str) -> dict[str, object]:
        return {
            "inputs": [
                {"url": rtsp_server.url(name, "main"), "roles": ["record"]},
                {"url": rtsp_server.url(name, "sub"), "roles": ["detect"]},
            ]
        }

    config = parse_config(
        {
            "data_dir": str(tmp_path / "data"),
            "web": {"host": "127.0.0.1", "port": 0},
            "retention": {"min_free_bytes": 0},
            "reconnect": {"initial": 0.2, "cap": 1},
            "cameras": {"yard": camera("cam"), "attic": camera("hevc")},
        },
        "<test>",
    )
    hub = Hub(config)
    stop = asyncio.Event()
    task = asyncio.create_task(hub.run(stop))
    sessions: list[aiohttp.ClientSession] = []
    try:
        await asyncio.wait_for(hub.ready.wait(), DEADLINE_S)
        deadline = time.monotonic() + DEADLINE_S
        while not all(c.status()["online"] for c in hub.cameras.values()):
            assert time.monotonic() < deadline, [c.status() for c in hub.cameras.values()]
            await asyncio.sleep(0.1)
        owner = await login(hub.url, "owner", str(hub.initial_password), HOUSEHOLD_PASSWORD)
        sessions.append(owner)
        async with owner.post("/api/accounts", json={"username": "kid", "role": "member", "cameras": ["attic"]}) as r:
            assert r.status == 201, await r.text()
            one_time = (await r.json())["one_time_password"]
        member = await login(hub.url, "kid", one_time, MEMBER_PASSWORD)
        sessions.append(member)
        yield LiveHub(hub, hub.url, owner, member)
    finally:
        for session in sessions:
            await session.close()
        stop.set()
        await asyncio.wait_for(task, DEADLINE_S)
