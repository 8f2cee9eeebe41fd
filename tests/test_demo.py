"""`camhub demo` as a user starts it: simulated cameras, the hub, the page, then a clean exit."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from zeroconf import ServiceStateChange
from zeroconf.asyncio import AsyncServiceBrowser, AsyncZeroconf


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as response:
        return bytes(response.read())


def first_live_jpeg(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.headers["Content-Type"].startswith("multipart/x-mixed-replace")
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            head += response.read(1)
        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
        return bytes(response.read(length))


async def browse(service: str, seconds: float) -> set[str]:
    found: set[str] = set()

    def on_change(zeroconf: object, service_type: str, name: str, state_change: ServiceStateChange) -> None:
        if state_change is ServiceStateChange.Added:
            found.add(name)

    zc = AsyncZeroconf(interfaces=["127.0.0.1"])
    browser = AsyncServiceBrowser(zc.zeroconf, [service], handlers=[on_change])
    await asyncio.sleep(seconds)
    await browser.async_cancel()
    await zc.async_close()
    return found


def test_demo_serves_page_and_live_view_then_exits_0(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "demo", "--seconds", "20", "--port", str(port), "--data", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120  # the first run renders the scenes
        cameras: list[dict[str, object]] = []
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                cameras = json.loads(get(f"{base}/api/cameras"))
                if cameras and all(c["online"] for c in cameras):
                    break
            except OSError:
                pass
            time.sleep(0.3)
        assert cameras and all(c["online"] for c in cameras), cameras
        assert {c["name"] for c in cameras} == {"driveway", "porch", "garden"}
        page = get(base).decode()
        assert "<title>camhub</title>" in page
        jpeg = first_live_jpeg(f"{base}/api/cameras/driveway/live.mjpeg")
        assert jpeg.startswith(b"\xff\xd8") and jpeg.endswith(b"\xff\xd9")
        names = asyncio.run(browse("_camhub-sim._tcp.local.", 3.0))
        assert {"driveway._camhub-sim._tcp.local.", "porch._camhub-sim._tcp.local."} <= names
        output, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, output
    assert "camhub demo: 3 of 3 cameras online" in output
    assert "camhub demo: stopped" in output
    assert "Traceback" not in output


def test_sim_serves_cameras_until_its_time_is_up(tmp_path: Path) -> None:
    port, rtsp_port = free_port(), free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "sim", "--seconds", "8", "--scene", "still", "--port", str(port),
         "--rtsp-port", str(rtsp_port), "--cache", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        jpeg = b""
        while time.monotonic() < deadline and proc.poll() is None and not jpeg:
            try:
                jpeg = get(f"http://127.0.0.1:{port}/still/snapshot.jpg")
            except OSError:
                time.sleep(0.3)
        assert jpeg.startswith(b"\xff\xd8")
        output, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, output
    assert f"http://127.0.0.1:{port}/still/mjpeg" in output
    assert f"rtsp://127.0.0.1:{rtsp_port}/still/main" in output


def test_sim_rejects_an_unknown_scene(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "hub.cli", "sim", "--scene", "volcano", "--cache", str(tmp_path)],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 2
    assert "unknown scene 'volcano'" in result.stderr and "driveway" in result.stderr
