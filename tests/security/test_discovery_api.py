"""Hostile bodies and callers on the discovery routes: clear 4xx answers, nothing kept, never a 500.

The device is a real zeroconf announcement on 127.0.0.1 (a separate
announcer); the hub is a real one, logged in as its owner.
"""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from zeroconf import ServiceInfo
from zeroconf.asyncio import AsyncZeroconf

from camhub.app import Hub
from camhub.clock import ManualClock
from camhub.config import parse_config

from ..discovery.test_adopt import PASSWORD, found, running_hub

pytestmark = [pytest.mark.timeout(180)]


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (b"not json", 400, None),
        (b"[1, 2]", 400, None),
        (b'{"name": "Bad Name!"}', 400, "bad_request"),
        (b'{"name": "ok", "extra": 1}', 400, "bad_request"),
        (b'{"name": "ok", "password": 12}', 400, "bad_request"),
        (b'{"name": "ok", "record": "rtsp://user:pw@127.0.0.9:554/x"}', 400, "bad_request"),
        (b'{"name": "ok", "record": "rtsp://203.0.113.5:554/elsewhere"}', 400, "bad_request"),
        (b'{"name": "ok", "record": "' + b"a" * 9000 + b'"}', 413, None),
        (b'{"name": "ok", "username": "x\\u0000y"}', 400, "bad_request"),
    ],
    ids=[
        "not-json",
        "not-object",
        "bad-name",
        "unknown-key",
        "wrong-type",
        "url-credentials",
        "other-host",
        "huge",
        "nul",
    ],
)
async def test_bad_adopt_bodies_are_refused_and_nothing_is_kept(
    tmp_path: Path, household_login: Any, body: bytes, status: int, error: str | None
) -> None:
    announcer = AsyncZeroconf(interfaces=["127.0.0.1"])
    info = ServiceInfo(
        "_rtsp._tcp.local.",
        f"hostile-{tmp_path.name[-8:]}._rtsp._tcp.local.",
        addresses=[socket.inet_aton("127.0.0.9")],
        port=554,
        properties={"path": "/x"},
        server="hostile.local.",
    )
    try:
        await (await announcer.async_register_service(info))
        async with running_hub(tmp_path / "data") as hub:
            http, _ = await household_login(hub.url, hub.initial_password)
            async with http:
                device = await found(http, hub, info.name.split(".")[0])
                async with http.post(f"{hub.url}/api/auth/reauth", json={"password": PASSWORD}) as r:
                    assert r.status == 200
                headers = {"Content-Type": "application/json"}
                async with http.post(f"{hub.url}/api/discovered/{device['id']}/adopt", data=body, headers=headers) as r:
                    answer = await r.json()
                    assert r.status == status, answer
                    if error:
                        assert answer["error"] == error
                assert hub.cameras == {} and hub.discovery is not None and hub.discovery.adopted == {}
    finally:
        await announcer.async_unregister_all_services()
        await announcer.async_close()


async def test_adopting_needs_an_owner_with_a_fresh_password(tmp_path: Path, household_login: Any) -> None:
    async with running_hub(tmp_path / "data") as hub:
        async with aiohttp.ClientSession() as anonymous:
            for method, path in (
                ("GET", "/api/discovered"),
                ("POST", "/api/discovered/0123456789ab/adopt"),
                ("POST", "/api/discovered/0123456789ab/ignore"),
                ("DELETE", "/api/cameras/porch"),
            ):
                async with anonymous.request(method, f"{hub.url}{path}", json={"name": "x"}) as r:
                    assert r.status == 401, (method, path, await r.text())
        http, _ = await household_login(hub.url, hub.initial_password)
        async with http:
            async with http.post(f"{hub.url}/api/auth/reauth", json={"password": PASSWORD}) as r:
                assert r.status == 200
            async with http.post(f"{hub.url}/api/discovered/0123456789ab/adopt", json={"name": "x"}) as r:
                assert (r.status, (await r.json())["error"]) == (404, "not_found")
            async with http.delete(f"{hub.url}/api/cameras/not-adopted") as r:
                assert (r.status, (await r.json())["error"]) == (404, "not_found")


async def test_adopting_and_removing_need_the_password_typed_within_5_minutes(
    tmp_path: Path, household_login: Any
) -> None:
    """On the hub's own clock: a session whose password is older than 300 s must type it again."""
    clock = ManualClock(time.time())
    config = parse_config(
        {"data_dir": str(tmp_path / "data"), "web": {"port": 0}, "discovery": {"interfaces": ["127.0.0.1"]}}
    )
    hub, stop = Hub(config, clock=clock), asyncio.Event()
    task = asyncio.create_task(hub.run(stop))
    await asyncio.wait_for(hub.ready.wait(), 60)
    try:
        http, _ = await household_login(hub.url, hub.initial_password)
        async with http:
            clock.advance(301)
            for method, path in (("POST", "/api/discovered/0123456789ab/adopt"), ("DELETE", "/api/cameras/porch")):
                async with http.request(method, f"{hub.url}{path}", json={"name": "porch"}) as r:
                    assert (r.status, (await r.json())["error"]) == (401, "reauth_required"), (method, path)
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)
