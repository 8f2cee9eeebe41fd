"""The owners' panel on the dashboard, in a real Chromium: a request arrives, the owner approves it there."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from .conftest import NEW_PASSWORD, PrivacyHub, footage_request

pytestmark = pytest.mark.timeout(120)


@asynccontextmanager
async def browser_page(url: str) -> AsyncIterator[Any]:
    """A page of Debian's Chromium at `url`; skips without Playwright or Chromium."""
    playwright_api = pytest.importorskip("playwright.async_api")
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    async with playwright_api.async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu", "--no-first-run"]
        )
        try:
            page = await browser.new_page()
            await page.goto(url)
            yield page
        finally:
            await browser.close()


async def log_in(page: Any, user: str, password: str) -> None:
    login = page.locator("form#login")
    await login.locator("input[name=username]").fill(user)
    await login.locator("input[name=password]").fill(password)
    await login.locator("button[type=submit]").click()


async def test_an_owner_approves_a_request_on_the_dashboard_after_typing_the_password_again(privacy_hub) -> None:
    ph: PrivacyHub = await privacy_hub()
    owner = await ph.owner()  # one-time password changed to NEW_PASSWORD
    officer = await ph.requester(owner, "officer-ruiz")
    body = footage_request()
    async with officer.post("/api/requests", json=body) as r:
        request_id = (await r.json())["id"]
    async with officer.post("/api/requests", json={**body, "purpose": "another one"}) as r:
        denied_id = (await r.json())["id"]

    async with browser_page(ph.url) as page:
        await log_in(page, "owner", NEW_PASSWORD)
        item = page.locator(f"li.request[data-id={request_id}]")
        await item.wait_for(timeout=10000)
        assert "Springfield PD" in await item.inner_text() and "parcel theft" in await item.inner_text()
        notices = page.locator("#notices")
        assert "request received" in await notices.inner_text()

        await page.locator(f"li.request[data-id={denied_id}] button.deny").click()
        await page.locator(f"li.request[data-id={denied_id}]").wait_for(state="detached", timeout=10000)

        ph.clock.advance(301)  # the login's password is no longer fresh
        await item.locator("input.reply").fill("here are the ten minutes")
        await item.locator("button.approve").click()
        reauth = page.locator("form#reauth")
        await reauth.wait_for(state="visible", timeout=10000)
        await reauth.locator("input[name=password]").fill("not my password")
        await reauth.locator("button[type=submit]").click()
        await page.get_by_text("wrong password").wait_for(timeout=10000)
        await reauth.locator("input[name=password]").fill(NEW_PASSWORD)
        await reauth.locator("button[type=submit]").click()
        await item.wait_for(state="detached", timeout=10000)

    async with officer.get(f"/api/requests/{request_id}") as r:
        seen = await r.json()
    assert seen["state"] == "approved" and seen["message"] == "here are the ten minutes"
    assert seen["share_link"]["usable"]
    async with officer.get(f"/api/requests/{denied_id}") as r:
        assert (await r.json())["state"] == "denied"


async def test_the_panel_stays_hidden_from_members(privacy_hub) -> None:
    ph: PrivacyHub = await privacy_hub(clips=[])
    owner = await ph.owner()
    async with owner.post("/api/accounts", json={"username": "kid", "role": "member"}) as r:
        one_time = (await r.json())["one_time_password"]
    await ph.login("kid", one_time, "the kid's long password")
    async with browser_page(ph.url) as page:
        await log_in(page, "kid", "the kid's long password")
        await page.get_by_text("Logged in as kid").wait_for(timeout=10000)
        assert await page.locator("#outside").is_hidden()
