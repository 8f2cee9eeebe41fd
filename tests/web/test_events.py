"""Live updates (`GET /api/events`) against a whole hub: who receives which events, over the API, and the
home page showing motion as it happens, in Chromium, without a reload."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest

from camhub.capture.camera import CameraStateChanged
from camhub.motion.detector import MotionEnded, MotionStarted

from ..privacy.conftest import NEW_PASSWORD, T0, PrivacyHub, footage_request
from .browser import dashboard
from .test_accounts import camera_hub

__all__ = ["camera_hub"]

pytestmark = pytest.mark.timeout(180)


class EventReader:
    """A server-sent event stream read line by line: `next()` is the next event's (name, data)."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response

    async def heartbeat(self, timeout: float = 30.0) -> None:
        """Wait for the next heartbeat comment: the hub has checked the credential again just before it."""
        while (await asyncio.wait_for(self.response.content.readline(), timeout)) != b": heartbeat\n":
            pass

    async def next(self, timeout: float = 20.0) -> tuple[str, dict[str, Any]]:
        name, data = "message", ""
        while True:
            line = (await asyncio.wait_for(self.response.content.readline(), timeout)).decode().rstrip("\n")
            if line == "" and data:
                return name, json.loads(data)
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data += line[6:]
            elif line == "" and not self.response.content.at_eof():
                continue
            if self.response.content.at_eof() and not line:
                raise EOFError("the hub ended the stream")


async def open_stream(client: aiohttp.ClientSession) -> tuple[aiohttp.ClientResponse, EventReader]:
    response = await client.get("/api/events")
    assert response.status == 200, await response.text()
    assert response.content_type == "text/event-stream"
    # The first lines (retry and a comment) say the stream is subscribed: events from now on reach it.
    assert (await response.content.readline()).startswith(b"retry: ")
    return response, EventReader(response)


async def test_each_client_gets_only_the_events_it_may_see(privacy_hub) -> None:
    ph: PrivacyHub = await privacy_hub(clips=[])
    owner = await ph.owner()
    kid = await ph.account(owner, "kid", "the kid's own long password", cameras=["porch"])
    officer = await ph.requester(owner, "officer-ruiz")

    owner_stream, owner_events = await open_stream(owner)
    kid_stream, kid_events = await open_stream(kid)
    async with officer.get("/api/events") as r:
        assert r.status == 403  # requesters get no stream
    async with ph.client().get("/api/events") as r:
        assert r.status == 401

    bus = ph.hub.bus
    bus.publish(MotionStarted(camera="yard", time=T0, zones=("gate",)))
    bus.publish(CameraStateChanged(camera="yard", state="offline", time=T0))
    bus.publish(MotionStarted(camera="porch", time=T0 + 1, zones=("door",)))
    bus.publish(MotionEnded(camera="porch", start=T0 + 1, end=T0 + 9, peak_score=0.2, peak_time=T0 + 2))
    # A real request, as an outside party sends it: the consent queue tells the owners on the bus.
    async with officer.post("/api/requests", json=footage_request()) as r:
        assert r.status == 201, await r.text()
        request_id = (await r.json())["id"]
    bus.publish(CameraStateChanged(camera="porch", state="online", time=T0 + 20))  # the last event of all

    owner_got = [await owner_events.next() for _ in range(6)]
    assert [(n, d.get("camera")) for n, d in owner_got] == [
        ("motion_started", "yard"),
        ("camera_state", "yard"),
        ("motion_started", "porch"),
        ("motion_ended", "porch"),
        ("request", None),
        ("camera_state", "porch"),
    ]
    assert owner_got[0][1]["zones"] == ["gate"]
    assert owner_got[4][1] == {"kind": "request_received", "id": request_id}

    kid_got = [await kid_events.next() for _ in range(3)]
    assert [(n, d["camera"]) for n, d in kid_got] == [
        ("motion_started", "porch"),
        ("motion_ended", "porch"),
        ("camera_state", "porch"),
    ]  # nothing of the yard, no request
    for name, data in owner_got + kid_got:
        assert not {"path", "sha256", "jpeg", "frame"} & set(data), (name, data)  # names and times only

    # Changing the member's cameras reaches the open stream at its next check (shown by a heartbeat).
    async with owner.post("/api/accounts/kid/cameras", json={"cameras": ["yard"]}) as r:
        assert r.status == 200
    await kid_events.heartbeat()
    bus.publish(MotionStarted(camera="porch", time=T0 + 30))
    bus.publish(MotionStarted(camera="yard", time=T0 + 31))
    name, data = await kid_events.next()
    assert (name, data["camera"]) == ("motion_started", "yard")  # its identity was read again
    owner_stream.close()
    kid_stream.close()


async def test_motion_shows_on_the_home_page_without_a_reload(camera_hub: PrivacyHub) -> None:
    ph = camera_hub
    await ph.owner()
    async with dashboard(ph.url) as board:
        await board.log_in("owner", NEW_PASSWORD)
        await board.page.wait_for_function("() => document.body.dataset.live === 'on'", timeout=20000)
        porch = board.page.locator("article.camera[data-camera=porch]")
        await porch.wait_for(timeout=15000)
        navigations = len([u for u in board.requests if u.rstrip("/") == ph.url.rstrip("/")])
        ph.hub.bus.publish(MotionStarted(camera="porch", time=T0, zones=("door",)))
        await porch.locator(".motion-now").wait_for(timeout=15000)
        assert await board.page.locator("article.camera[data-camera=yard] .motion-now").count() == 0
        await board.shoot("events-motion")
        ph.hub.bus.publish(MotionEnded(camera="porch", start=T0, end=T0 + 5, peak_score=0.3, peak_time=T0 + 1))
        await porch.locator(".motion-now").wait_for(state="detached", timeout=15000)
        assert len([u for u in board.requests if u.rstrip("/") == ph.url.rstrip("/")]) == navigations  # no reload
        assert board.outside_requests() == []
