"""The review page in Chromium against a running hub with real MP4 clips: a day's timeline with thumbnails,
zones and holds, playback to readyState 4 at the file's own duration, stepping, download, filters, members."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import av
import pytest

from camhub.jpeg import encode_jpeg
from camhub.store.files import sidecars

from ..privacy.conftest import NEW_PASSWORD, T0, PrivacyHub
from .browser import Dashboard, dashboard

pytestmark = pytest.mark.timeout(240)

FRAME_S = 1 / 5  # keyframe_clip is 5 frames a second
# yard's clips: four ten minutes apart from T0 and one two hours later, with the zones each touched;
# porch has one clip.
YARD_ZONES = [("drive",), ("drive", "gate"), (), ("gate",), ()]
YARD_STARTS = [T0, T0 + 600, T0 + 1200, T0 + 1800, T0 + 7200]
CLIPS = [("yard", t) for t in YARD_STARTS] + [("porch", T0 + 1800)]
HOLD = (T0 + 500, T0 + 1300)  # covers yard's second and third clips


def ffprobe_duration(path: Path) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return float(json.loads(out)["format"]["duration"])


async def dress_clips(ph: PrivacyHub) -> None:
    """Give every clip a thumbnail (the first frame, as the finisher would write the peak's) and yard's clips
    their zones, in the running hub's own index."""
    with av.open(str(ph.data / ph.clips[0].path)) as container:
        frame = next(container.decode(video=0))
    picture = encode_jpeg(frame, 70, width=96)
    dressed = []
    for clip in ph.clips:
        _, thumb = sidecars(ph.data / clip.path)
        thumb.write_bytes(picture)
        zones = YARD_ZONES[CLIPS.index((clip.camera, clip.start_time))] if clip.camera == "yard" else ()
        dressed.append((clip.id, str(thumb.relative_to(ph.data)), zones))

    def write(db: Any) -> None:
        for clip_id, thumb_path, zones in dressed:
            db.execute("UPDATE clips SET thumbnail_path = ? WHERE id = ?", [thumb_path, clip_id])
            db.conn.executemany(
                "INSERT INTO clip_zones (clip_id, zone, camera_id, start_time) "
                "SELECT id, ?, camera_id, start_time FROM clips WHERE id = ?",
                [[z, clip_id] for z in zones],
            )

    await ph.hub.db.write(write)


async def local_day(board: Dashboard, t: float) -> str:
    """The browser's local day of Unix time t, as a date input wants it."""
    return str(
        await board.page.evaluate(
            "t => { const d = new Date(t * 1000); const p = n => String(n).padStart(2, '0');"
            " return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`; }",
            t,
        )
    )


async def choose(board: Dashboard, camera: str, day: str) -> None:
    filters = board.page.locator("#review-filters")
    await filters.locator("select[name=camera]").select_option(camera)
    await filters.locator("input[name=day]").fill(day)


async def shown_clip_ids(board: Dashboard) -> list[int]:
    return [
        int(i) for i in await board.page.locator("#review-clips li").evaluate_all("l => l.map(e => e.dataset.clip)")
    ]


async def wait_for_clips(board: Dashboard, count: int) -> None:
    await board.page.wait_for_function(
        "n => document.querySelectorAll('#review-clips li').length === n"
        " && document.getElementById('review-status').textContent.startsWith(`${n} clip`)",
        arg=count,
        timeout=20000,
    )


async def played(board: Dashboard, clip_id: int) -> float:
    """The player's duration once the clip `clip_id` is loaded enough to play through (readyState 4)."""
    await board.page.wait_for_function(
        "id => { const v = document.getElementById('review-video');"
        " return v.src.endsWith(`/api/clips/${id}/video`) && v.readyState === 4; }",
        arg=clip_id,
        timeout=30000,
    )
    return float(await board.page.evaluate("document.getElementById('review-video').duration"))


async def test_an_owner_reviews_a_day_of_clips_plays_steps_downloads_and_filters(privacy_hub) -> None:
    ph: PrivacyHub = await privacy_hub(clips=CLIPS)
    owner = await ph.owner()
    await dress_clips(ph)
    async with owner.post("/api/holds", json={"cameras": ["yard"], "start": HOLD[0], "end": HOLD[1]}) as r:
        assert r.status == 201, await r.text()
    yard = sorted((c for c in ph.clips if c.camera == "yard"), key=lambda c: c.start_time)
    errors: list[str] = []
    async with dashboard(ph.url) as board:
        board.page.on("pageerror", lambda exc: errors.append(str(exc)))
        board.page.on(
            "console", lambda m: errors.append(m.text) if m.type == "error" and "resource" not in m.text else None
        )

        # Every answer the page got was a success, but for "who am I?" before the login (401 by design)
        # and Chromium's own favicon.ico guess, which is not the page's.
        def by_design(r: Any) -> bool:
            return r.url.endswith("/favicon.ico") or (r.status == 401 and r.url.endswith("/api/auth/me"))

        board.page.on(
            "response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 and not by_design(r) else None
        )
        await board.log_in("owner", NEW_PASSWORD)
        await board.go("review")
        day = await local_day(board, T0)
        await choose(board, "yard", day)
        await wait_for_clips(board, len(yard))
        assert await shown_clip_ids(board) == [c.id for c in yard]  # oldest first
        assert await board.page.locator("#review-timeline .mark").count() == len(yard)
        # Every thumbnail loaded, and each clip names the zones it touched.
        await board.page.wait_for_function(
            "() => [...document.querySelectorAll('#review-clips img.thumb')]"
            ".every(i => i.complete && i.naturalWidth === 96)",
            timeout=20000,
        )
        zones = await board.page.locator("#review-clips .zones").all_text_contents()
        assert zones == ["Zones: drive", "Zones: drive, gate", "No zone", "Zones: gate", "No zone"]

        # The hold is drawn over its part of the day, where the clips it covers are drawn.
        day_start = await board.page.evaluate("d => new Date(`${d}T00:00`).getTime() / 1000", day)
        hold = board.page.locator("#review-timeline .hold")
        assert await hold.count() == 1
        left, width = await hold.evaluate("e => [parseFloat(e.style.left), parseFloat(e.style.width)]")
        assert left == pytest.approx(100 * (HOLD[0] - day_start) / 86400, abs=0.01)
        assert width == pytest.approx(100 * (HOLD[1] - HOLD[0]) / 86400, abs=0.01)
        assert await board.page.locator("#review-holds li").count() == 1

        # Play the second clip: the whole file is there, and it lasts what the file says.
        on_disk = ffprobe_duration(ph.data / yard[1].path)
        await board.page.locator(f"#review-clips li[data-clip='{yard[1].id}'] button").click()
        assert await played(board, yard[1].id) == pytest.approx(on_disk, abs=FRAME_S)
        assert await board.page.locator(f"#review-timeline .mark[data-clip='{yard[1].id}']").get_attribute("class") == (
            "mark current"
        )
        # Next (button) and previous (keyboard) step to the neighbouring clips.
        await board.page.locator("#review-next").click()
        assert await played(board, yard[2].id) == pytest.approx(on_disk, abs=FRAME_S)
        await board.page.keyboard.press("p")
        await played(board, yard[1].id)
        await board.page.keyboard.press("p")
        await played(board, yard[0].id)
        assert await board.page.locator("#review-prev").is_disabled()

        # The download link answers with the MP4 itself.
        download = board.page.locator("#review-download")
        href = await download.get_attribute("href")
        assert href == f"/api/clips/{yard[0].id}/video"
        assert (await download.get_attribute("download") or "").endswith(".mp4")
        answer = await board.page.request.get(ph.url + href)
        assert answer.status == 200 and answer.headers["content-type"] == "video/mp4"
        assert await answer.body() == (ph.data / yard[0].path).read_bytes()
        await board.shoot("review")

        # Filtering by zone lists only the clips that touched it, on the list and the timeline.
        zone = board.page.locator("#review-filters select[name=zone]")
        assert await zone.locator("option").all_text_contents() == ["Any zone", "drive", "gate"]
        await zone.select_option("gate")
        await wait_for_clips(board, 2)
        assert await shown_clip_ids(board) == [yard[1].id, yard[3].id]
        assert await board.page.locator("#review-timeline .mark").count() == 2
        await zone.select_option("")
        await wait_for_clips(board, len(yard))

        # The hour range narrows the day to T0's hour: the clip two hours later is left out.
        hour = await board.page.evaluate("t => new Date(t * 1000).getHours()", T0)
        assert hour < 21, "T0 + 2 h must fall on the same local day for this test"
        await board.page.locator("#review-filters input[name=from]").fill(str(hour))
        await board.page.locator("#review-filters input[name=to]").fill(str(hour + 1))
        expected = [c.id for c in yard if c.start_time < day_start + 3600 * (hour + 1)]
        assert len(expected) == len(yard) - 1
        await board.page.wait_for_function(
            "t => document.getElementById('review-status').textContent.includes(t)",
            arg=f"{hour:02}:00–{hour + 1:02}:00",
            timeout=20000,
        )
        await wait_for_clips(board, len(expected))
        assert await shown_clip_ids(board) == expected
        await board.shoot("review-hours")
        assert board.outside_requests() == []
    assert errors == []


async def test_a_member_sees_only_their_cameras_and_no_holds(privacy_hub) -> None:
    ph: PrivacyHub = await privacy_hub(clips=CLIPS)
    owner = await ph.owner()
    async with owner.post("/api/holds", json={"cameras": ["porch"], "start": T0, "end": T0 + 3600}) as r:
        assert r.status == 201, await r.text()
    async with owner.post("/api/accounts", json={"username": "kid", "role": "member", "cameras": ["porch"]}) as r:
        assert r.status == 201, await r.text()
        one_time = (await r.json())["one_time_password"]
    await ph.login("kid", one_time, "the kid's long password")
    porch = next(c for c in ph.clips if c.camera == "porch")
    async with dashboard(ph.url, viewport=(375, 812)) as board:
        await board.log_in("kid", "the kid's long password")
        await board.go("review")
        # The page opens on the member's one camera, on the day of its newest clip.
        await wait_for_clips(board, 1)
        camera = board.page.locator("#review-filters select[name=camera]")
        assert await camera.locator("option").all_text_contents() == ["porch"]
        assert await board.page.locator("#review-filters input[name=day]").input_value() == await local_day(board, T0)
        assert await shown_clip_ids(board) == [porch.id]
        assert await board.page.locator("#review-timeline .hold").count() == 0
        assert not any("/api/holds" in url for url in board.requests)
        assert not any("camera=yard" in url for url in board.requests)
        width = await board.page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, width
        await board.shoot("review-member")
        assert board.outside_requests() == []
