"""The requests page (#requests) in Chromium: an owner approves one request and narrows another (fewer
cameras, a window shortened by the time input and by dragging the timeline's handle, one clip unticked),
and the narrowed package holds only that; an owner revokes a share link, which then refuses downloads."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from camhub.privacy.package.verifier import verify_package

from ..privacy.conftest import NEW_PASSWORD, T0, PrivacyHub
from .browser import dashboard

pytestmark = pytest.mark.timeout(240)

WAIT = 30000
# The page's own way of writing a time into a datetime-local input (local time, to the second).
LOCAL_INPUT = """s => {
  const d = new Date(s * 1000), p = n => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T` +
    `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}"""


def ask(cameras: list[str], start: int, end: int, purpose: str) -> dict[str, Any]:
    return {
        "identity": "Officer Dana Ruiz",
        "organisation": "Springfield PD",
        "contact": "ruiz@springfield.example",
        "purpose": purpose,
        "cameras": cameras,
        "start": start,
        "end": end,
        "wanted_by": T0 + 10 * 86400,
    }


async def submit(session: aiohttp.ClientSession, body: dict[str, Any]) -> str:
    async with session.post("/api/requests", json=body) as r:
        assert r.status == 201, await r.text()
        request_id: str = (await r.json())["id"]
        return request_id


async def package_of(session: aiohttp.ClientSession, request_id: str, into: Path) -> tuple[dict[str, Any], Path]:
    """The request as its requester sees it, and its package downloaded through the share link."""
    async with session.get(f"/api/requests/{request_id}") as r:
        seen = await r.json()
    async with session.get(seen["share_link"]["url"]) as r:
        assert r.status == 200, await r.text()
        into.write_bytes(await r.read())
    return seen, into


async def test_an_owner_approves_one_request_and_narrows_another(privacy_hub, tmp_path: Path) -> None:
    ph: PrivacyHub = await privacy_hub()
    owner = await ph.owner()
    officer = await ph.requester(owner, "officer-ruiz")
    whole = await submit(officer, ask(["porch"], T0, T0 + 600, "a parcel theft on the porch"))
    break_in = ask(["yard", "porch"], T0, T0 + 1200, "a break-in\nseen from the street")
    part = await submit(officer, {**break_in, "legal_basis": "a warrant is being sought"})

    async with dashboard(ph.url) as board:
        page = board.page
        await board.log_in("owner", NEW_PASSWORD)
        await board.go("requests")
        first = page.locator(f"#consent-pending li[data-id={whole}]")
        second = page.locator(f"#consent-pending li[data-id={part}]")
        await second.locator(".timeline-tick").first.wait_for(timeout=WAIT)  # its clips are drawn
        shown = await second.inner_text()
        assert "a break-in" in shown and "Springfield PD" in shown and "Legal basis: a warrant is being sought" in shown
        assert "No legal basis given." in await first.inner_text()
        await board.shoot("requests-queue")

        await first.locator("button.consent-approve").click()
        await first.wait_for(state="detached", timeout=WAIT)

        # Narrow: porch only, from T0+120 (typed), until wherever the end handle is dragged to.
        await second.locator("input.consent-camera[value=yard]").uncheck()
        start_text = await page.evaluate(LOCAL_INPUT, T0 + 120)
        await second.locator("input.consent-start").fill(start_text)
        await second.locator("input.consent-start").dispatch_event("change")
        handle = second.locator(".timeline-handle[data-edge=end]")
        assert await second.locator(".timeline-handle[data-edge=start]").get_attribute("aria-valuenow") == str(T0 + 120)
        # The handles are sliders for the keyboard too: 10 s a press.
        start_handle = second.locator(".timeline-handle[data-edge=start]")
        await start_handle.focus()
        await page.keyboard.press("ArrowRight")
        assert await start_handle.get_attribute("aria-valuenow") == str(T0 + 130)
        assert await second.locator("input.consent-start").input_value() == await page.evaluate(LOCAL_INPUT, T0 + 130)
        await page.keyboard.press("ArrowLeft")
        track = await second.locator(".timeline-track").bounding_box()
        box = await handle.bounding_box()
        assert track and box
        await page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        await page.mouse.down()
        await page.mouse.move(track["x"] + track["width"] * 0.45, box["y"] + 5, steps=8)
        await page.mouse.up()
        end = int(await handle.get_attribute("aria-valuenow") or 0)
        assert T0 + 400 < end < T0 + 700, end - T0
        assert await second.locator("input.consent-end").input_value() == await page.evaluate(LOCAL_INPUT, end)
        # Of the porch clips left in the window, leave out the first.
        await second.locator("details.consent-clips summary").click()
        reachable = second.locator(".consent-clip-list li:not(.outside) input")
        dropped = int(await reachable.first.get_attribute("value") or 0)
        kept = {int(v) for v in await reachable.evaluate_all("boxes => boxes.map(b => b.value)")} - {dropped}
        await reachable.first.uncheck()
        await board.shoot("requests-narrowing")

        ph.clock.advance(301)  # the login's password is no longer fresh: the page asks for it again
        await second.locator("button.consent-narrow").click()
        dialog = page.locator("#password-dialog")
        await dialog.wait_for(state="visible", timeout=WAIT)
        await dialog.locator("input[name=password]").fill(NEW_PASSWORD)
        await dialog.locator("button[value=confirm]").click()
        await second.wait_for(state="detached", timeout=WAIT)
        await page.get_by_text("Request from Officer Dana Ruiz narrowed").wait_for(timeout=WAIT)
        links = page.locator("#consent-links li.consent-link")
        await links.nth(1).wait_for(timeout=WAIT)
        assert "5 of 5 downloads left" in await links.first.inner_text()
        await board.shoot("requests-decided")
        assert board.outside_requests() == []

    approved, approved_zip = await package_of(officer, whole, tmp_path / "whole.zip")
    assert approved["state"] == "approved" and approved["granted"]["cameras"] == ["porch"]
    narrowed, narrowed_zip = await package_of(officer, part, tmp_path / "part.zip")
    assert narrowed["state"] == "narrowed"
    assert narrowed["granted"] == {"cameras": ["porch"], "start_s": T0 + 120, "end_s": end, "clip_ids": sorted(kept)}
    for package in (approved_zip, narrowed_zip):
        assert verify_package(package).ok, verify_package(package).problems
    with zipfile.ZipFile(io.BytesIO(narrowed_zip.read_bytes())) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    files = manifest["files"]
    assert files and manifest["scope"] == narrowed["granted"]
    assert {f["camera"] for f in files} == {"porch"}
    assert dropped not in {f["source_clip_id"] for f in files}
    assert all(f["start_ms"] >= (T0 + 120) * 1000 and f["end_ms"] <= end * 1000 for f in files), files


async def test_an_owner_revokes_a_share_link_and_it_refuses_downloads(privacy_hub) -> None:
    ph: PrivacyHub = await privacy_hub()
    owner = await ph.owner()
    officer = await ph.requester(owner, "officer-ruiz")
    request_id = await submit(officer, ask(["porch"], T0, T0 + 300, "a parcel theft"))
    async with owner.post(f"/api/requests/{request_id}/decision", json={"decision": "approve"}) as r:
        assert r.status == 200, await r.text()
        url = (await r.json())["share_link"]["url"]

    async with dashboard(ph.url) as board:
        await board.log_in("owner", NEW_PASSWORD)
        await board.go("requests")
        item = board.page.locator(f"#consent-links li[data-id={request_id}]")
        await item.locator("button.consent-revoke").wait_for(timeout=WAIT)
        assert "5 of 5 downloads left" in await item.inner_text() and "usable" in await item.inner_text()
        await board.shoot("requests-share-links")
        await item.locator("button.consent-revoke").click()
        await item.get_by_text("revoked").wait_for(timeout=WAIT)
        assert await item.locator("button.consent-revoke").count() == 0
        assert board.outside_requests() == []

    async with officer.get(url) as r:
        assert r.status == 410 and "revoked" in (await r.json())["message"]
    async with ph.client().get(url + "/contents") as r:
        assert r.status == 410


async def test_a_member_sees_no_queue_on_the_requests_page(privacy_hub) -> None:
    ph: PrivacyHub = await privacy_hub()
    owner = await ph.owner()
    officer = await ph.requester(owner, "officer-ruiz")
    await submit(officer, ask(["porch"], T0, T0 + 300, "a parcel theft"))
    async with owner.post("/api/accounts", json={"username": "kid", "role": "member"}) as r:
        one_time = (await r.json())["one_time_password"]
    await ph.login("kid", one_time, "the kid's long password")
    async with dashboard(ph.url) as board:
        await board.log_in("kid", "the kid's long password")
        await board.go("requests")
        await board.page.get_by_text("Log in as an owner to see the requests.").wait_for(timeout=WAIT)
        assert await board.page.locator("#consent-owner").is_hidden()
        assert "parcel theft" not in await board.page.locator("#requests").inner_text()
        assert not [url for url in board.requests if "/api/requests" in url]
        assert board.outside_requests() == []
