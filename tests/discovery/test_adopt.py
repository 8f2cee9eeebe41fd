"""Adopting a discovered camera on a running hub: real zeroconf, a real RTSP camera, real clips.

The simulator announces its camera with its own zeroconf instance on
127.0.0.1 (a separate announcer, as a camera on the network would be); the
hub finds it, an owner adopts it over the API, and it records a motion clip
without a restart. Failed adoptions name the error and leave nothing
behind; an adopted camera is still there after a restart, and removing it
keeps its clips.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import stat
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from camhub.app import Hub
from camhub.discovery.adopted import AdoptedCamera, AdoptedStore
from camhub.discovery.model import without_credentials
from camhub.sim.simulator import Simulator

from ..conftest import HOUSEHOLD_PASSWORD as PASSWORD
from ..conftest import TEST_SCENE, free_port
from ..hubs import hub_config, running

pytestmark = [pytest.mark.timeout(300)]

CAMERA_USER, CAMERA_PASSWORD = "admin", "yard-secret-4417"


async def until(condition: Callable[[], Awaitable[Any]], seconds: float = 60.0) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = await condition()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.2)


def running_hub(
    data: Path, cameras: dict[str, Any] | None = None, onvif: bool = False
) -> AbstractAsyncContextManager[Hub]:
    """A hub that discovers cameras on loopback (with `onvif`, by ONVIF probes too), with quick reconnects."""
    return running(
        hub_config(
            data,
            cameras or {},
            reconnect={"initial": 0.2, "cap": 1},
            discovery={"interfaces": ["127.0.0.1"], "onvif": onvif},
        )
    )


@pytest.fixture
async def yard(require_rtsp: None, sim_cache: Path) -> AsyncIterator[Simulator]:
    """A camera with motion in each 10 s loop, behind a password, announced on loopback by the simulator."""
    async with Simulator(
        [("yard", TEST_SCENE)], cache_dir=sim_cache, rtsp_credentials=(CAMERA_USER, CAMERA_PASSWORD)
    ) as sim:
        yield sim


async def get(http: aiohttp.ClientSession, url: str) -> Any:
    async with http.get(url) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def found(http: aiohttp.ClientSession, hub: Hub, name: str) -> dict[str, Any]:
    async def device() -> dict[str, Any] | None:
        return next((d for d in await get(http, f"{hub.url}/api/discovered") if d["name"] == name), None)

    return dict(await until(device, 30))


async def adopt(http: aiohttp.ClientSession, hub: Hub, device: str, body: dict[str, Any]) -> tuple[int, Any]:
    async with http.post(f"{hub.url}/api/auth/reauth", json={"password": PASSWORD}) as r:
        assert r.status == 200, await r.text()
    async with http.post(f"{hub.url}/api/discovered/{device}/adopt", json=body) as r:
        return r.status, await r.json()


def nothing_kept(hub: Hub, data: Path, name: str) -> None:
    assert name not in hub.cameras
    assert not (data / "camera-credentials.json").exists() or name not in json.loads(
        (data / "camera-credentials.json").read_text()
    )
    with contextlib.closing(sqlite3.connect(f"file:{data / 'cameras.db'}?mode=ro", uri=True)) as db:
        rows = [row[0] for row in db.execute("SELECT name FROM adopted")]
    assert name not in rows


async def audit_entries(hub: Hub) -> list[bytes]:
    assert hub.audit is not None
    return [await hub.audit.entry(i) for i in range(hub.audit.size)]


async def log_in(hub: Hub) -> aiohttp.ClientSession:
    """A later start: the owner logs in with the password chosen at the first."""
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with http.post(f"{hub.url}/api/auth/login", json={"username": "owner", "password": PASSWORD}) as r:
        assert r.status == 200, await r.text()
    return http


async def test_a_found_camera_is_adopted_records_a_clip_survives_a_restart_and_is_removed(
    yard: Simulator, tmp_path: Path, household_login: Any, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    async with running_hub(data) as hub:
        http, _ = await household_login(hub.url, hub.initial_password)
        async with http:
            device = await found(http, hub, "yard")
            assert device["state"] == "new" and device["adoptable"]
            assert device["record"].endswith("/yard/main") and device["detect"].endswith("/yard/sub")
            assert device["serial"] == "SIM-yard" and set(device["integrations"]) == {"rtsp", "stream"}

            # Wrong credentials: named, and nothing is left behind.
            status, answer = await adopt(
                http, hub, device["id"], {"name": "yard", "username": CAMERA_USER, "password": "wrong-password"}
            )
            assert (status, answer["error"]) == (422, "auth_failed"), answer
            nothing_kept(hub, data, "yard")
            # A dead port on the same host.
            dead = f"rtsp://127.0.0.1:{free_port()}/yard/main"
            status, answer = await adopt(http, hub, device["id"], {"name": "yard", "record": dead, "detect": dead})
            assert (status, answer["error"]) == (422, "unreachable"), answer
            nothing_kept(hub, data, "yard")

            status, answer = await adopt(
                http, hub, device["id"], {"name": "yard", "username": CAMERA_USER, "password": CAMERA_PASSWORD}
            )
            assert status == 201, answer
            assert answer["camera"] == "yard" and answer["device"]["state"] == "adopted"
            assert "yard" in hub.cameras
            creds = data / "camera-credentials.json"
            assert stat.S_IMODE(creds.stat().st_mode) == 0o600

            async def clip() -> list[dict[str, Any]]:
                return [
                    c for c in (await get(http, f"{hub.url}/api/clips?camera=yard"))["clips"] if c["camera"] == "yard"
                ]

            clips = await until(clip, 120)
            async with http.get(f"{hub.url}/api/clips/{clips[0]['id']}/video") as r:
                assert r.status == 200
                video = tmp_path / "clip.mp4"
                video.write_bytes(await r.read())
            probe = subprocess.run(
                ["ffprobe", "-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0", str(video)],
                capture_output=True,
                text=True,
            )
            assert probe.returncode == 0 and probe.stdout.split() == ["h264"], probe.stderr
            listed = await get(http, f"{hub.url}/api/discovered")
            assert [d["state"] for d in listed if d["id"] == device["id"]] == ["adopted"]
            for body in (await get(http, f"{hub.url}/api/discovered"), await get(http, f"{hub.url}/api/cameras")):
                assert CAMERA_PASSWORD not in json.dumps(body)

    # After a restart the adopted camera is there and runs, and the device shows as adopted.
    async with running_hub(data) as hub:
        assert "yard" in hub.cameras
        http = await log_in(hub)
        async with http:

            async def online() -> bool:
                cams = await get(http, f"{hub.url}/api/cameras")
                return any(c["name"] == "yard" and c["online"] for c in cams)

            await until(online, 60)
            device = await found(http, hub, "yard")
            assert device["state"] == "adopted" and device["camera"] == "yard"
            async with http.post(f"{hub.url}/api/auth/reauth", json={"password": PASSWORD}) as r:
                assert r.status == 200
            async with http.delete(f"{hub.url}/api/cameras/yard") as r:
                assert r.status == 204, await r.text()
            assert "yard" not in hub.cameras
            nothing_kept(hub, data, "yard")
            clips_after = (await get(http, f"{hub.url}/api/clips?camera=yard"))["clips"]
            assert clips_after, "removing a camera keeps its clips"
            device = await found(http, hub, "yard")
            assert device["state"] == "new"
        entries = await audit_entries(hub)
    adopted = [e for e in entries if b'"camera_adopted"' in e]
    removed = [e for e in entries if b'"camera_removed"' in e]
    assert len(adopted) == 1 and len(removed) == 1 and b'"yard"' in adopted[0]
    assert not any(CAMERA_PASSWORD.encode() in e for e in entries)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert CAMERA_PASSWORD not in text
    assert not any(CAMERA_PASSWORD.encode() in f.read_bytes() for f in data.rglob("*.db*") if f.is_file())


async def test_a_camera_found_only_by_onvif_is_adopted_with_the_streams_its_profiles_give(
    require_rtsp: None, sim_cache: Path, tmp_path: Path, household_login: Any
) -> None:
    async with Simulator(
        [("shed", TEST_SCENE)],
        cache_dir=sim_cache,
        announce=False,  # no mDNS: only the ONVIF answer finds it, as with most home cameras
        rtsp_credentials=(CAMERA_USER, CAMERA_PASSWORD),
    ) as sim:
        assert sim.onvif is not None
        data = tmp_path / "data"
        async with running_hub(data, onvif=True) as hub:
            http, _ = await household_login(hub.url, hub.initial_password)
            async with http:
                device = await found(http, hub, "shed")
                assert device["kinds"] == ["onvif"] and device["onvif"] is True
                assert device["streams"] == [] and device["serial"] == "SIM-shed"
                # Without credentials the device cannot say its streams.
                status, answer = await adopt(http, hub, device["id"], {"name": "shed"})
                assert (status, answer["error"]) == (400, "bad_request") and "ONVIF" in answer["message"]
                status, answer = await adopt(
                    http, hub, device["id"], {"name": "shed", "username": CAMERA_USER, "password": "not-it"}
                )
                assert (status, answer["error"]) == (422, "auth_failed"), answer
                nothing_kept(hub, data, "shed")
                status, answer = await adopt(
                    http, hub, device["id"], {"name": "shed", "username": CAMERA_USER, "password": CAMERA_PASSWORD}
                )
                assert status == 201, answer
                main, sub = sim.camera("shed").rtsp_main, sim.camera("shed").rtsp_sub
                assert main is not None and sub is not None
                record = answer["streams"]["record"]
                assert (record["width"], record["height"]) == (TEST_SCENE.width, TEST_SCENE.height)
                assert answer["streams"]["detect"]["width"] < TEST_SCENE.width
                assert hub.discovery is not None
                kept = hub.discovery.adopted["shed"]
                assert (kept.record_url, kept.detect_url) == (without_credentials(main), without_credentials(sub))
                assert "shed" in hub.cameras


async def test_a_config_camera_wins_a_name_clash_with_an_adopted_one_and_owners_are_told(
    tmp_path: Path, household_login: Any, make_video: Callable[..., Path]
) -> None:
    data = tmp_path / "data"
    store = await AdoptedStore.open(data, time.time)
    await store.add(
        AdoptedCamera(
            "porch",
            "mac:02:00:00:00:00:09",
            "abc",
            "rtsp://127.0.0.1:9/adopted",
            "rtsp://127.0.0.1:9/adopted",
            "u",
            "adopted-secret-1",
        )
    )
    await store.close()
    video = make_video(size="320x240", rate=10, seconds=2)
    async with running_hub(data, cameras={"porch": {"inputs": [{"url": str(video)}]}}) as hub:
        assert hub.discovery is not None and "porch" not in hub.discovery.adopted
        sources = [i["source"] for i in hub.cameras["porch"].status()["inputs"]]
        assert sources and all("adopted" not in s for s in sources), sources
        http, _ = await household_login(hub.url, hub.initial_password)
        async with http:
            notices = await get(http, f"{hub.url}/api/notices")
        assert [n["subject"] for n in notices if n["kind"] == "camera_name_clash"] == ["porch"]
        assert "adopted-secret-1" not in json.dumps(notices)
