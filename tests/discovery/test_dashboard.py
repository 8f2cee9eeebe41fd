"""The "Found on the network" list in a real Chromium: hostile names stay text, owners adopt, members look.

A hostile announcer (its own AsyncZeroconf on 127.0.0.1, as a device on the
network would be) names itself with HTML; the page shows the name as
literal text and runs none of it. An owner adopts the simulator's camera
with the form on the page (the form keeps its focus and text while the list
refreshes); a member sees the list without any form.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from zeroconf import ServiceInfo
from zeroconf.asyncio import AsyncZeroconf

from camhub.app import Hub
from camhub.sim.simulator import Simulator

from ..conftest import HOUSEHOLD_PASSWORD, TEST_SCENE, free_port
from ..privacy.test_dashboard import browser_page, log_in
from .test_adopt import CAMERA_PASSWORD, CAMERA_USER, get, running_hub, until

pytestmark = [pytest.mark.timeout(240)]

RTSP = "_rtsp._tcp.local."
HOSTILE_NAME = '<img src=x onerror="window.pwned=1">'
HOSTILE_MODEL = "<script>window.pwned=2</script>"
MEMBER_PASSWORD = "the member's long password"


@pytest.fixture
async def hostile() -> AsyncIterator[ServiceInfo]:
    """A device on loopback whose instance name and model are HTML."""
    zc = AsyncZeroconf(interfaces=["127.0.0.1"])
    info = ServiceInfo(
        RTSP,
        f"{HOSTILE_NAME}.{RTSP}",
        addresses=[socket.inet_aton("127.0.0.1")],
        port=free_port(),
        properties={"manufacturer": "<b>evil</b>", "model": HOSTILE_MODEL, "path": "/live"},
        server="hostile.local.",
    )
    try:
        await zc.async_register_service(info)
        yield info
    finally:
        await zc.async_unregister_service(info)
        await zc.async_close()


async def device_item(page: Any, name: str) -> Any:
    """The list item whose name reads exactly `name`, once the page shows it."""
    item = page.locator("#devices li.device").filter(has=page.locator(".device-name").get_by_text(name, exact=True))
    await item.wait_for(timeout=30000)
    return item


async def no_markup_ran(page: Any) -> None:
    assert await page.evaluate("typeof window.pwned") == "undefined"
    assert await page.locator("#devices img, #devices script, #devices b").count() == 0


async def add_member(hub: Hub, owner: aiohttp.ClientSession) -> None:
    """A member account, its one-time password changed to MEMBER_PASSWORD over the API."""
    async with owner.post(f"{hub.url}/api/accounts", json={"username": "kid", "role": "member"}) as r:
        assert r.status in (200, 201), await r.text()
        one_time = (await r.json())["one_time_password"]
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as kid:
        async with kid.post(f"{hub.url}/api/auth/login", json={"username": "kid", "password": one_time}) as r:
            assert r.status == 200, await r.text()
        change = {"current_password": one_time, "new_password": MEMBER_PASSWORD}
        async with kid.post(f"{hub.url}/api/auth/password", json=change) as r:
            assert r.status == 200, await r.text()


async def test_a_hostile_name_is_shown_as_text_to_owners_and_members_and_members_get_no_form(
    hostile: ServiceInfo, tmp_path: Path, household_login: Any
) -> None:
    async with running_hub(tmp_path / "data") as hub:
        owner, _ = await household_login(hub.url, hub.initial_password)
        async with owner:

            async def heard() -> str | None:
                found = await get(owner, f"{hub.url}/api/discovered")
                return next((d["id"] for d in found if d["name"] == HOSTILE_NAME), None)

            device_id = await until(heard, 30)
            await add_member(hub, owner)

        async with browser_page(hub.url) as page:
            await log_in(page, "owner", HOUSEHOLD_PASSWORD)
            item = page.locator(f'#devices li.device[data-id="{device_id}"]')
            await item.wait_for(timeout=30000)
            await no_markup_ran(page)
            assert (await item.locator(".device-name").inner_text()) == HOSTILE_NAME
            assert HOSTILE_MODEL in await item.locator(".device-what").inner_text()
            assert "<b>evil</b>" in await item.locator(".device-what").inner_text()
            assert await item.locator("form.adopt").is_visible(), "an owner can adopt what is adoptable"

        async with browser_page(hub.url) as page:
            await log_in(page, "kid", MEMBER_PASSWORD)
            item = page.locator(f'#devices li.device[data-id="{device_id}"]')
            await item.wait_for(timeout=30000)
            await no_markup_ran(page)
            assert (await item.locator(".device-name").inner_text()) == HOSTILE_NAME
            assert await page.locator("#discovered").is_visible()
            assert await item.locator("form.adopt").is_hidden()
            assert await page.locator("#devices form.adopt:visible").count() == 0


async def test_an_owner_adopts_a_found_camera_on_the_page(
    require_rtsp: None, sim_cache: Path, tmp_path: Path, household_login: Any
) -> None:
    async with (
        Simulator([("yard", TEST_SCENE)], cache_dir=sim_cache, rtsp_credentials=(CAMERA_USER, CAMERA_PASSWORD)),
        running_hub(tmp_path / "data") as hub,
    ):
        owner, _ = await household_login(hub.url, hub.initial_password)
        async with owner:
            async with browser_page(hub.url) as page:
                await log_in(page, "owner", HOUSEHOLD_PASSWORD)
                item = await device_item(page, "yard")
                assert (await item.locator(".device-state").inner_text()) == "new"
                form = item.locator("form.adopt")
                await form.wait_for(state="visible", timeout=10000)
                assert (await form.locator("input[name=record]").input_value()).endswith("/yard/main")
                await form.locator("input[name=name]").fill("yard")
                await form.locator("input[name=username]").fill(CAMERA_USER)
                # The list refreshes every few seconds: the form being filled in keeps its focus and text.
                for _ in range(2):  # after the second fetch, the first refresh has surely redrawn the list
                    async with page.expect_response(lambda r: r.url.endswith("/api/discovered"), timeout=20000):
                        pass
                assert await form.locator("input[name=username]").evaluate("e => e === document.activeElement")
                assert (await form.locator("input[name=name]").input_value()) == "yard"
                await form.locator("input[name=password]").fill(CAMERA_PASSWORD)
                await form.locator("input[name=owner_password]").fill(HOUSEHOLD_PASSWORD)
                await form.locator("input[name=owner_password]").press("Enter")
                # The page says so: the device's state turns to adopted, and it names the camera.
                adopted = page.locator("#devices li.device").filter(
                    has=page.locator(".device-state").get_by_text("adopted", exact=True)
                )
                await adopted.wait_for(timeout=90000)  # the hub tests both streams first
                assert (await adopted.locator(".device-name").inner_text()) == "yard"
                assert "Camera yard" in await adopted.locator(".device-why").inner_text()
                assert await adopted.locator("form.adopt").is_hidden()
                assert CAMERA_PASSWORD not in await page.content()

            cameras = await get(owner, f"{hub.url}/api/cameras")
            assert "yard" in {c["name"] for c in cameras}
            assert "yard" in hub.cameras
