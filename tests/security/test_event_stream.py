"""The live-update stream (`GET /api/events`) under hostile clients: more streams than the hub allows,
and a reader that stops reading while events pour in. Neither may hold the hub's resources for long."""

from __future__ import annotations

import asyncio
import socket
from typing import Any
from urllib.parse import urlsplit

import pytest

from camhub.http import events
from camhub.motion.detector import MotionStarted

pytestmark = pytest.mark.timeout(180)


async def status_of(client: Any) -> int:
    async with client.get("/api/events") as r:
        return int(r.status)


async def test_streams_beyond_the_limit_are_refused_until_one_closes(privacy_hub: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(events, "MAX_STREAMS", 2)
    ph = await privacy_hub(clips=[])
    owner = await ph.owner()
    first = await owner.get("/api/events")
    second = await owner.get("/api/events")
    assert (first.status, second.status) == (200, 200)
    async with owner.get("/api/events") as r:
        assert r.status == 503 and (await r.json())["error"] == "too_many_streams"
    first.close()  # the client leaves: its slot comes back
    for _ in range(100):
        third = await owner.get("/api/events")
        if third.status == 200:
            break
        third.close()
        await asyncio.sleep(0.1)
    else:
        pytest.fail("the closed stream's slot never came back")
    third.close()
    second.close()


async def test_a_reader_that_stops_reading_is_dropped_and_frees_its_slot(privacy_hub: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(events, "MAX_STREAMS", 1)
    monkeypatch.setattr(events, "QUEUE_SIZE", 8)
    monkeypatch.setattr(events, "WRITE_TIMEOUT_S", 1.0)
    ph = await privacy_hub(clips=[])
    owner = await ph.owner()
    cookie = next(c for c in owner.cookie_jar if c.key == "camhub_session").value
    url = urlsplit(ph.url)

    # A client with a tiny receive window that sends its request, reads the answer's start, and then
    # reads nothing more.
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(slow, (url.hostname, url.port))
    request = f"GET /api/events HTTP/1.1\r\nHost: {url.netloc}\r\nCookie: camhub_session={cookie}\r\n\r\n"
    await loop.sock_sendall(slow, request.encode())
    assert (await asyncio.wait_for(loop.sock_recv(slow, 64), 20)).startswith(b"HTTP/1.1 200")
    try:
        async with owner.get("/api/events") as r:
            assert r.status == 503  # the slow client holds the only slot

        big_zones = tuple(f"zone-{i}-" + "x" * 1000 for i in range(100))  # about 100 kB an event
        for burst in range(200):
            for i in range(20):
                ph.hub.bus.publish(MotionStarted(camera="yard", time=burst * 100 + i, zones=big_zones))
            await asyncio.sleep(0.05)
            if await status_of(owner) == 200:
                break
        else:
            pytest.fail("the reader that stopped reading still holds its stream")
    finally:
        slow.close()
