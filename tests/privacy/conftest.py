"""Fixtures for privacy tests: a whole hub (`privacy_hub`); the fake clock and audit logs are in tests/conftest.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from camhub.clock import ManualClock as FakeClock

# A whole hub for consent, override and egress tests: real accounts, audit log,
# clip index and clip files, served over real HTTP on 127.0.0.1. Its cameras are
# configured but disabled (no camera is needed to hand out recorded clips), and
# its clock is manual so expiry, delayed notice and follow-up deadlines are
# tested without waiting.

T0 = 1_790_000_000  # clips start here (2026-09-21); the hub's clock starts 3 hours later
CLIP_SECONDS = 20
NEW_PASSWORD = "a long and new owner password"


@dataclass
class PrivacyHub:
    hub: Any
    url: str
    clock: FakeClock
    data: Path
    clips: list[Any]
    sessions: list[aiohttp.ClientSession] = field(default_factory=list)
    passwords: dict[str, str] = field(default_factory=dict)

    def client(self, token: str | None = None) -> aiohttp.ClientSession:
        headers = {"Authorization": f"Bearer {token}"} if token else None
        session = aiohttp.ClientSession(self.url, cookie_jar=aiohttp.CookieJar(unsafe=True), headers=headers)
        self.sessions.append(session)
        return session

    async def login(self, user: str, password: str, new_password: str | None = None) -> aiohttp.ClientSession:
        """A logged-in session; with `new_password`, the one-time password is changed first."""
        session = self.client()
        async with session.post("/api/auth/login", json={"username": user, "password": password}) as r:
            assert r.status == 200, await r.text()
        if new_password is not None:
            async with session.post(
                "/api/auth/password", json={"current_password": password, "new_password": new_password}
            ) as r:
                assert r.status == 200, await r.text()
            password = new_password
        self.passwords[user] = password
        return session

    async def owner(self) -> aiohttp.ClientSession:
        return await self.login("owner", self.hub.initial_password, NEW_PASSWORD)

    async def account(
        self, owner: aiohttp.ClientSession, name: str, password: str, role: str = "member", **fields: Any
    ) -> aiohttp.ClientSession:
        """`owner` adds the account `name` (`fields`: e.g. its cameras), which logs in and sets `password`."""
        async with owner.post("/api/accounts", json={"username": name, "role": role, **fields}) as r:
            assert r.status == 201, await r.text()
            one_time = (await r.json())["one_time_password"]
        return await self.login(name, one_time, password)

    async def requester(self, owner: aiohttp.ClientSession, name: str) -> aiohttp.ClientSession:
        async with owner.post("/api/requesters/tokens", json={"requester": name, "name": "case work"}) as r:
            assert r.status == 201, await r.text()
            token = (await r.json())["token"]
        return self.client(token)


def footage_request(**changes: Any) -> dict[str, Any]:
    """An officer's request for ten minutes of the porch camera from T0; `changes` replace its fields."""
    return {
        "identity": "Officer Dana Ruiz",
        "organisation": "Springfield PD",
        "contact": "ruiz@springfield.example",
        "purpose": "a parcel theft on the porch",
        "cameras": ["porch"],
        "start": T0,
        "end": T0 + 600,
        "wanted_by": T0 + 10 * 86400,
        **changes,
    }


def window_clips(cameras: tuple[str, ...], minutes: int) -> list[tuple[str, float]]:
    """One clip a minute per camera for `minutes` minutes from T0."""
    return [(cam, T0 + 60 * m) for cam in cameras for m in range(minutes)]


@pytest.fixture(scope="session")
def keyframe_clip(make_video: Callable[..., Path]) -> Path:
    """A real 20 s fragmented H.264 MP4 with a keyframe every second, so windows can cut it."""
    return make_video(size="160x120", rate=5, seconds=CLIP_SECONDS, gop=5, fragmented=True)


@pytest.fixture
async def privacy_hub(tmp_path: Path, keyframe_clip: Path) -> AsyncIterator[Callable[..., Awaitable[PrivacyHub]]]:
    """start(privacy={...}, clips=[(camera, start)]) -> PrivacyHub; stopped at the end of the test.

    With `cameras_enabled` the cameras run (their address answers nothing: offline but listed, retried slowly)."""
    import shutil

    from camhub.app import Hub
    from camhub.config import HubConfig
    from camhub.store.files import clip_path, sha256_of
    from camhub.store.index import ClipRecord, insert_clip, open_index

    running: list[tuple[Any, asyncio.Event, asyncio.Task[None]]] = []
    made: list[PrivacyHub] = []

    async def start(
        privacy: dict[str, Any] | None = None,
        clips: list[tuple[str, float]] | None = None,
        cameras: tuple[str, ...] = ("yard", "porch"),
        mqtt: dict[str, Any] | None = None,
        cameras_enabled: bool = False,
    ) -> PrivacyHub:
        data = tmp_path / "data"
        data.mkdir(exist_ok=True)
        records = []
        db = open_index(data)
        try:
            for camera, start_time in clips if clips is not None else window_clips(("yard", "porch"), 40):
                relative = clip_path(data, camera, start_time)
                (data / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(keyframe_clip, data / relative)
                record = ClipRecord(
                    camera,
                    start_time,
                    start_time + CLIP_SECONDS,
                    CLIP_SECONDS,
                    keyframe_clip.stat().st_size,
                    "h264",
                    160,
                    120,
                    sha256_of(keyframe_clip),
                    str(relative),
                )
                records.append(
                    ClipRecord(**{**record.as_json(), "id": db.write_blocking(lambda d, r=record: insert_clip(d, r))})
                )
        finally:
            db.close()
        config = HubConfig.model_validate(
            {
                # Every party in a test (owners, members, requesters, strangers) connects from 127.0.0.1, each
                # client keeping its connections alive: one address stands for many here (tests/security tests the cap).
                "data_dir": str(data),
                "web": {"host": "127.0.0.1", "port": 0, "max_connections_per_address": 256},
                "privacy": privacy or {},
                "mqtt": mqtt or {},
                # No mDNS here: python-zeroconf draws from the `random` module on the hub's loop, and the
                # schemathesis test's Hypothesis (same process) refuses strategies while `random` moves.
                # The discovery routes are still served (and fuzzed); discovery has its own tests.
                "discovery": {"enabled": False},
                "reconnect": {"initial": 5, "cap": 30},
                "cameras": {
                    c: {"enabled": cameras_enabled, "inputs": [{"url": "rtsp://127.0.0.1:9/none"}]} for c in cameras
                },
            }
        )
        clock = FakeClock(T0 + 3 * 3600)
        hub = Hub(config, clock=clock)
        stop = asyncio.Event()
        task = asyncio.create_task(hub.run(stop))
        ready = asyncio.create_task(hub.ready.wait())
        await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()
        running.append((hub, stop, task))
        ph = PrivacyHub(hub, hub.url, clock, data, records)
        made.append(ph)
        return ph

    yield start
    for ph in made:
        for session in ph.sessions:
            await session.close()
    for _, stop, task in running:
        stop.set()
        await task
