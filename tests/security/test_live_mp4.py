"""The full-quality live stream refuses whoever may not see the camera, and a slow viewer costs bounded memory.

A whole hub watches real simulated RTSP cameras (tests/web/live_hub.py). The
slow viewer is a raw socket with a small receive buffer that asks for the
stream and never reads: its bytes pile up in the hub, which must keep the
pile under its cap, move it on to later keyframes, and finally hang up,
while another viewer of the same camera goes on receiving.
"""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

import camhub.http.live_mp4 as live_mp4
import camhub.http.live_routes as live_routes

from ..hubs import until
from ..web.live_hub import DEADLINE_S, LiveHub, live_hub

__all__ = ["live_hub"]
pytestmark = pytest.mark.timeout(240)


async def test_anonymous_visitors_requesters_and_members_without_the_camera_are_refused(live_hub: LiveHub) -> None:
    async with live_hub.client() as anonymous:
        async with anonymous.get("/api/cameras/yard/live.mp4") as r:
            assert r.status == 401 and (await r.json())["error"] == "login_required"
    async with live_hub.owner.post("/api/requesters/tokens", json={"requester": "police", "name": "case"}) as r:
        assert r.status == 201, await r.text()
        token = (await r.json())["token"]
    async with live_hub.client() as requester:
        async with requester.get("/api/cameras/yard/live.mp4", headers={"Authorization": f"Bearer {token}"}) as r:
            assert r.status == 403
    # To a member, a camera they were not given does not exist, exactly like one that does not.
    for path in ("/api/cameras/yard/live.mp4", "/api/cameras/nosuch/live.mp4"):
        async with live_hub.member.get(path) as r:
            assert r.status == 404 and (await r.json())["error"] == "not_found", path
    for name in ("nosuch", "..%2Fyard", "yard%00", "%E2%80%AEdray", "y" * 300):
        async with live_hub.owner.get(f"/api/cameras/{name}/live.mp4") as r:
            assert r.status == 404, (name, r.status)
    assert all(not s.viewers for s in live_hub.hub.fleet.live_streams.values()), "a refused request left a viewer"
    # The member's own camera streams, with the codecs string of its H.265.
    async with live_hub.member.get("/api/cameras/attic/live.mp4") as r:
        assert r.status == 200, await r.text()
        assert r.headers["Content-Type"].startswith('video/mp4; codecs="hev1.1.'), r.headers["Content-Type"]
        assert (await r.content.readexactly(8))[4:8] == b"ftyp"


async def test_a_camera_takes_only_so_many_full_quality_viewers(
    live_hub: LiveHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live_mp4, "MAX_VIEWERS", 2)
    first = await live_hub.owner.get("/api/cameras/yard/live.mp4")
    second = await live_hub.owner.get("/api/cameras/yard/live.mp4")
    try:
        assert first.status == second.status == 200
        async with live_hub.owner.get("/api/cameras/yard/live.mp4") as r:
            assert r.status == 503 and (await r.json())["error"] == "live_unavailable"
            assert "2 full-quality viewers" in (await r.json())["message"]
        async with live_hub.owner.get("/api/cameras/attic/live.mp4") as r:
            assert r.status == 200  # the limit is per camera
    finally:
        first.close()
        second.close()


def slow_viewer(url: str, cookie: str) -> socket.socket:
    """A connection that asks for the stream and then reads nothing, with a small receive window."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    request = f"GET /api/cameras/yard/live.mp4 HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\n\r\n"
    sock.sendall(request.encode())
    return sock


def fragment_sizes(stream: bytes) -> list[int]:
    """Sizes of the fragments (a moof and its mdat) in a stream's bytes, walking its top-level boxes."""
    sizes, at = [], 0
    while at + 8 <= len(stream):
        size = int.from_bytes(stream[at : at + 4], "big")
        if stream[at + 4 : at + 8] == b"moof" and at + size + 8 <= len(stream):
            sizes.append(size + int.from_bytes(stream[at + size : at + size + 4], "big"))
        at += size
    return sizes


async def test_a_viewer_that_reads_nothing_is_kept_to_its_cap_and_then_dropped(
    live_hub: LiveHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small limits, so that the scene's modest bit rate fills them within seconds. The cap is above the
    # scene's keyframes (about 120 kB), so that the steady viewer, served by the same busy event loop as
    # the test, does not fall behind by it between two fragments.
    monkeypatch.setattr(live_mp4, "MAX_BACKLOG", 256 << 10)
    monkeypatch.setattr(live_mp4, "MAX_DROPS", 2)
    monkeypatch.setattr(live_routes, "SEND_BUFFER", 4096)
    stream = live_hub.hub.fleet.live_streams["yard"]
    cookie = "; ".join(f"{c.key}={c.value}" for c in live_hub.owner.cookie_jar)
    sock = slow_viewer(live_hub.url, cookie)
    received = b""
    try:
        # The slow viewer is known by identity before the steady one joins: it may be ended and gone
        # between two looks, and the steady one may fall behind once too.
        await until(lambda: len(stream.viewers) == 1, DEADLINE_S, "the slow viewer to join")
        (slow,) = stream.viewers
        async with live_hub.owner.get("/api/cameras/yard/live.mp4") as steady:
            assert steady.status == 200
            deadline = time.monotonic() + DEADLINE_S * 2
            while not slow.ended:
                assert time.monotonic() < deadline, [(v.drops, v.peak_backlog) for v in (slow, *stream.viewers)]
                received += await asyncio.wait_for(steady.content.readany(), DEADLINE_S)
            # The cap, or one fragment when a keyframe alone is bigger than the cap (it is sent whole).
            largest = max(fragment_sizes(received))
            assert slow.drops == 3 and slow.peak_backlog <= max(256 << 10, largest), (slow.peak_backlog, largest)
            await until(lambda: slow not in stream.viewers, DEADLINE_S, "the slow viewer to be let go")
            # The hub hung up on the slow one; the steady viewer still receives.
            before = len(received)
            while len(received) < before + 50_000:
                received += await asyncio.wait_for(steady.content.readany(), DEADLINE_S)
            assert len(stream.viewers) == 1
    finally:
        sock.close()


async def test_the_stream_ends_when_the_viewer_logs_out(live_hub: LiveHub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live_routes, "LIVE_RECHECK_S", 0.2)
    async with live_hub.member.get("/api/cameras/attic/live.mp4") as r:
        assert r.status == 200
        assert await asyncio.wait_for(r.content.readany(), DEADLINE_S)
        async with live_hub.member.post("/api/auth/logout") as out:
            assert out.status in (200, 204), await out.text()
        async with asyncio.timeout(DEADLINE_S):  # the hub ends the answer; reading reaches its end
            while await r.content.readany():
                pass
    assert not live_hub.hub.fleet.live_streams["attic"].viewers
