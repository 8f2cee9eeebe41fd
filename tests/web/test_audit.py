"""The Audit page in Chromium: the verify status, the latest checkpoint and the witness's command, recent
entries a page at a time, and the transparency report read back from its SVG chart and its table."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest

from ..privacy.conftest import NEW_PASSWORD, T0, PrivacyHub
from ..privacy.test_consent import ask
from ..privacy.test_overrides import upload, warrant
from .browser import dashboard

pytestmark = pytest.mark.timeout(240)

WAIT = 30000  # ms: a shared, busy machine


async def get(session: aiohttp.ClientSession, path: str) -> Any:
    async with session.get(path) as r:
        assert r.status == 200, await r.text()
        return await r.json() if r.content_type == "application/json" else await r.text()


async def two_months_of_activity(ph: PrivacyHub) -> aiohttp.ClientSession:
    """September: three requests (one approved) and a warrant; late October: a warrant and a preservation order.
    Returns a fresh owner session (the September one is idle too long by October)."""
    owner = await ph.owner()
    officer = await ph.requester(owner, "springfield-pd")
    asked = []
    for minute in (0, 10, 20):
        async with officer.post("/api/requests", json=ask(["yard"], T0 + 60 * minute, T0 + 60 * minute + 300)) as r:
            assert r.status == 201, await r.text()
            asked.append((await r.json())["id"])
    async with owner.post(f"/api/requests/{asked[0]}/decision", json={"decision": "approve"}) as r:
        assert r.status == 200, await r.text()
    async with owner.post("/api/overrides", json=warrant(await upload(owner))) as r:
        assert r.status == 201, await r.text()
    ph.clock.advance(35 * 86400)
    owner = await ph.login("owner", NEW_PASSWORD)
    document = await upload(owner)
    for body in (
        warrant(document, case_number="SW-2026-0077"),
        warrant(document, kind="preservation", judge=None, case_number="PO-2026-0003", cameras=["porch"]),
    ):
        async with owner.post("/api/overrides", json=body) as r:
            assert r.status == 201, await r.text()
    # The hub's periodic tick (every few real seconds) expires September's two undecided requests now that
    # the clock is in October, appending to the log: wait for it, so the page and the API see the same log.
    deadline = time.monotonic() + WAIT / 1000
    for request_id in asked[1:]:
        while True:
            async with owner.get(f"/api/requests/{request_id}") as r:
                assert r.status == 200, await r.text()
                if (await r.json())["state"] == "expired":
                    break
            assert time.monotonic() < deadline, f"request {request_id} did not expire"
            await asyncio.sleep(0.2)
    return owner


SERIES = {
    "received": lambda m: m["requests"]["received"],
    "granted": lambda m: m["requests"]["approved"] + m["requests"]["narrowed"],
    "overrides": lambda m: sum(m["overrides"].values()),
    "exports": lambda m: sum(
        m[g]["exports"] for g in ("released_by_request", "released_by_override", "released_other_basis")
    ),
}


async def test_the_audit_page_shows_verify_status_checkpoint_entries_and_the_transparency_report(privacy_hub) -> None:
    ph: PrivacyHub = await privacy_hub()
    owner = await two_months_of_activity(ph)
    for _ in range(6):  # more than one page of entries (25)
        owner = await ph.login("owner", NEW_PASSWORD)
    async with dashboard(ph.url) as board:
        await board.log_in("owner", NEW_PASSWORD)
        await board.go("audit")
        await board.page.wait_for_function("() => document.getElementById('audit').dataset.loaded", timeout=WAIT)

        # Verify status: what the hub's own check says, and every entry of the log (the page's login the last).
        verified = await get(owner, "/api/audit/verify")
        status = board.page.locator(".aud-verify")
        assert verified["verified"] is True and await status.get_attribute("data-verified") == "true"
        assert int(await status.get_attribute("data-size")) == verified["size"]
        assert f"all {verified['size']} entries" in await status.text_content()

        # The checkpoint as served to witnesses (a periodic one may have re-signed it since: same size and root),
        # and the command a witness runs, pinned to the hub's key.
        shown = await board.page.locator(".aud-checkpoint").text_content()
        served = await get(owner, "/api/audit/checkpoint")
        assert shown.splitlines()[:3] == served.splitlines()[:3] and "\n— camhub/" in shown
        key = (await get(owner, "/api/audit/key")).strip()
        command = await board.page.locator(".aud-witness").text_content()
        assert command == f"camhub audit witness --url {ph.url} --state ~/camhub-witness.json --key '{key}'"

        # Recent entries: the newest page as the API gives it, then the next older page.
        page = await get(owner, f"/api/audit/entries?limit=25&before={verified['size']}")
        rows = board.page.locator(".aud-entries tbody tr")
        assert [int(i) for i in await rows.evaluate_all("rs => rs.map(r => r.dataset.index)")] == [
            e["index"] for e in page["entries"]
        ]
        assert page["entries"][0]["event"] in await rows.first.text_content()
        assert page["next_before"] is not None, "the log should hold more than one page"
        await board.shoot("audit")
        await board.page.locator(".aud-older").click()
        older = await get(owner, f"/api/audit/entries?limit=25&before={page['next_before']}")
        await board.page.wait_for_function(
            "i => document.querySelector('.aud-entries tbody tr')?.dataset.index === String(i)",
            arg=older["entries"][0]["index"],
            timeout=WAIT,
        )
        assert [int(i) for i in await rows.evaluate_all("rs => rs.map(r => r.dataset.index)")] == [
            e["index"] for e in older["entries"]
        ]
        # Newer goes back to the newest page, read afresh: the hub may have appended an entry (a periodic
        # checkpoint) since `page` was read, so the rows are compared with the API's page ending at the top row shown.
        await board.page.locator(".aud-newer").click()
        await board.page.wait_for_function(
            "i => Number(document.querySelector('.aud-entries tbody tr')?.dataset.index) >= i",
            arg=page["entries"][0]["index"],
            timeout=WAIT,
        )
        shown_newest = [int(i) for i in await rows.evaluate_all("rs => rs.map(r => r.dataset.index)")]
        newest = await get(owner, f"/api/audit/entries?limit=25&before={shown_newest[0] + 1}")
        assert shown_newest == [e["index"] for e in newest["entries"]]

        # The transparency chart, read back: one bar per month and series, heights proportional to the numbers.
        report = await get(owner, "/api/transparency")
        assert [m["month"] for m in report["months"]] == ["2026-09", "2026-10"]
        bars = await board.page.eval_on_selector_all(
            "#audit svg rect.aud-bar",
            "bs => bs.map(b => [b.dataset.month, b.dataset.series, Number(b.dataset.value),"
            " Number(b.getAttribute('height'))])",
        )
        expected = {(m["month"], name): value(m) for m in report["months"] for name, value in SERIES.items()}
        assert len(bars) == len(expected) == 8
        assert {(month, series): value for month, series, value, _ in bars} == expected
        assert expected[("2026-09", "received")] == 3 and expected[("2026-10", "overrides")] == 2
        tallest = max(bars, key=lambda b: b[2])
        scale = tallest[3] / tallest[2]
        assert scale > 0
        for month, series, value, height in bars:
            assert height == pytest.approx(value * scale), (month, series, value, height)

        # The table holds every number of the report: each count per month, and the totals.
        cells = await board.page.eval_on_selector_all(
            "#audit table.aud-report td[data-key]",
            "cs => cs.map(c => [c.dataset.key, c.dataset.month, c.textContent])",
        )
        want = {}
        for column, counts in [*((m["month"], m) for m in report["months"]), ("total", report["totals"])]:
            for group, values in report["totals"].items():
                for key_name in values:
                    want[(f"{group}.{key_name}", column)] = str(counts[group][key_name])
        assert len(cells) == len(want)
        assert {(k, m): text for k, m, text in cells} == want
        # At a phone's width the page (entries, checkpoint, chart and table) needs no sideways scrolling.
        await board.page.set_viewport_size({"width": 375, "height": 812})
        assert await board.page.evaluate("document.documentElement.scrollWidth") <= 375
        await board.page.locator("#audit svg").scroll_into_view_if_needed()
        await board.shoot("audit-transparency")
        assert board.outside_requests() == []
