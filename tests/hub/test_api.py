"""The status API, live view and status page, served by a real hub on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import cv2
import numpy as np
import pytest

import hub.live
from hub.app import Hub
from hub.config import parse_config

W, H = 320, 240


@pytest.fixture(scope="module")
def clip(make_video: Callable[..., Path]) -> Path:
    return make_video(size=f"{W}x{H}", rate=15, seconds=4, gop=15)


@pytest.fixture
async def running_hub(clip: Path, tmp_path: Path) -> AsyncIterator[Hub]:
    config = parse_config(
        {
            "data_dir": str(tmp_path / "data"),
            "web": {"host": "127.0.0.1", "port": 0},
            "reconnect": {"initial": 0.2, "cap": 1.0},
            "cameras": {
                "yard": {"inputs": [{"url": str(clip)}], "motion": {"analysis_fps": 5}},
                "dead": {"inputs": [{"url": "rtsp://admin:sekrit-pw@127.0.0.1:9/live"}]},
            },
        }
    )
    hub_ = Hub(config)
    stop = asyncio.Event()
    task = asyncio.create_task(hub_.run(stop))
    await asyncio.wait_for(hub_.ready.wait(), 10)
    try:
        for _ in range(100):  # until the file camera has a picture
            if hub_.cameras["yard"].latest_frame is not None:
                break
            await asyncio.sleep(0.1)
        yield hub_
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)


def read_parts(body: bytes, boundary: bytes) -> list[bytes]:
    parts = []
    for chunk in body.split(b"--" + boundary)[1:]:
        head, sep, rest = chunk.partition(b"\r\n\r\n")
        if not sep:
            continue
        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
        if len(rest) >= length:
            parts.append(rest[:length])
    return parts


async def test_cameras_status_json(running_hub: Hub) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(50):
            async with http.get(f"{running_hub.url}/api/cameras") as response:
                assert response.status == 200
                cameras = {c["name"]: c for c in await response.json()}
            if cameras["dead"]["last_error"] and cameras["yard"]["fps_analysed"] > 0:
                break
            await asyncio.sleep(0.2)
        yard, dead = cameras["yard"], cameras["dead"]
        assert yard["online"] and yard["state"] == "online"
        assert yard["inputs"][0]["codec"] == "h264" and yard["inputs"][0]["width"] == W
        assert 0 < yard["fps_analysed"] <= 6.5
        assert yard["last_frame_time"] is not None
        assert not dead["online"] and dead["state"] == "offline"
        assert "connection refused" in dead["last_error"]
        assert "sekrit-pw" not in await (await http.get(f"{running_hub.url}/api/cameras")).text()

        async with http.get(f"{running_hub.url}/api/cameras/nope") as response:
            assert response.status == 404
            body = await response.json()
            assert body["error"] == "not_found" and "'nope'" in body["message"]


async def test_snapshot_and_live_view_share_one_encoding(running_hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    encoded = 0
    real = hub.live.encode_jpeg

    def counting(frame: hub.live.Frame) -> bytes:
        nonlocal encoded
        encoded += 1
        return real(frame)

    monkeypatch.setattr(hub.live, "encode_jpeg", counting)
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{running_hub.url}/api/cameras/yard/snapshot.jpg") as response:
            assert response.status == 200 and response.content_type == "image/jpeg"
            image = cv2.imdecode(np.frombuffer(await response.read(), np.uint8), cv2.IMREAD_COLOR)
            assert image.shape == (H, W, 3)

        async def view() -> list[bytes]:
            async with http.get(f"{running_hub.url}/api/cameras/yard/live.mjpeg") as response:
                assert response.content_type == "multipart/x-mixed-replace"
                boundary = response.headers["Content-Type"].split("boundary=")[1].encode()
                body = b""
                while len(read_parts(body, boundary)) < 5:
                    body += await asyncio.wait_for(response.content.read(65536), 5)
                return read_parts(body, boundary)

        before = running_hub.cameras["yard"].status()["inputs"][0]["frames_analysed"]
        views = await asyncio.gather(*(view() for _ in range(4)))
        frames = running_hub.cameras["yard"].status()["inputs"][0]["frames_analysed"] - before
    for parts in views:
        decoded = cv2.imdecode(np.frombuffer(parts[-1], np.uint8), cv2.IMREAD_COLOR)
        assert decoded.shape == (H, W, 3)
    # Four viewers of 5 frames each: the frames were encoded once each, not once per viewer.
    assert encoded <= frames + 2 < 4 * 5


async def test_openapi_documents_every_route(running_hub: Hub) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{running_hub.url}/api/openapi.json") as response:
            document = await response.json()
        async with http.get(f"{running_hub.url}/api/health") as response:
            assert (await response.json())["status"] == "ok"
    assert running_hub.app is not None
    served = {r.resource.canonical for r in running_hub.app.router.routes() if r.method in ("GET", "POST")}
    assert served == set(document["paths"])
    assert {"/api/clips", "/api/clips/{id}/video", "/api/audit/checkpoint"} <= served
    # Every field the status carries is documented.
    schemas = document["components"]["schemas"]
    status = running_hub.cameras["yard"].status()
    assert set(status) == set(schemas["CameraStatus"]["properties"])
    assert set(status["inputs"][0]) == set(schemas["InputStatus"]["properties"])
    for part in ("motion", "recording"):
        assert set(status[part]) == set(schemas["CameraStatus"]["properties"][part]["properties"])
    assert document["openapi"].startswith("3.")


async def test_status_page_in_chromium(running_hub: Hub) -> None:
    playwright_api = pytest.importorskip("playwright.async_api")
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    async with playwright_api.async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic"],
        )  # fmt: skip
        try:
            page = await browser.new_page()
            await page.goto(running_hub.url)
            yard = page.locator("article[data-camera=yard]")
            await yard.locator(".state.online").wait_for(timeout=10000)
            await page.locator("article[data-camera=dead] .state.offline").wait_for(timeout=10000)
            assert "connection refused" in await page.locator("article[data-camera=dead] .error").inner_text()
            await page.wait_for_function(
                "document.querySelector('article[data-camera=yard] img.live').naturalWidth > 0", timeout=10000
            )
            width = await yard.locator("img.live").evaluate("img => img.naturalWidth")
            assert width == W
            assert "1 of 2 cameras online" in await page.locator("#summary").inner_text()
        finally:
            await browser.close()
