"""The dashboard's frame, in Chromium: its pages, the policy that keeps it to the hub, phone and desktop."""

from __future__ import annotations

import aiohttp
import pytest

from ..privacy.conftest import NEW_PASSWORD, PrivacyHub
from .browser import dashboard

pytestmark = pytest.mark.timeout(180)

PAGES = ("home", "review", "settings", "requests", "overrides", "audit", "accounts", "storage")


async def test_every_answer_carries_a_policy_that_allows_only_the_hub(privacy_hub) -> None:
    ph: PrivacyHub = await privacy_hub(clips=[])
    async with aiohttp.ClientSession() as http:
        for path in ("/", "/static/api.js", "/api/cameras", "/no/such/route"):
            async with http.get(ph.url + path) as r:
                policy = r.headers.get("Content-Security-Policy", "")
                assert "default-src 'self'" in policy and "script-src 'self'" in policy, (path, policy)
                assert "frame-ancestors 'none'" in policy and "'unsafe-inline'" not in policy
                assert r.headers.get("X-Content-Type-Options") == "nosniff"
        async with http.get(ph.url + "/static/api.js") as r:
            assert r.content_type == "text/javascript"


async def test_each_page_opens_from_the_navigation_and_asks_nothing_of_another_origin(privacy_hub) -> None:
    ph: PrivacyHub = await privacy_hub()
    await ph.owner()
    errors: list[str] = []
    async with dashboard(ph.url) as board:
        board.page.on("pageerror", lambda exc: errors.append(str(exc)))
        board.page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        await board.log_in("owner", NEW_PASSWORD)
        for name in PAGES:
            await board.go(name)
            shown = await board.page.evaluate(
                "() => [...document.querySelectorAll('[data-page]')]"
                ".filter(e => getComputedStyle(e).display !== 'none').map(e => e.dataset.page)"
            )
            assert shown and set(shown) == {name}, (name, shown)
            assert await board.page.locator(f"nav a[data-to={name}]").get_attribute("aria-current") == "page"
            await board.shoot(f"page-{name}")
        assert board.requests, "the page made no request at all"
        assert board.outside_requests() == []
    assert [e for e in errors if "Content Security Policy" in e] == []


async def test_a_phone_sized_screen_needs_no_sideways_scrolling_and_focus_is_visible(privacy_hub) -> None:
    ph: PrivacyHub = await privacy_hub(clips=[])
    async with dashboard(ph.url, viewport=(375, 812)) as board:
        await board.page.locator("form#login").wait_for(timeout=10000)
        for name in PAGES:
            await board.page.evaluate("p => { location.hash = p === 'home' ? '' : p; }", name)
            await board.page.wait_for_function("p => document.body.dataset.page === p", arg=name, timeout=10000)
            width = await board.page.evaluate("document.documentElement.scrollWidth")
            assert width <= 375, (name, width)
        # The keyboard reaches the navigation, and the focused link is drawn with an outline.
        for _ in range(20):
            await board.page.keyboard.press("Tab")
            if await board.page.evaluate("document.activeElement.matches('nav a')"):
                break
        else:
            pytest.fail("Tab never reached the navigation")
        outline = await board.page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline not in ("none", ""), outline
