"""The camera settings page in Chromium, against a running hub with a real simulated camera.

The simulated scene (TEST_SCENE, from the HTTP simulator) has something
cross the frame in every 10 s loop, so motion events start before any
change. The owner draws a mask over the whole latest picture, saves it,
types the password in the dialog the hub asks for, and from then on the
same moving scene starts no motion event over several loops; the motion
background is kept throughout. A member sees the settings but cannot change
them.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from camhub.motion.detector import MotionStarted
from camhub.motion.watcher import CameraMotion
from camhub.sim.http_server import SimHttpServer

from ..conftest import HouseholdLogin
from ..hubs import detecting_camera, hub_config, running
from .browser import dashboard

pytestmark = pytest.mark.timeout(300)

SCENE_LOOP_S = 10.0  # TEST_SCENE's length: the object crosses once per loop
QUIET_LOOPS = 4  # loops without an event that show the mask works


async def next_motion(events: Any, camera: str, seconds: float, after: float = 0.0) -> MotionStarted | None:
    """The next MotionStarted of `camera` on the bus within `seconds` (of capture time after `after`), or None."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            event = await asyncio.wait_for(events.get(), min(left, 1.0))
        except TimeoutError:
            continue
        if isinstance(event, MotionStarted) and event.camera == camera and event.time > after:
            return event
    return None


async def test_an_owner_masks_the_whole_picture_and_motion_no_longer_starts_events(
    http_sim: SimHttpServer, tmp_path: Path, household_login: HouseholdLogin
) -> None:
    errors: list[str] = []
    async with running(hub_config(tmp_path / "data", {"yard": detecting_camera(http_sim)})) as hub:
        http, password = await household_login(hub.url, hub.initial_password)
        await http.close()
        watcher = hub.cameras["yard"].motion
        assert isinstance(watcher, CameraMotion) and hub.bus is not None and hub.accounts is not None
        with hub.bus.subscribe(MotionStarted) as events:
            # Before the mask, the scene's motion starts events.
            assert await next_motion(events, "yard", 4 * SCENE_LOOP_S) is not None, "no motion before the mask"

            async with dashboard(hub.url) as board:
                board.page.on("pageerror", lambda exc: errors.append(str(exc)))
                # Failed answers (the 401 that asks for the password, a missing favicon) are logged by the browser
                # too; what must not happen is a script error or anything the policy blocked.
                board.page.on(
                    "console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None
                )
                await board.log_in("owner", password)
                await board.go("settings")
                page = board.page
                await page.wait_for_function(
                    "() => document.getElementById('settings-snapshot').naturalWidth > 0", timeout=30000
                )
                assert await page.locator("#settings-camera").input_value() == "yard"
                assert await page.locator("input[name=motion_threshold]").input_value() == "10"
                await board.shoot("settings")

                # The owner clicks the picture's four corners (each snaps onto the frame's edge) and adds a mask.
                overlay = page.locator("#settings-overlay")
                box = await overlay.bounding_box()
                assert box is not None
                for x, y in (
                    (2, 2),
                    (box["width"] - 2, 2),
                    (box["width"] - 2, box["height"] - 2),
                    (2, box["height"] - 2),
                ):
                    await overlay.click(position={"x": x, "y": y})
                assert await page.locator("#settings-points").input_value() == "0,0 1,0 1,1 0,1"
                await page.locator("#settings-kind").select_option("mask")
                await page.locator("#settings-add").click()
                await page.get_by_text("Mask 1: 4 corners").wait_for(timeout=15000)
                assert await page.locator("#settings-overlay polygon.mask").count() == 1
                await board.shoot("settings-mask-drawn")

                # The login's password is no longer fresh: saving asks for it in the dialog.
                real_clock = hub.accounts.sessions._clock
                hub.accounts.sessions._clock = lambda: real_clock() + 400
                age_before = watcher.engine.background_age
                await page.locator("#settings-save").click()
                dialog = page.locator("#password-dialog")
                await dialog.wait_for(state="visible", timeout=15000)
                await board.shoot("settings-password")
                await dialog.locator("input[name=password]").fill(password)
                await dialog.locator("button[value=confirm]").click()
                await page.get_by_text("Saved; the camera uses the new settings now.").wait_for(timeout=20000)
                await board.shoot("settings-saved")
                assert board.outside_requests() == []

            async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
                login = {"username": "owner", "password": password}
                async with http.post(f"{hub.url}/api/auth/login", json=login) as r:
                    assert r.status == 200
                async with http.get(f"{hub.url}/api/cameras/yard/settings") as r:
                    assert (await r.json())["settings"]["masks"] == [[[0, 0], [1, 0], [1, 1], [0, 1]]]

            # The watcher took the mask at its next frame, without learning the background again.
            deadline = time.monotonic() + 30
            while len(watcher.engine.config.masks) != 1 or watcher.machine.active:
                assert time.monotonic() < deadline, "the mask was not taken, or the open event never ended"
                await asyncio.sleep(0.1)
            assert watcher.engine.background_age > age_before
            masked_at = time.time()  # capture times are the reader's Unix clock
            started = await next_motion(events, "yard", QUIET_LOOPS * SCENE_LOOP_S, after=masked_at)
            assert started is None, f"motion started an event under the mask: {started}"
            assert watcher.engine.background_age > age_before + QUIET_LOOPS * SCENE_LOOP_S  # still analysing
    assert errors == []


async def test_a_member_sees_the_settings_but_cannot_change_them(
    http_sim: SimHttpServer, tmp_path: Path, household_login: HouseholdLogin
) -> None:
    async with running(hub_config(tmp_path / "data", {"yard": detecting_camera(http_sim)})) as hub:
        owner, _ = await household_login(hub.url, hub.initial_password)
        async with owner:
            async with owner.post(f"{hub.url}/api/accounts", json={"username": "kid", "role": "member"}) as r:
                assert r.status == 201, await r.text()
                one_time = (await r.json())["one_time_password"]
        async with dashboard(hub.url, viewport=(375, 812)) as board:
            page = board.page
            await page.locator("form#login input[name=username]").fill("kid")
            await page.locator("form#login input[name=password]").fill(one_time)
            await page.locator("form#login button[type=submit]").click()
            change = page.locator("form#change-password")
            await change.locator("input[name=current_password]").fill(one_time)
            await change.locator("input[name=new_password]").fill("the kid's long password")
            await change.locator("button[type=submit]").click()
            await page.get_by_text("Logged in as kid").wait_for(timeout=15000)
            await board.go("settings")
            await page.get_by_text("Only owners change settings; you can see them.").wait_for(timeout=15000)
            assert await page.locator("input[name=post_roll]").input_value() == "5"
            assert await page.locator("#settings-save").is_disabled()
            width = await page.evaluate("document.documentElement.scrollWidth")
            assert width <= 375, width
            await board.shoot("settings-member")
            assert board.outside_requests() == []
