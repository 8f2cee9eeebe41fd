"""The dashboard's first steps and what every page owes its readers, in Chromium.

An owner's first login changes the one-time password in the page; the camera grid
shows live pictures from real simulated cameras (a member sees only theirs); and
every page's visible text has WCAG AA contrast against what it is drawn on.
"""

from __future__ import annotations

import aiohttp
import pytest

from ..conftest import HOUSEHOLD_PASSWORD
from ..privacy.conftest import NEW_PASSWORD, PrivacyHub
from .browser import dashboard
from .live_hub import MEMBER_PASSWORD, LiveHub, live_hub

__all__ = ["live_hub"]
pytestmark = pytest.mark.timeout(240)

PAGES = ("home", "review", "settings", "requests", "overrides", "audit", "accounts", "storage")

# For each visible element with text of its own: its text colour against the first opaque background
# behind it (WCAG 2 relative luminance). Large text (24 px, or 18.66 px bold) needs 3:1, the rest 4.5:1.
# Disabled controls are exempt, as in WCAG.
LOW_CONTRAST = """() => {
  const rgba = (text) => (text.match(/[\\d.]+/g) || []).map(Number);
  const luminance = ([r, g, b]) => {
    const c = [r, g, b].map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  };
  const background = (element) => {
    for (let e = element; e; e = e.parentElement) {
      const c = rgba(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] === 1)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const found = [];
  for (const e of document.querySelectorAll("body *")) {
    const own = [...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own || !e.getClientRects().length || e.closest("[hidden], dialog:not([open]), :disabled")) continue;
    const style = getComputedStyle(e);
    if (style.visibility === "hidden" || style.display === "none" || Number(style.opacity) === 0) continue;
    const [a, b] = [luminance(rgba(style.color)), luminance(background(e))];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    const what = `${e.tagName}.${e.className}: ${e.textContent.trim().slice(0, 40)}`;
    if (ratio < (large ? 3 : 4.5)) found.push(`${what} (${ratio.toFixed(2)})`);
  }
  return found;
}"""

# Visible form controls without a name a screen reader can say: a <label>, aria-label(ledby), or a
# button's own text.
UNLABELLED = """() => [...document.querySelectorAll("input, select, textarea, button")]
  .filter((e) => e.type !== "hidden" && e.getClientRects().length && !e.closest("[hidden]"))
  .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute("aria-label")
    && !e.getAttribute("aria-labelledby") && !(e.tagName === "BUTTON" && e.textContent.trim()))
  .map((e) => `${e.tagName}.${e.className}[name=${e.name}]`)"""


async def test_the_first_login_changes_the_one_time_password_in_the_page(privacy_hub) -> None:
    ph: PrivacyHub = await privacy_hub(clips=[])
    async with dashboard(ph.url) as board:
        page = board.page
        await board.log_in("owner", str(ph.hub.initial_password))
        change = page.locator("form#change-password")
        await change.wait_for(state="visible", timeout=15000)
        await board.shoot("first-login")
        await change.locator("input[name=current_password]").fill(str(ph.hub.initial_password))
        await change.locator("input[name=new_password]").fill("short")
        await change.locator("button[type=submit]").click()
        assert await change.is_visible(), "a 5-character password was taken"
        await change.locator("input[name=new_password]").fill(NEW_PASSWORD)
        await change.locator("button[type=submit]").click()
        await change.wait_for(state="hidden", timeout=15000)
        assert await page.locator("form#login").is_hidden()
        assert board.outside_requests() == []
    async with aiohttp.ClientSession() as http:
        login = {"username": "owner", "password": NEW_PASSWORD}
        async with http.post(f"{ph.url}/api/auth/login", json=login) as r:
            assert r.status == 200, await r.text()
            assert (await r.json())["must_change_password"] is False


async def test_the_camera_grid_shows_live_pictures_and_a_member_only_their_cameras(live_hub: LiveHub) -> None:
    shows_picture = (
        "n => [...document.querySelectorAll('#cameras article.camera img.live')]"
        ".filter(i => i.naturalWidth > 0).length >= n"
    )
    async with dashboard(live_hub.url) as board:
        await board.log_in("owner", HOUSEHOLD_PASSWORD)
        await board.page.wait_for_function(shows_picture, arg=2, timeout=30000)
        names = await board.page.locator("#cameras article.camera .name").all_inner_texts()
        assert sorted(names) == ["attic", "yard"]
        await board.shoot("home-live")
        assert board.outside_requests() == []
    async with dashboard(live_hub.url) as board:
        await board.log_in("kid", MEMBER_PASSWORD)
        await board.page.wait_for_function(shows_picture, arg=1, timeout=30000)
        # Before the login the public status listed both; the next refresh after it keeps only theirs.
        cards = "() => document.querySelectorAll('#cameras article.camera').length === 1"
        await board.page.wait_for_function(cards, timeout=30000)
        assert await board.page.locator("#cameras article.camera .name").all_inner_texts() == ["attic"]


async def test_every_page_s_text_has_enough_contrast_and_every_control_a_label(privacy_hub) -> None:
    ph: PrivacyHub = await privacy_hub()
    await ph.owner()
    async with dashboard(ph.url) as board:
        assert await board.page.evaluate(LOW_CONTRAST) == [], "the login page"
        # The checks see what they should: pale grey on white and a bare input are found (then taken away).
        await board.page.evaluate(
            "() => { const p = document.createElement('p'); p.id = 'pale'; p.textContent = 'pale';"
            " p.style.color = '#bbbbbb'; p.style.background = '#ffffff'; document.body.append(p); }"
        )
        assert any("pale" in found for found in await board.page.evaluate(LOW_CONTRAST))
        await board.page.evaluate(
            "() => { const i = document.createElement('input'); i.name = 'bare';"
            " document.getElementById('pale').append(i); }"
        )
        assert any("name=bare" in found for found in await board.page.evaluate(UNLABELLED))
        await board.page.evaluate("() => document.getElementById('pale').remove()")
        await board.log_in("owner", NEW_PASSWORD)
        for name in PAGES:
            await board.go(name)
            await board.page.wait_for_load_state("networkidle")
            assert await board.page.evaluate(LOW_CONTRAST) == [], name
            assert await board.page.evaluate(UNLABELLED) == [], name
