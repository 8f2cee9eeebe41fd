"""The requester's page (/requester) and the share-link page (/share) in Chromium: a requester pastes its
token, asks for footage through the form, sees the request's state, and once an owner approved it opens
the share link, sees what the package holds and downloads it; the bytes verify as a package."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from camhub.privacy.package.verifier import verify_package

from ..privacy.conftest import T0, PrivacyHub
from .browser import dashboard
from .test_requests import LOCAL_INPUT

pytestmark = pytest.mark.timeout(240)

WAIT = 30000


async def phone_width(page: Any) -> int:
    """The page's width on a 375 px wide screen (more means sideways scrolling); the viewport is put back."""
    before = page.viewport_size
    await page.set_viewport_size({"width": 375, "height": 812})
    width: int = await page.evaluate("document.documentElement.scrollWidth")
    await page.set_viewport_size(before)
    return width


async def test_a_requester_asks_through_the_form_and_downloads_the_approved_package(
    privacy_hub, tmp_path: Path
) -> None:
    ph: PrivacyHub = await privacy_hub()
    owner = await ph.owner()
    async with owner.post("/api/requesters/tokens", json={"requester": "officer-ruiz", "name": "case work"}) as r:
        token = (await r.json())["token"]

    async with dashboard(ph.url + "/requester") as board:
        page = board.page
        await page.locator("#token-form input[name=token]").fill(token)
        await page.locator("#token-form button[type=submit]").click()
        form = page.locator("form#ask")
        await form.locator("input[name=cameras][value=porch]").wait_for(timeout=WAIT)
        assert await page.evaluate("sessionStorage.getItem('camhub.requester_token')") == token
        assert await page.evaluate("localStorage.length") == 0
        await page.get_by_text("Using the token of officer-ruiz").wait_for(timeout=WAIT)

        # A mistake first: the hub's own message comes back in the form.
        await form.locator("input[name=identity]").fill("Officer Dana Ruiz")
        await form.locator("input[name=organisation]").fill("Springfield PD")
        await form.locator("input[name=contact]").fill("ruiz@springfield.example")
        await form.locator("input[name=case_reference]").fill("SPD-2026-0412")
        await form.locator("textarea[name=purpose]").fill("A parcel was taken from the porch.")
        await form.locator("input[name=legal_basis]").fill("Police Act s.19, the resident's complaint")
        await form.locator("input[name=cameras][value=porch]").check()
        for name, seconds in (("start", T0), ("end", T0 + 600), ("wanted_by", T0 + 10 * 86400)):
            await form.locator(f"input[name={name}]").fill(await page.evaluate(LOCAL_INPUT, seconds))
        await form.locator("input[name=end]").fill(await page.evaluate(LOCAL_INPUT, T0 + 4 * 86400))
        await form.locator("button[type=submit]").click()
        await form.get_by_text("the window is 96 h long; at most 24 h", exact=False).wait_for(timeout=WAIT)
        await form.locator("input[name=end]").fill(await page.evaluate(LOCAL_INPUT, T0 + 600))
        await form.locator("button[type=submit]").click()
        item = page.locator("#my-request-list li").first
        await item.get_by_text("pending", exact=True).wait_for(timeout=WAIT)
        await board.shoot("requester-pending")
        assert await phone_width(page) <= 375

        request_id = await item.get_attribute("data-id")
        async with owner.get(f"/api/requests/{request_id}") as r:
            seen = await r.json()
        assert seen["cameras"] == ["porch"] and (seen["start_s"], seen["end_s"]) == (T0, T0 + 600)
        assert seen["case_reference"] == "SPD-2026-0412"
        assert seen["legal_basis"] == "Police Act s.19, the resident's complaint"
        assert seen["purpose"] == "A parcel was taken from the porch."
        async with owner.post(f"/api/requests/{request_id}/decision", json={"decision": "approve"}) as r:
            assert r.status == 200, await r.text()

        await page.locator("#reload-requests").click()
        await item.get_by_text("approved", exact=True).wait_for(timeout=WAIT)
        await board.shoot("requester-approved")
        await item.get_by_role("link", name="Open the share link").click()
        await page.wait_for_url("**/share#*", timeout=WAIT)
        files = page.locator("#share-files li")
        await files.first.wait_for(timeout=WAIT)
        assert await files.count() == 10  # one porch clip a minute for ten minutes
        assert "5 of 5 downloads left" in await page.locator("#share-status").inner_text()
        assert "porch" in await page.locator("#share-facts").inner_text()
        await board.shoot("share-page")
        assert await phone_width(page) <= 375
        async with page.expect_download(timeout=WAIT) as download_info:
            await page.locator("#share-download").click()
        download = await download_info.value
        saved = tmp_path / "package.zip"
        await download.save_as(saved)
        await page.get_by_text("4 of 5 downloads left", exact=False).wait_for(timeout=WAIT)
        assert board.outside_requests() == []

    result = verify_package(saved)
    assert result.ok, result.problems
    with zipfile.ZipFile(saved) as zf:
        basis = json.loads(zf.read("manifest.json"))["basis"]
    assert basis["id"] == request_id and basis["legal_basis"] == "Police Act s.19, the resident's complaint"
    async with owner.get(f"/api/requests/{request_id}") as r:
        assert (await r.json())["share_link"]["downloads"] == 1


async def test_the_requester_page_refuses_a_token_that_is_not_a_requesters(privacy_hub) -> None:
    ph: PrivacyHub = await privacy_hub(clips=[])
    async with dashboard(ph.url + "/requester") as board:
        await board.page.locator("#token-form input[name=token]").fill("chr_not-a-real-token")
        await board.page.locator("#token-form button[type=submit]").click()
        message = board.page.locator("#token-form .message")
        await message.get_by_text("token", exact=False).wait_for(timeout=WAIT)
        assert await board.page.locator("form#ask").is_hidden()
        assert await board.page.evaluate("sessionStorage.length") == 0
        await board.shoot("requester-token")
        assert board.outside_requests() == []


async def test_the_share_page_says_when_a_link_is_gone_or_wrong(privacy_hub) -> None:
    ph: PrivacyHub = await privacy_hub(clips=[])
    async with dashboard(ph.url + "/share#" + "A" * 22 + "." + "B" * 22) as board:
        await board.page.get_by_text("no such share link").wait_for(timeout=WAIT)
        assert await board.page.locator("#share-download").is_hidden()
        await board.page.goto(ph.url + "/share")
        await board.page.locator("#share-form").wait_for(timeout=WAIT)
        await board.shoot("share-empty")
        assert board.outside_requests() == []
