"""A camera's settings over the API, on a running hub with real cameras (the HTTP simulator's H.264 streams).

An owner with a fresh password changes every setting; each is in force on
the running camera at once (no restart, the motion background kept), is
written to the audit log as `setting_changed`, and is still in force after
the hub restarts. Wrong values answer 400 naming the key; members read only
their cameras and change nothing; anonymous callers get nothing. A
threshold set over MQTT (through the same store) survives a zone change
made on the dashboard.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from camhub.app import Hub
from camhub.motion.watcher import CameraMotion
from camhub.recording.recorder import CameraRecorder
from camhub.sim.http_server import SimHttpServer

from ..conftest import HOUSEHOLD_PASSWORD, HouseholdLogin
from ..hubs import hub_config, running

pytestmark = pytest.mark.timeout(240)

DRIVE = [[0.0, 0.5], [1.0, 0.5], [1.0, 1.0], [0.0, 1.0]]
CORNER = [[0.0, 0.0], [0.2, 0.0], [0.0, 0.2]]
CHANGES: dict[str, Any] = {
    "record": False,
    "motion_threshold": 14.0,
    "min_area": 0.002,
    "analysis_fps": 2.0,
    "pre_roll": 3.0,
    "post_roll": 1.5,
    "retain_days": 7.0,
    "zones": {"drive": {"points": DRIVE, "min_area": 0.01}},
    "masks": [CORNER],
}


def config(data: Path, http_sim: SimHttpServer) -> dict[str, Any]:
    camera = {
        "inputs": [
            {"url": http_sim.url("cam", "main.h264"), "roles": ["record"]},
            {"url": http_sim.url("cam", "sub.h264"), "roles": ["detect"]},
        ],
    }
    return hub_config(data, {"yard": camera, "porch": camera}, retention={"min_free_bytes": 0, "days": 30})


async def until(condition: Callable[[], bool], what: str, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def watcher_of(hub: Hub, camera: str = "yard") -> CameraMotion:
    watcher = hub.cameras[camera].motion
    assert isinstance(watcher, CameraMotion)
    return watcher


async def reauth(http: aiohttp.ClientSession, hub: Hub) -> None:
    async with http.post(f"{hub.url}/api/auth/reauth", json={"password": HOUSEHOLD_PASSWORD}) as r:
        assert r.status == 200, await r.text()


async def patch(http: aiohttp.ClientSession, hub: Hub, body: Any, camera: str = "yard") -> tuple[int, Any]:
    async with http.patch(f"{hub.url}/api/cameras/{camera}/settings", json=body) as r:
        return r.status, await r.json()


async def setting_changes(hub: Hub, since: int = 0) -> list[dict[str, Any]]:
    assert hub.audit is not None
    entries = [json.loads(await hub.audit.entry(i)) for i in range(since, hub.audit.size)]
    return [e for e in entries if e["event"] == "setting_changed"]


async def test_an_owner_changes_every_setting_live_logged_and_kept_across_a_restart(
    http_sim: SimHttpServer, tmp_path: Path, household_login: HouseholdLogin
) -> None:
    data = tmp_path / "data"
    async with running(config(data, http_sim)) as hub:
        http, _ = await household_login(hub.url, hub.initial_password)
        async with http:
            async with http.get(f"{hub.url}/api/cameras/yard/settings") as r:
                assert r.status == 200, await r.text()
                before = await r.json()
            assert before["settings"] == before["config"] and before["kept"] == []
            assert before["settings"]["analysis_fps"] == 5.0 and before["settings"]["zones"] == {}
            assert before["retention_days"] == 30

            watcher = watcher_of(hub)
            await until(lambda: watcher.engine.background_age >= 10, "10 analysed frames")
            age_before = watcher.engine.background_age
            mark = hub.audit.size if hub.audit else 0

            await reauth(http, hub)
            status, answer = await patch(http, hub, CHANGES)
            assert status == 200, answer
            assert {k: answer["settings"][k] for k in CHANGES} == CHANGES
            assert sorted(answer["kept"]) == sorted(CHANGES)

            # In force on the running camera, with no restart and the background kept.
            pipeline = hub.cameras["yard"]
            assert pipeline.status()["analysis_fps"] == 2.0
            await until(lambda: watcher.engine.config.threshold == 14.0, "the watcher to take the settings")
            engine = watcher.engine.config
            assert (engine.min_area, engine.post_roll, list(engine.zones)) == (0.002, 1.5, ["drive"])
            assert engine.zones["drive"].min_area == 0.01 and len(engine.masks) == 1
            await until(lambda: watcher.engine.background_age >= age_before + 3, "more analysed frames")
            assert watcher.engine.background_age >= age_before + 3  # learning again would start it from 1
            recorder = watcher.recorder
            assert isinstance(recorder, CameraRecorder)
            assert recorder.pre_roll == 3.0 and recorder.ring.seconds == 3.5
            await until(lambda: pipeline.status()["recording"]["enabled"] is False, "the recorder to stop recording")
            assert hub.fleet._retention is not None and hub.fleet._retention.limits.days["yard"] == 7.0
            # The other camera is untouched.
            assert watcher_of(hub, "porch").engine.config.zones == {}

            changes = await setting_changes(hub, mark)
            assert {e["fields"]["key"] for e in changes} == {f"cameras.yard.{k}" for k in CHANGES}
            assert all(e["actor"] == "owner" and e["fields"]["source"] == "api" for e in changes)
            by_key = {e["fields"]["key"].rsplit(".", 1)[1]: e["fields"] for e in changes}
            assert (by_key["motion_threshold"]["old"], by_key["motion_threshold"]["new"]) == ("10", "14")
            assert by_key["record"]["new"] is False and by_key["retain_days"]["old"] is None
            assert by_key["zones"]["new"] == {"drive": {"points": "0,0.5 1,0.5 1,1 0,1", "min_area": "0.01"}}
            assert by_key["masks"]["old"] == [] and by_key["masks"]["new"] == ["0,0 0.2,0 0,0.2"]

            # The same values again change nothing and log nothing.
            size = hub.audit.size if hub.audit else 0
            assert (await patch(http, hub, CHANGES))[0] == 200
            assert hub.audit is not None and hub.audit.size == size

            # A threshold set over MQTT (the same store) is kept when the dashboard changes the zones.
            assert hub.settings is not None
            await hub.settings.change("yard", "motion_threshold", 21.5, actor="mqtt", source="mqtt")
            status, answer = await patch(http, hub, {"zones": {}})
            assert status == 200 and answer["settings"]["motion_threshold"] == 21.5
            # The reader thread configures the engine, then reports the threshold: both are waited for.
            await until(
                lambda: watcher.engine.config.zones == {} and watcher.status.threshold == 21.5, "the zones to go"
            )
            assert watcher.engine.config.threshold == 21.5

    async with running(config(data, http_sim)) as hub:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.post(
                f"{hub.url}/api/auth/login", json={"username": "owner", "password": HOUSEHOLD_PASSWORD}
            ) as r:
                assert r.status == 200
            async with http.get(f"{hub.url}/api/cameras/yard/settings") as r:
                after = await r.json()
        expected = {**CHANGES, "zones": {}, "motion_threshold": 21.5}
        assert {k: after["settings"][k] for k in CHANGES} == expected
        pipeline, watcher = hub.cameras["yard"], watcher_of(hub)
        assert pipeline.status()["analysis_fps"] == 2.0
        assert watcher.engine.config.threshold == 21.5 and len(watcher.engine.config.masks) == 1
        assert pipeline.status()["recording"]["enabled"] is False
        assert isinstance(watcher.recorder, CameraRecorder) and watcher.recorder.pre_roll == 3.0
        assert hub.fleet._retention is not None and hub.fleet._retention.limits.days["yard"] == 7.0


BAD = [
    ({"motion_threshold": 0}, "motion_threshold: 0 is out of range"),
    ({"motion_threshold": "12"}, "motion_threshold: expected a number"),
    ({"motion_threshold": True}, "motion_threshold: expected a number"),
    ({"min_area": 1.5}, "min_area: 1.5 is out of range"),
    ({"analysis_fps": 0}, "analysis_fps: 0 is out of range"),
    ({"analysis_fps": 61}, "analysis_fps: 61 is out of range"),
    ({"pre_roll": -1}, "pre_roll: -1 is out of range"),
    ({"post_roll": 4000}, "post_roll: 4000 is out of range"),
    ({"retain_days": 0}, "retain_days: 0 is out of range"),
    ({"record": "no"}, "record: expected on or off"),
    ({"colour": 1}, "'colour' is not a camera setting"),
    ({"zones": [DRIVE]}, "zones: expected an object"),
    ({"zones": {"Drive Way": {"points": DRIVE}}}, "zones: the zone name"),
    ({"zones": {"drive": {"points": DRIVE[:2]}}}, "zones.drive.points: has 2 point(s)"),
    ({"zones": {"drive": {"points": [[0, 0], [1.5, 0], [1, 1]]}}}, "zones.drive.points: point 1 [1.5, 0] is outside"),
    ({"zones": {"drive": {"points": [[0, 0], [1, 1], [1, 0], [0, 1]]}}}, "zones.drive.points: crosses itself"),
    ({"zones": {"drive": {"points": DRIVE, "min_area": 0}}}, "zones.drive.min_area: 0 is out of range"),
    ({"zones": {"drive": {"points": DRIVE, "colour": "red"}}}, "zones.drive: unknown field 'colour'"),
    ({"zones": {"drive": DRIVE}}, "zones.drive: expected"),
    ({"masks": CORNER}, "masks[0]: has 2 point(s)"),
    ({"masks": [[[0, 0], [0.5, 0.5], [1, 1]]]}, "masks[0]: has no area"),
    ({"masks": [CORNER] * 33}, "masks: 33 masks; at most 32"),
    ({"masks": [[[i / 200, (i % 2) / 2] for i in range(101)]]}, "masks[0]: has 101 points; at most 100"),
    # The first wrong key is named, and the good ones beside it are not applied.
    ({"post_roll": 2.0, "masks": "all"}, "masks: expected a list"),
]


async def test_wrong_values_answer_400_naming_the_key_and_change_nothing(
    http_sim: SimHttpServer, tmp_path: Path, household_login: HouseholdLogin
) -> None:
    async with running(config(tmp_path / "data", http_sim)) as hub:
        http, _ = await household_login(hub.url, hub.initial_password)
        async with http:
            await reauth(http, hub)
            assert hub.audit is not None
            size = hub.audit.size
            for body, message in BAD:
                status, answer = await patch(http, hub, body)
                assert status == 400, (body, answer)
                assert answer["error"] == "setting_refused", (body, answer)
                assert answer["message"].startswith(message), (body, answer["message"])
            assert hub.audit.size == size
            async with http.get(f"{hub.url}/api/cameras/yard/settings") as r:
                assert (await r.json())["kept"] == []
            assert not (tmp_path / "data" / "camera-settings.json").exists()
            for body in ([1, 2], "x"):
                status, answer = await patch(http, hub, body)
                assert status == 400 and answer["error"] == "invalid_body", answer
            status, answer = await patch(http, hub, {"post_roll": 2.0}, camera="garage")
            assert status == 404, answer


async def test_members_read_only_their_cameras_and_only_owners_with_a_fresh_password_change(
    http_sim: SimHttpServer, tmp_path: Path, household_login: HouseholdLogin
) -> None:
    async with running(config(tmp_path / "data", http_sim)) as hub:
        owner, _ = await household_login(hub.url, hub.initial_password)
        anonymous = aiohttp.ClientSession()
        member = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        async with owner, anonymous, member:
            body = {"username": "kid", "role": "member", "cameras": ["porch"]}
            async with owner.post(f"{hub.url}/api/accounts", json=body) as r:
                assert r.status == 201, await r.text()
                one_time = (await r.json())["one_time_password"]
            async with member.post(f"{hub.url}/api/auth/login", json={"username": "kid", "password": one_time}) as r:
                assert r.status == 200
            change = {"current_password": one_time, "new_password": "the kid's long password"}
            async with member.post(f"{hub.url}/api/auth/password", json=change) as r:
                assert r.status == 200

            async with anonymous.get(f"{hub.url}/api/cameras/yard/settings") as r:
                assert r.status == 401
            assert (await patch(anonymous, hub, {"post_roll": 2.0}))[0] == 401
            async with member.get(f"{hub.url}/api/cameras/porch/settings") as r:
                assert r.status == 200
            async with member.get(f"{hub.url}/api/cameras/yard/settings") as r:
                assert r.status == 404  # to a member, a camera they may not see does not exist
            async with member.post(f"{hub.url}/api/auth/reauth", json={"password": "the kid's long password"}) as r:
                assert r.status == 200
            status, answer = await patch(member, hub, {"post_roll": 2.0}, camera="porch")
            assert status == 403 and answer["error"] == "forbidden", answer

            # An owner whose password was typed more than 300 s ago is asked for it again.
            real_clock = hub.clock
            assert hub.accounts is not None
            hub.accounts.sessions._clock = lambda: real_clock() + 301
            try:
                status, answer = await patch(owner, hub, {"post_roll": 2.0})
            finally:
                hub.accounts.sessions._clock = real_clock
            assert status == 401 and answer["error"] == "reauth_required", answer
            # Another site's page cannot use the owner's cookie.
            async with owner.patch(
                f"{hub.url}/api/cameras/yard/settings", json={"post_roll": 2.0}, headers={"Origin": "http://evil.test"}
            ) as r:
                assert r.status == 403
            assert await setting_changes(hub) == []
