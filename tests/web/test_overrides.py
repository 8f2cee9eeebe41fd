"""The Overrides page in Chromium: filing an override (the hub's error beside the field it names, then a
complete filing with its PDF and a fresh password), its history, and holds renewed and released."""

from __future__ import annotations

import aiohttp
import pytest

from ..privacy.conftest import NEW_PASSWORD, T0, PrivacyHub
from ..privacy.test_overrides import PDF, sealed_override
from .browser import Dashboard, dashboard

pytestmark = pytest.mark.timeout(240)

WAIT = 30000  # ms: a shared, busy machine


async def get(session: aiohttp.ClientSession, path: str) -> object:
    async with session.get(path) as r:
        assert r.status == 200, await r.text()
        return await r.json()


async def local_time(board: Dashboard, unix_s: int) -> str:
    """What a datetime-local input shows for `unix_s` in the browser's own zone."""
    return str(
        await board.page.evaluate(
            "s => { const d = new Date(s * 1000); d.setMinutes(d.getMinutes() - d.getTimezoneOffset());"
            " return d.toISOString().slice(0, 19); }",
            unix_s,
        )
    )


async def confirm_password(board: Dashboard) -> None:
    dialog = board.page.locator("#password-dialog")
    await dialog.wait_for(state="visible", timeout=WAIT)
    await dialog.locator("input[name=password]").fill(NEW_PASSWORD)
    await dialog.locator("button[value=confirm]").click()


async def test_an_override_missing_a_field_names_it_then_a_complete_one_is_filed_and_listed(privacy_hub) -> None:
    ph: PrivacyHub = await privacy_hub()
    owner = await ph.owner()
    async with dashboard(ph.url) as board:
        await board.log_in("owner", NEW_PASSWORD)
        await board.go("overrides")
        form = board.page.locator("#override-form")
        await form.locator("input[name=cameras][value=yard]").wait_for(timeout=WAIT)
        await form.locator("select[name=kind]").select_option("search_warrant")
        for name, value in (
            ("authority", "Superior Court of Springfield County"),
            ("jurisdiction", "State of X"),
            ("case_number", "SW-2026-0042"),
            ("agency", "Springfield PD"),
            ("officer_contact", "Det. Kim, kim@springfield.example"),
        ):
            await form.locator(f"input[name={name}]").fill(value)
        await form.locator("input[name=issued]").fill("2026-09-21")
        await form.locator("input[name=cameras][value=yard]").check()
        await form.locator("input[name=start]").fill(await local_time(board, T0))
        await form.locator("input[name=end]").fill(await local_time(board, T0 + 600))
        await form.locator("input[name=document_sha256]").set_input_files(
            {"name": "warrant.pdf", "mimeType": "application/pdf", "buffer": PDF}
        )
        # The judge: the browser cannot know a warrant needs one (the field is not `required`); the hub does.
        assert await form.locator("input[name=judge]").get_attribute("required") is None
        await form.locator("button[type=submit]").click()
        judge_error = board.page.locator("#ovr-error-judge")
        await judge_error.wait_for(state="visible", timeout=WAIT)
        assert "'judge' is required" in await judge_error.text_content()
        assert await form.locator("input[name=judge]").get_attribute("aria-invalid") == "true"
        # It sits in the judge's own label, next to the field, and nothing was filed.
        assert await board.page.locator("label:has(input[name=judge]) #ovr-error-judge").count() == 1
        assert await get(owner, "/api/overrides") == []
        await board.shoot("overrides-missing-field")

        # Complete it; the password typed at login is stale by now, so the page asks for it again.
        ph.clock.advance(600)
        await form.locator("input[name=judge]").fill("Hon. R. Alvarez")
        await form.locator("button[type=submit]").click()
        await confirm_password(board)
        item = board.page.locator(".ovr-history .ovr-item")
        await item.first.wait_for(timeout=WAIT)
        filed = await get(owner, "/api/overrides")
        assert isinstance(filed, list) and len(filed) == 1
        assert filed[0]["case_number"] == "SW-2026-0042" and filed[0]["judge"] == "Hon. R. Alvarez"
        assert filed[0]["cameras"] == ["yard"] and (filed[0]["start_s"], filed[0]["end_s"]) == (T0, T0 + 600)
        assert await item.count() == 1 and await item.get_attribute("data-id") == filed[0]["id"]
        assert "SW-2026-0042" in await item.locator(".ovr-title").text_content()
        assert await board.page.locator("#ovr-error-judge").is_hidden()
        # The invoker sees the agency's share link (the hub shows its URL only to them).
        assert await item.locator(".ovr-link a").get_attribute("href") == filed[0]["share_link"]["url"]
        await board.page.set_viewport_size({"width": 375, "height": 812})
        assert await board.page.evaluate("document.documentElement.scrollWidth") <= 375
        await board.shoot("overrides-filed")
        assert board.outside_requests() == []


async def test_a_sealed_override_is_listed_for_its_custodian_only(privacy_hub) -> None:
    ph: PrivacyHub = await privacy_hub()
    owner = await ph.owner()
    custodian = await ph.account(owner, "custodian", "the custodian's long password", role="custodian")
    sealed = await sealed_override(ph, custodian)
    async with dashboard(ph.url) as board:
        await board.log_in("owner", NEW_PASSWORD)
        await board.go("overrides")
        await board.page.wait_for_function("() => document.getElementById('overrides').dataset.loaded", timeout=WAIT)
        assert await board.page.locator(".ovr-history .ovr-item").count() == 0
    async with dashboard(ph.url) as board:
        await board.log_in("custodian", "the custodian's long password")
        await board.go("overrides")
        item = board.page.locator(f".ovr-item[data-id='{sealed['id']}']")
        await item.wait_for(timeout=WAIT)
        assert await item.get_attribute("data-sealed") == "true"
        assert "Sealed" in await item.locator(".ovr-notice").text_content()
        await board.shoot("overrides-sealed-custodian")
        assert board.outside_requests() == []


async def test_a_hold_is_renewed_and_released_from_the_page(privacy_hub) -> None:
    ph: PrivacyHub = await privacy_hub()
    owner = await ph.owner()
    async with owner.post("/api/holds", json={"cameras": ["porch"], "start": T0, "end": T0 + 600}) as r:
        assert r.status == 201, await r.text()
        hold = await r.json()
    async with dashboard(ph.url) as board:
        await board.log_in("owner", NEW_PASSWORD)
        await board.go("overrides")
        item = board.page.locator(f".ovr-hold-item[data-id='{hold['id']}']")
        await item.wait_for(timeout=WAIT)
        assert await item.locator(".hold-state").get_attribute("data-expires") == str(hold["expires_s"])

        ph.clock.advance(3600)  # an hour later: renewing keeps it for hold_days from now
        await item.locator("button.hold-renew").click()
        await board.page.wait_for_function(
            "h => document.querySelector(`.ovr-hold-item[data-id='${h.id}'] .hold-state`)?.dataset.expires"
            " !== String(h.expires_s)",
            arg=hold,
            timeout=WAIT,
        )
        (renewed,) = [h for h in await get(owner, "/api/holds") if h["id"] == hold["id"]]
        assert renewed["expires_s"] == hold["expires_s"] + 3600
        assert await item.locator(".hold-state").get_attribute("data-expires") == str(renewed["expires_s"])
        assert "renewed" in await board.page.locator(".ovr-holds-message").text_content()
        await board.shoot("overrides-hold-renewed")

        # Releasing needs the password typed within five minutes; an hour has passed since login.
        await item.locator("button.hold-release").click()
        await confirm_password(board)
        await item.locator("button.hold-release").wait_for(state="detached", timeout=WAIT)
        (released,) = [h for h in await get(owner, "/api/holds") if h["id"] == hold["id"]]
        assert released["released_s"] == int(ph.clock())
        assert "Released" in await item.locator(".hold-state").text_content()
        await board.shoot("overrides-hold-released")
        assert board.outside_requests() == []
