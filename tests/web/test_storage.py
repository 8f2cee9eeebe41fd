"""The storage page and `GET /api/storage` against a whole hub with real clips: disk, retention, the
oldest clip, and what a hold keeps; a member sees only their cameras and no holds."""

from __future__ import annotations

import shutil

import pytest

from ..privacy.conftest import CLIP_SECONDS, NEW_PASSWORD, T0, PrivacyHub
from .browser import dashboard

pytestmark = pytest.mark.timeout(180)


async def test_the_storage_page_shows_disk_retention_the_oldest_clip_and_holds(privacy_hub) -> None:
    ph: PrivacyHub = await privacy_hub()  # a clip a minute on yard and porch for 40 minutes from T0
    owner = await ph.owner()
    async with owner.post("/api/holds", json={"cameras": ["yard"], "start": T0 + 600, "end": T0 + 1200}) as r:
        assert r.status == 201, await r.text()
        hold = await r.json()
    async with owner.post("/api/accounts", json={"username": "kid", "role": "member", "cameras": ["porch"]}) as r:
        kid = await ph.login("kid", (await r.json())["one_time_password"], "the kid's own long password")

    async with owner.get("/api/storage") as r:
        assert r.status == 200, await r.text()
        seen = await r.json()
    disk = shutil.disk_usage(ph.data)
    assert seen["disk"]["total"] == disk.total and 0 < seen["disk"]["free"] <= seen["disk"]["total"]
    size = ph.clips[0].bytes
    assert [(c["camera"], c["clips"], c["bytes"], c["retain_days"]) for c in seen["cameras"]] == [
        ("porch", 40, 40 * size, 14),
        ("yard", 40, 40 * size, 14),
    ]
    oldest = seen["oldest_clip"]
    assert oldest["start"] == T0 and oldest["due_s"] == T0 + CLIP_SECONDS + 14 * 86400 and not oldest["held"]
    assert seen["retention"]["days"] == 14 and seen["retention"]["deleted_since_start"] == 0
    # The hold [T0+600, T0+1200) on the yard keeps the clips of minutes 10 to 19 (each 20 s long).
    assert [(h["id"], h["cameras"], h["clips"], h["bytes"]) for h in seen["holds"]] == [
        (hold["id"], ["yard"], 10, 10 * size)
    ]

    async with kid.get("/api/storage") as r:
        theirs = await r.json()
    assert [c["camera"] for c in theirs["cameras"]] == ["porch"] and "holds" not in theirs
    assert theirs["oldest_clip"]["camera"] == "porch" and "held" not in theirs["oldest_clip"]
    async with ph.client().get("/api/storage") as r:
        assert r.status == 401
    officer = await ph.requester(owner, "officer-ruiz")
    async with officer.get("/api/storage") as r:
        assert r.status == 403

    async with dashboard(ph.url) as board:
        await board.log_in("owner", NEW_PASSWORD)
        await board.go("storage")
        held = board.page.locator(f"#storage-holds li[data-hold={hold['id']}]")
        await held.wait_for(timeout=15000)
        assert "keeps 10 clips" in await held.inner_text()
        rows = board.page.locator("#storage-cameras tbody tr")
        assert await rows.count() == 2
        assert "40" in await rows.nth(0).inner_text()
        assert "free" in await board.page.locator("#storage-disk-text").inner_text()
        assert "retention may delete it" in await board.page.locator("#storage-oldest").inner_text()
        await board.shoot("storage-owner")
        assert board.outside_requests() == []

    async with dashboard(ph.url) as board:
        await board.log_in("kid", "the kid's own long password")
        await board.go("storage")
        await board.page.locator("#storage-cameras tbody tr").first.wait_for(timeout=15000)
        assert await board.page.locator("#storage-cameras tbody tr").count() == 1
        assert await board.page.locator("#storage-holds-part").is_hidden()
        await board.shoot("storage-member")
        assert board.outside_requests() == []
