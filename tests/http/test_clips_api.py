"""The clip routes: filters (camera, time, zone), pagination, errors, Range, against a real index and real MP4 files.

Clips are footage: every test but the first logs in as the household's first owner.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from camhub.app import Hub
from camhub.config import parse_config
from camhub.store.index import ClipRecord

T0 = 1_790_000_000.0  # 2026-09-21, an arbitrary fixed time
Login = Callable[[str, str | None], Awaitable[tuple[aiohttp.ClientSession, str]]]
Api = tuple[str, list[ClipRecord], Hub]
# Clip n's motion zones: every third touched none.
ZONES = [("drive",), ("drive", "gate"), ()]


@pytest.fixture
async def api(tmp_path: Path, make_clips: Any) -> AsyncIterator[Api]:
    data = tmp_path / "data"
    records = make_clips(data, [(("a", "b")[n % 2], T0 + 60 * n, ZONES[n % 3]) for n in range(10)])
    # Retention would delete these months-old clips at start-up; keep them for a century.
    hub = Hub(
        parse_config({"data_dir": str(data), "web": {"port": 0}, "retention": {"days": 36500, "min_free_bytes": 0}})
    )
    stop = asyncio.Event()
    task = asyncio.create_task(hub.run(stop))
    await asyncio.wait_for(hub.ready.wait(), 20)
    try:
        yield hub.url, records, hub
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)


@pytest.fixture
async def http(api: Api, household_login: Login) -> AsyncIterator[aiohttp.ClientSession]:
    """A session logged in as the owner, one-time password already changed."""
    session, _ = await household_login(api[0], api[2].initial_password)
    async with session:
        yield session


async def get(http: aiohttp.ClientSession, url: str) -> tuple[int, dict[str, object]]:
    async with http.get(url) as response:
        return response.status, await response.json()


async def test_every_clip_route_needs_a_login(api: Api) -> None:
    base, records, _ = api
    clip = records[0].id
    async with aiohttp.ClientSession() as anonymous:
        for path in [
            "/api/clips",
            f"/api/clips/{clip}",
            f"/api/clips/{clip}/video",
            f"/api/clips/{clip}/snapshot",
            f"/api/clips/{clip}/thumbnail",
        ]:
            status, body = await get(anonymous, base + path)
            assert (status, body["error"]) == (401, "login_required"), path
        async with anonymous.get(f"{base}/api/clips/{clip}/video", headers={"Range": "bytes=0-99"}) as response:
            assert response.status == 401


async def test_filter_by_camera_and_time_and_paginate(api: Api, http: aiohttp.ClientSession) -> None:
    base, records, _ = api
    status, body = await get(http, f"{base}/api/clips?camera=a")
    assert status == 200
    assert [c["id"] for c in body["clips"]] == [r.id for r in reversed(records) if r.camera == "a"]
    # Overlap with [T0+119, T0+241): clips starting at +120, +180, +240 (and +60 ends at +62: out).
    status, body = await get(http, f"{base}/api/clips?start={T0 + 119}&end={T0 + 241}")
    assert [c["start_time"] for c in body["clips"]] == [T0 + 240, T0 + 180, T0 + 120]
    status, body = await get(http, f"{base}/api/clips?start=2026-09-21T13:54:00Z&limit=1000")
    assert status == 400 and body["error"] == "bad_request" and "limit=1000" in str(body["message"])
    seen, cursor = [], None
    while True:
        url = f"{base}/api/clips?limit=3" + (f"&cursor={cursor}" if cursor else "")
        status, body = await get(http, url)
        seen += [c["id"] for c in body["clips"]]  # type: ignore[union-attr]
        cursor = body["next"]
        if cursor is None:
            break
    assert seen == [r.id for r in reversed(records)]
    assert body["clips"] and "path" not in body["clips"][0]  # type: ignore[index]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("start=yesterday", "start: 'yesterday' is not a time"),
        ("start=2026-09-21T10:00:00", "has no time zone"),
        # one parser for every route (camhub.clock.parse_time): no NaN, infinity or year 10000
        ("start=nan", "start: 'nan' is out of range"),
        ("end=inf", "end: 'inf' is out of range"),
        ("start=-1", "out of range (1970 to 9999)"),
        ("start=100&end=50", "must be after start"),
        ("limit=0", "between 1 and 500"),
        ("limit=ten", "not a whole number"),
        ("cursor=garbage", "not a cursor this API gave out"),
        ("zone=front%20door", "zone='front door' is not a zone name"),
        ("zone=" + "z" * 64, "a zone name has at most 63"),
        ("&".join(["zone=drive"] * 17), "zone is given 17 times; at most 16"),
    ],
)
async def test_bad_queries_say_what_is_wrong(api: Api, http: aiohttp.ClientSession, query: str, message: str) -> None:
    status, body = await get(http, f"{api[0]}/api/clips?{query}")
    assert status == 400 and message in str(body["message"])


async def test_video_range_and_missing_things(api: Api, http: aiohttp.ClientSession, clip_mp4: Path) -> None:
    base, records, _ = api
    clip = records[0]
    whole = clip_mp4.read_bytes()
    async with http.get(f"{base}/api/clips/{clip.id}/video", headers={"Range": "bytes=100-199"}) as response:
        assert response.status == 206
        assert response.headers["Content-Range"] == f"bytes 100-199/{len(whole)}"
        assert await response.read() == whole[100:200]
    async with http.get(f"{base}/api/clips/{clip.id}/video") as response:
        assert response.status == 200 and response.content_type == "video/mp4"
        assert await response.read() == whole
    for path, expected in [
        ("/api/clips/999999", "no clip 999999"),
        ("/api/clips/..%2f..%2findex.db/video", "clip ids are whole numbers"),
        (f"/api/clips/{clip.id}/snapshot", "has no snapshot"),
    ]:
        status, body = await get(http, base + path)
        assert status == 404 and expected in str(body["message"]), (path, body)


async def test_filter_by_zone_lists_the_clips_that_touched_it(api: Api, http: aiohttp.ClientSession) -> None:
    base, records, _ = api
    newest_first = list(reversed(records))
    status, body = await get(http, f"{base}/api/clips")
    assert status == 200
    assert [c["zones"] for c in body["clips"]] == [list(r.zones) for r in newest_first]  # type: ignore[union-attr]
    assert [list(r.zones) for r in records[:3]] == [["drive"], ["drive", "gate"], []]

    def ids(zones: set[str], camera: str | None = None) -> list[int | None]:
        return [r.id for r in newest_first if set(r.zones) & zones and camera in (None, r.camera)]

    status, body = await get(http, f"{base}/api/clips?zone=gate")
    assert status == 200 and [c["id"] for c in body["clips"]] == ids({"gate"})  # type: ignore[union-attr]
    status, body = await get(http, f"{base}/api/clips?zone=gate&zone=drive&camera=a")
    assert [c["id"] for c in body["clips"]] == ids({"gate", "drive"}, "a")  # type: ignore[union-attr]
    status, body = await get(http, f"{base}/api/clips?zone=nowhere")
    assert (status, body["clips"], body["next"]) == (200, [], None)
    status, body = await get(http, f"{base}/api/clips?zone=")  # empty, as a form with no zone chosen sends it
    assert len(body["clips"]) == len(records)  # type: ignore[arg-type]
    # Pages of a zone filter continue where the last stopped, and end.
    seen, cursor = [], None
    while True:
        status, body = await get(http, f"{base}/api/clips?zone=drive&limit=2" + (f"&cursor={cursor}" if cursor else ""))
        assert status == 200
        seen += [c["id"] for c in body["clips"]]  # type: ignore[union-attr]
        if (cursor := body["next"]) is None:
            break
    assert seen == ids({"drive"}) and len(seen) == 7
    status, body = await get(http, f"{base}/api/clips/{records[1].id}")
    assert (status, body["zones"]) == (200, ["drive", "gate"])
