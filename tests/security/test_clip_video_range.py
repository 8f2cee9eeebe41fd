"""A clip's video under Range requests, as a browser's <video> and a hostile client send them, and the list
of cameras with clips, which never shows a member another camera.

A whole hub (`privacy_hub`) serving real MP4 files: a partial range, an open-ended one, a suffix, one that
runs past the end, and ranges that ask for no byte of the file (416 with `bytes */size`, and no footage).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from .conftest import PrivacyHub

pytestmark = pytest.mark.timeout(120)

T0 = 1_790_000_000


async def video(session: Any, clip_id: int, byte_range: str | None) -> tuple[int, dict[str, str], bytes]:
    headers = {"Range": byte_range} if byte_range is not None else {}
    async with session.get(f"/api/clips/{clip_id}/video", headers=headers) as r:
        return r.status, dict(r.headers), await r.read()


async def test_range_requests_get_the_bytes_asked_for_or_416(privacy_hub: Any) -> None:
    ph: PrivacyHub = await privacy_hub(clips=[("yard", T0)])
    owner = await ph.owner()
    clip = ph.clips[0]
    whole = (ph.data / clip.path).read_bytes()
    size = len(whole)

    status, headers, body = await video(owner, clip.id, None)
    assert (status, body) == (200, whole) and headers["Content-Type"] == "video/mp4"
    assert headers.get("Accept-Ranges") == "bytes"
    for byte_range, first, last in [
        ("bytes=0-0", 0, 0),
        ("bytes=100-1099", 100, 1099),
        ("bytes=0-", 0, size - 1),  # what Chromium asks first
        (f"bytes={size - 10}-", size - 10, size - 1),
        ("bytes=-500", size - 500, size - 1),  # the last 500 bytes
        (f"bytes=-{size * 2}", 0, size - 1),  # a suffix longer than the file is all of it
        (f"bytes=10-{size * 5}", 10, size - 1),  # a last byte past the end stops at the end
    ]:
        status, headers, body = await video(owner, clip.id, byte_range)
        assert status == 206, byte_range
        assert headers["Content-Range"] == f"bytes {first}-{last}/{size}", byte_range
        assert body == whole[first : last + 1], byte_range
        assert headers["Content-Type"] == "video/mp4"

    # No byte of the clip asked for, or not one byte range: 416 naming why, the size, and no footage.
    for refused, why in [
        (f"bytes={size}-", "starts past the end"),
        (f"bytes={size + 1}-{size + 100}", "starts past the end"),
        ("bytes=-0", "the last 0 bytes"),
        ("BYTES=-000", "the last 0 bytes"),
        ("bytes=500-100", "ends before it starts"),
        ("bytes=0-1,5-6", "not one byte range"),  # several ranges: this route serves one
        ("items=0-5", "not one byte range"),
        ("bytes=abc", "not one byte range"),
        ("bytes=", "not one byte range"),
        ("bytes=-", "not one byte range"),
        ("bytes=--1", "not one byte range"),
        ("bytes=1-2-3", "not one byte range"),
        ("bytes=" + "9" * 5000 + "-", "not one byte range"),  # past int()'s digit limit
        ("bytes=\u0661-\u0662", "not one byte range"),  # Arabic-Indic digits are digits to str.isdigit()
    ]:
        status, headers, body = await video(owner, clip.id, refused)
        assert status == 416, refused
        assert headers["Content-Range"] == f"bytes */{size}", refused
        assert headers["Content-Type"].startswith("application/json"), refused
        answer = json.loads(body)
        assert answer["error"] == "range_not_satisfiable" and why in answer["message"], (refused, answer)
        assert len(answer["message"]) < 300, refused  # a long header is not echoed back whole

    # A range asks nothing more of the rights: without a login it is still a 401, with no bytes.
    async with ph.client() as anonymous:
        async with anonymous.get(f"/api/clips/{clip.id}/video", headers={"Range": "bytes=0-99"}) as r:
            assert r.status == 401 and whole[:100] not in await r.read()


async def test_cameras_with_clips_are_listed_and_a_member_sees_only_theirs(privacy_hub: Any) -> None:
    clips = [("yard", T0), ("yard", T0 + 60), ("porch", T0 + 120), ("gone", T0 + 30)]
    ph: PrivacyHub = await privacy_hub(clips=clips)
    owner = await ph.owner()
    async with owner.get("/api/clips/cameras") as r:
        assert r.status == 200
        listed = (await r.json())["cameras"]
    # "gone" is no longer configured; its clips are still there to review.
    assert listed == [
        {"camera": "gone", "clips": 1, "oldest": T0 + 30, "newest": T0 + 30},
        {"camera": "porch", "clips": 1, "oldest": T0 + 120, "newest": T0 + 120},
        {"camera": "yard", "clips": 2, "oldest": T0, "newest": T0 + 60},
    ]
    async with owner.post("/api/accounts", json={"username": "kid", "role": "member", "cameras": ["porch"]}) as r:
        assert r.status == 201, await r.text()
        one_time = (await r.json())["one_time_password"]
    kid = await ph.login("kid", one_time, "the kid's long password")
    async with kid.get("/api/clips/cameras") as r:
        assert r.status == 200 and [c["camera"] for c in (await r.json())["cameras"]] == ["porch"]
    async with ph.client() as anonymous:
        async with anonymous.get("/api/clips/cameras") as r:
            assert r.status == 401
    requester = await ph.requester(owner, "officer")
    async with requester.get("/api/clips/cameras") as r:
        assert r.status == 403
