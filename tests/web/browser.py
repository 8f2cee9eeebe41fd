"""Debian's Chromium driven by Playwright, for the dashboard's tests: every request the page makes is
recorded (so a test can show none went to another origin), and pages are photographed at a phone's and
a desktop's size into a folder that is not committed (CAMHUB_SCREENSHOTS, or test-screenshots/)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

CHROMIUM = Path("/usr/bin/chromium")
SIZES = {"phone": (375, 812), "desktop": (1440, 900)}
SCREENSHOTS = Path(os.environ.get("CAMHUB_SCREENSHOTS", Path(__file__).parents[2] / "test-screenshots"))


@dataclass
class Dashboard:
    page: Any
    origin: str
    requests: list[str] = field(default_factory=list)

    def outside_requests(self) -> list[str]:
        """Requests to anywhere but the hub (data: and blob: URLs are the page's own)."""
        outside = []
        for url in self.requests:
            parts = urlsplit(url)
            if parts.scheme not in ("data", "blob") and f"{parts.scheme}://{parts.netloc}" != self.origin:
                outside.append(url)
        return outside

    async def shoot(self, name: str) -> list[Path]:
        """Screenshots of the page as it is now, at each size; the viewport is put back after."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        before = self.page.viewport_size
        taken = []
        for size, (width, height) in SIZES.items():
            await self.page.set_viewport_size({"width": width, "height": height})
            path = SCREENSHOTS / f"{name}-{size}.png"
            await self.page.screenshot(path=str(path), full_page=True)
            taken.append(path)
        await self.page.set_viewport_size(before)
        return taken

    async def log_in(self, user: str, password: str) -> None:
        login = self.page.locator("form#login")
        await login.locator("input[name=username]").fill(user)
        await login.locator("input[name=password]").fill(password)
        await login.locator("button[type=submit]").click()
        await self.page.get_by_text(f"Logged in as {user}").wait_for(timeout=15000)

    async def go(self, page_name: str) -> None:
        """Open one of the dashboard's pages by its link in the navigation."""
        await self.page.locator(f"nav a[data-to={page_name}]").click()
        await self.page.wait_for_function("p => document.body.dataset.page === p", arg=page_name, timeout=10000)


@asynccontextmanager
async def dashboard(url: str, viewport: tuple[int, int] = SIZES["desktop"]) -> AsyncIterator[Dashboard]:
    """The hub's dashboard at `url` in Chromium; skips without Playwright or Chromium."""
    playwright_api = pytest.importorskip("playwright.async_api")
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    parts = urlsplit(url)
    async with playwright_api.async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu", "--no-first-run"]
        )
        try:
            context = await browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
            page = await context.new_page()
            board = Dashboard(page, f"{parts.scheme}://{parts.netloc}")
            page.on("request", lambda request: board.requests.append(request.url))
            await page.goto(url)
            yield board
        finally:
            await browser.close()
