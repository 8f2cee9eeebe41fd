"""The status API, live view and status page, served by a real hub on loopback.

Footage needs a household login; camera status and health do not.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import av
import cv2
import numpy as np
import pytest

import camhub.http.live
from camhub.app import Hub
from camhub.config import HubConfig, parse_config

W, H = 320, 240
Login = Callable[[str, str | None], Awaitable[tuple[aiohttp.ClientSession, str]]]
FOOTAGE = [
    "/api/cameras/yard/snapshot.jpg",
    "/api/cameras/yard/live.mjpeg",
    "/api/clips",
    "/api/clips/1",
    "/api/clips/1/video",
    "/api/clips/1/snapshot",
    "/api/clips/1/thumbnail",
]
PUBLIC = [
    "/",
    "/static/status.js",
    "/api/health",
    "/api/cameras",
    "/api/cameras/yard",
    "/api/openapi.json",
    "/api/audit/checkpoint",
    "/api/audit/key",
]


@pytest.fixture(scope="module")
def clip(make_video: Callable[..., Path]) -> Path:
    return make_video(size=f"{W}x{H}", rate=15, seconds=4, gop=15)


def yard_config(clip: Path, data: Path) -> HubConfig:
    return parse_config(
        {
            "data_dir": str(data),
            "web": {"host": "127.0.0.1", "port": 0},
            "reconnect": {"initial": 0.2, "cap": 1.0},
            "cameras": {
                "yard": {"inputs": [{"url": str(clip)}], "motion": {"analysis_fps": 5}},
                "dead": {"inputs": [{"url": "rtsp://admin:sekrit-pw@127.0.0.1:9/live"}]},
            },
        }
    )


@asynccontextmanager
async def run_hub(config: HubConfig) -> AsyncIterator[Hub]:
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


@pytest.fixture
async def running_hub(clip: Path, tmp_path: Path) -> AsyncIterator[Hub]:
    async with run_hub(yard_config(clip, tmp_path / "data")) as hub_:
        yield hub_


def anonymous() -> aiohttp.ClientSession:
    # unsafe=True: the default jar ignores cookies from bare IP addresses like 127.0.0.1.
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def status_of(http: aiohttp.ClientSession, url: str, **kwargs: Any) -> tuple[int, str | None]:
    """The status and, for JSON errors, the error key; the body of a stream is not read."""
    async with http.get(url, **kwargs) as response:
        if response.status >= 400 and response.content_type == "application/json":
            return response.status, (await response.json())["error"]
        return response.status, None


def read_parts(body: bytes, boundary: bytes) -> list[bytes]:
    parts = []
    for chunk in body.split(b"--" + boundary)[1:]:
        head, sep, rest = chunk.partition(b"\r\n\r\n")
        if not sep:
            continue
        length = int(
            next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
        )
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


async def test_snapshot_and_live_view_share_one_encoding(
    running_hub: Hub, monkeypatch: pytest.MonkeyPatch, household_login: Login
) -> None:
    encoded = 0
    real = camhub.http.live.encode_jpeg

    def counting(frame: av.VideoFrame, quality: int) -> bytes:
        nonlocal encoded
        encoded += 1
        return real(frame, quality)

    monkeypatch.setattr(camhub.http.live, "encode_jpeg", counting)
    http, _ = await household_login(running_hub.url, running_hub.initial_password)
    async with http:
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
    routes = running_hub.app.router.routes()
    served = {(r.resource.canonical, r.method.lower()) for r in routes if r.resource and r.method != "HEAD"}
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    assert served == documented
    assert {
        ("/api/clips", "get"),
        ("/api/clips/{id}/video", "get"),
        ("/api/audit/checkpoint", "get"),
        ("/api/auth/login", "post"),
        ("/api/auth/tokens/{id}", "delete"),
    } <= served
    schemes = document["components"]["securitySchemes"]
    assert set(schemes) == {"sessionCookie", "bearerToken"}
    for path, item in document["paths"].items():
        for operation in item.values():
            for requirement in operation.get("security", []):
                assert set(requirement) <= set(schemes), path
            if operation.get("security") and not path.startswith("/api/auth/"):
                assert {"401", "403"} <= set(operation["responses"]), f"{path}: document 401 and 403"
    # Every field the status carries is documented.
    schemas = document["components"]["schemas"]
    status = running_hub.cameras["yard"].status()
    assert set(status) == set(schemas["CameraStatus"]["properties"])
    assert set(status["inputs"][0]) == set(schemas["InputStatus"]["properties"])
    for part in ("motion", "recording"):
        assert set(status[part]) == set(schemas["CameraStatus"]["properties"][part]["properties"])
    assert document["openapi"].startswith("3.")


async def test_documented_security_is_what_the_routes_enforce(running_hub: Hub) -> None:
    """Anonymous GETs: exactly the operations with a security requirement answer 401."""
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{running_hub.url}/api/openapi.json") as response:
            paths = (await response.json())["paths"]
        examples = {"{name}": "yard", "{id}": "1", "{file}": "style.css", "{index}": "0"}
        for path, item in paths.items():
            if "get" not in item:
                continue
            url = path
            for param, value in examples.items():
                url = url.replace(param, value)
            status, key = await status_of(http, running_hub.url + url)
            if item["get"].get("security"):
                assert (status, key) == (401, "login_required"), path
            else:
                assert status != 401, path
    secured = {path for path, item in paths.items() if "get" in item and item["get"].get("security")}
    assert secured >= {
        "/api/cameras/{name}/snapshot.jpg",
        "/api/cameras/{name}/live.mjpeg",
        "/api/clips",
        "/api/clips/{id}",
        "/api/clips/{id}/video",
        "/api/clips/{id}/snapshot",
        "/api/clips/{id}/thumbnail",
    }
    assert not secured & {"/", "/static/{file}", "/api/health", "/api/cameras", "/api/cameras/{name}"}


async def test_footage_needs_a_household_login_with_a_changed_password(running_hub: Hub) -> None:
    base, initial = running_hub.url, running_hub.initial_password
    assert initial is not None and len(initial) >= 24
    async with anonymous() as http:
        for path in FOOTAGE:
            assert await status_of(http, base + path) == (401, "login_required"), path
        for path in PUBLIC:
            assert await status_of(http, base + path) == (200, None), path

        async with http.post(f"{base}/api/auth/login", json={"username": "owner", "password": initial}) as response:
            assert response.status == 200
            assert (await response.json())["must_change_password"] is True
        for path in FOOTAGE:
            assert await status_of(http, base + path) == (403, "password_change_required"), path
        for path in PUBLIC:
            assert await status_of(http, base + path) == (200, None), path

        new = "a new passphrase, long enough"
        change = {"current_password": initial, "new_password": new}
        async with http.post(f"{base}/api/auth/password", json=change) as response:
            assert response.status == 200
        assert await status_of(http, f"{base}/api/cameras/yard/snapshot.jpg") == (200, None)
        assert await status_of(http, f"{base}/api/cameras/yard/live.mjpeg") == (200, None)
        assert await status_of(http, f"{base}/api/clips") == (200, None)
        assert await status_of(http, f"{base}/api/clips/1") == (404, "not_found")  # past auth: no such clip

        # Scripts use an API token instead of the cookie.
        async with http.post(f"{base}/api/auth/tokens", json={"name": "script"}) as response:
            token = (await response.json())["token"]

        async with http.post(f"{base}/api/auth/logout") as response:
            assert response.status == 204
        for path in FOOTAGE:
            assert await status_of(http, base + path) == (401, "login_required"), path
        bearer = {"Authorization": f"Bearer {token}"}
        assert await status_of(http, f"{base}/api/cameras/yard/snapshot.jpg", headers=bearer) == (200, None)
        # The one-time password is spent.
        async with http.post(f"{base}/api/auth/login", json={"username": "owner", "password": initial}) as response:
            assert response.status == 401


async def test_one_time_password_only_on_the_first_start(clip: Path, tmp_path: Path, household_login: Login) -> None:
    config = yard_config(clip, tmp_path / "data")
    async with run_hub(config) as first:
        assert first.initial_password is not None
        http, password = await household_login(first.url, first.initial_password)
        await http.close()
    async with run_hub(config) as second:
        assert second.initial_password is None
        async with anonymous() as http:
            credentials = {"username": "owner", "password": password}
            async with http.post(f"{second.url}/api/auth/login", json=credentials) as response:
                assert response.status == 200
                assert (await response.json())["must_change_password"] is False
            assert await status_of(http, f"{second.url}/api/cameras/yard/snapshot.jpg") == (200, None)


async def test_passwords_never_reach_the_log(
    clip: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, household_login: Login
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "not-the-password-at-all-123"
    async with run_hub(yard_config(clip, tmp_path / "data")) as hub_:
        initial = hub_.initial_password
        assert initial is not None
        async with anonymous() as http:
            async with http.post(f"{hub_.url}/api/auth/login", json={"username": "owner", "password": wrong}) as r:
                assert r.status == 401
        http, password = await household_login(hub_.url, initial)
        async with http:
            async with http.post(f"{hub_.url}/api/auth/reauth", json={"password": password}) as response:
                assert response.status == 200
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert "created the first owner 'owner'" in logged and "login failed: user='owner'" in logged
    for secret in (initial, password, wrong):
        assert secret not in logged


async def test_status_page_in_chromium(running_hub: Hub) -> None:
    """Status shows at once; the live view only after logging in and replacing the one-time password."""
    playwright_api = pytest.importorskip("playwright.async_api")
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    async with playwright_api.async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
            ],
        )
        try:
            page = await browser.new_page()
            await page.goto(running_hub.url)
            yard = page.locator("article[data-camera=yard]")
            await yard.locator(".state.online").wait_for(timeout=10000)
            await page.locator("article[data-camera=dead] .state.offline").wait_for(timeout=10000)
            assert "connection refused" in await page.locator("article[data-camera=dead] .error").inner_text()
            assert await yard.locator("img.live").get_attribute("src") is None  # no footage before login

            login = page.locator("form#login")
            await login.locator("input[name=username]").fill("owner")
            await login.locator("input[name=password]").fill("a wrong password")
            await login.locator("button[type=submit]").click()
            await page.get_by_text("wrong user name or password").wait_for(timeout=10000)
            await login.locator("input[name=username]").fill("owner")
            await login.locator("input[name=password]").fill(running_hub.initial_password or "")
            await login.locator("button[type=submit]").click()

            change = page.locator("form#change-password")
            await change.wait_for(state="visible", timeout=10000)
            assert await login.is_hidden()
            assert await yard.locator("img.live").get_attribute("src") is None  # not until the password changes
            await change.locator("input[name=current_password]").fill(running_hub.initial_password or "")
            await change.locator("input[name=new_password]").fill("a household passphrase")
            await change.locator("button[type=submit]").click()
            await change.wait_for(state="hidden", timeout=10000)
            assert "Logged in as owner" in await page.locator("#account").inner_text()
            # A function, not an expression: Playwright polls an expression with eval() in the page, which
            # the hub's Content-Security-Policy refuses, so it failed whenever the image was not there at once.
            await page.wait_for_function(
                "() => document.querySelector('article[data-camera=yard] img.live').naturalWidth > 0", timeout=10000
            )
            width = await yard.locator("img.live").evaluate("img => img.naturalWidth")
            assert width == W
            assert "1 of 2 cameras online" in await page.locator("#summary").inner_text()

            await page.locator("#logout").click()
            await login.wait_for(state="visible", timeout=10000)
            assert await yard.locator("img.live").get_attribute("src") is None
        finally:
            await browser.close()
