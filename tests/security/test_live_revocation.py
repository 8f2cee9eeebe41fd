"""A live view ends when its credential does: a revoked token, a logout, a password changed elsewhere.

A whole hub watches the simulated MJPEG camera (`http_sim`) and serves its live view over real HTTP.
The re-check interval is shortened so the test does not wait out the production one; the
stream's end is awaited with a generous deadline, never timed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest

import camhub.http.cameras
from camhub.app import Hub
from camhub.config import parse_config
from camhub.sim.http_server import SimHttpServer

Login = Callable[[str, str | None], Awaitable[tuple[aiohttp.ClientSession, str]]]
DEADLINE_S = 60.0
LIVE = "/api/cameras/porch/live.mjpeg"


@pytest.fixture
async def live_hub(http_sim: SimHttpServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Hub]:
    # raising=False: before the fix the constant did not exist, and the test must fail on the stream, not here.
    monkeypatch.setattr(camhub.http.cameras, "LIVE_RECHECK_S", 0.2, raising=False)
    config = parse_config(
        {
            "data_dir": str(tmp_path / "data"),
            "web": {"host": "127.0.0.1", "port": 0},
            "retention": {"min_free_bytes": 0},
            "cameras": {"porch": {"inputs": [{"url": http_sim.url("cam", "mjpeg"), "roles": ["record", "detect"]}]}},
        }
    )
    running = Hub(config)
    stop = asyncio.Event()
    task = asyncio.create_task(running.run(stop))
    try:
        await asyncio.wait_for(running.ready.wait(), DEADLINE_S)
        deadline = time.monotonic() + DEADLINE_S
        while running.cameras["porch"].latest_frame is None:
            assert time.monotonic() < deadline, running.cameras["porch"].status()
            await asyncio.sleep(0.1)
        yield running
    finally:
        stop.set()
        await asyncio.wait_for(task, DEADLINE_S)


async def session(base: str, password: str, headers: dict[str, str] | None = None) -> aiohttp.ClientSession:
    http = aiohttp.ClientSession(base, cookie_jar=aiohttp.CookieJar(unsafe=True), headers=headers)
    async with http.post("/api/auth/login", json={"username": "owner", "password": password}) as r:
        assert r.status == 200, await r.text()
    return http


async def watch_until_closed(http: aiohttp.ClientSession, live: asyncio.Event) -> None:
    """Open the live view, see a picture start, then read until the hub ends the stream."""
    async with http.get(LIVE) as response:
        assert response.status == 200 and response.content_type == "multipart/x-mixed-replace"
        seen = b""
        while b"\xff\xd8" not in seen:  # a JPEG started: the view is live
            seen += await asyncio.wait_for(response.content.readany(), DEADLINE_S)
        live.set()
        async with asyncio.timeout(DEADLINE_S):
            while await response.content.readany():
                pass


async def watching(http: aiohttp.ClientSession) -> asyncio.Task[None]:
    """A task watching the live view, returned once a picture arrived; awaiting it waits for the stream's end."""
    live = asyncio.Event()
    task = asyncio.create_task(watch_until_closed(http, live))
    started = asyncio.create_task(live.wait())
    await asyncio.wait({task, started}, return_when=asyncio.FIRST_COMPLETED)
    started.cancel()
    if task.done():
        task.result()
    return task


async def test_a_revoked_token_ends_its_live_view(live_hub: Hub, household_login: Login) -> None:
    owner, _ = await household_login(live_hub.url, live_hub.initial_password)
    async with owner:
        async with owner.post(f"{live_hub.url}/api/auth/tokens", json={"name": "wall screen"}) as r:
            issued = await r.json()
        async with aiohttp.ClientSession(
            live_hub.url, headers={"Authorization": f"Bearer {issued['token']}"}
        ) as screen:
            view = await watching(screen)
            async with owner.delete(f"{live_hub.url}/api/auth/tokens/{issued['id']}") as r:
                assert r.status == 204
            await view  # ends: before the fix it ran until the deadline


async def test_logging_out_ends_the_live_view(live_hub: Hub, household_login: Login) -> None:
    owner, password = await household_login(live_hub.url, live_hub.initial_password)
    await owner.close()
    viewer = await session(live_hub.url, password)
    async with viewer:
        view = await watching(viewer)
        async with viewer.post("/api/auth/logout") as r:  # on another connection, as from a second tab
            assert r.status == 204
        await view


async def test_a_password_change_elsewhere_ends_the_live_view(live_hub: Hub, household_login: Login) -> None:
    owner, password = await household_login(live_hub.url, live_hub.initial_password)
    async with owner, await session(live_hub.url, password) as stolen:
        view = await watching(stolen)
        change = {"current_password": password, "new_password": "a different household passphrase"}
        async with owner.post(f"{live_hub.url}/api/auth/password", json=change) as r:
            assert r.status == 200, await r.text()
        await view
