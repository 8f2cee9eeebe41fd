"""`camhub demo` as a user starts it: simulated cameras, the hub, the page, then a clean exit.

The demo prints the owner's one-time password; the test logs in with it,
as a person would, before it looks at the live view.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from zeroconf import ServiceStateChange
from zeroconf.asyncio import AsyncServiceBrowser, AsyncZeroconf

from .conftest import free_port

CONFIGURED = ("driveway", "porch", "garden")

OWNER_LOGIN = re.compile(
    r'^camhub demo: owner login: user "owner", one-time password (\S+) \(change it at first login\)$'
)


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as response:
        return bytes(response.read())


def post(url: str, body: dict[str, str], cookie: str = "") -> tuple[int, str]:
    """POST JSON; the status and the session cookie the answer set (or the one sent)."""
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    if cookie:
        request.add_header("Cookie", cookie)
    with urllib.request.urlopen(request, timeout=10) as response:
        morsel = response.headers.get("Set-Cookie", "")
        return response.status, morsel.split(";")[0] if morsel else cookie


def first_live_jpeg(url: str, cookie: str) -> bytes:
    request = urllib.request.Request(url, headers={"Cookie": cookie})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["Content-Type"].startswith("multipart/x-mixed-replace")
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            head += response.read(1)
        length = int(
            next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
        )
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


def start_demo(port: int, data: Path, seconds: float) -> tuple[subprocess.Popen[str], list[str], threading.Thread]:
    """Start `camhub demo`; its output lines (stdout and stderr) collect in the list as they come."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "camhub.cli.main",
            "demo",
            "--seconds",
            str(seconds),
            "--port",
            str(port),
            "--data",
            str(data),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    stdout = proc.stdout
    assert stdout is not None

    def read() -> None:
        with stdout:
            lines.extend(iter(stdout.readline, ""))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return proc, lines, reader


def get_json(url: str, cookie: str) -> Any:
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Cookie": cookie}), timeout=10) as response:
        return json.loads(response.read())


def discovered_as_expected(base: str, cookie: str, deadline: float) -> dict[str, dict[str, Any]]:
    """/api/discovered by name, once it lists side-gate waiting and the configured cameras as adopted."""
    by_name: dict[str, dict[str, Any]] = {}
    while time.monotonic() < deadline:
        by_name = {d["name"]: d for d in get_json(f"{base}/api/discovered", cookie)}
        if {"side-gate", *CONFIGURED} <= by_name.keys() and all(by_name[n]["camera"] == n for n in CONFIGURED):
            break
        time.sleep(0.3)
    return by_name


def start_discover(config: Path) -> subprocess.Popen[str]:
    """`camhub discover` as a person runs it beside the demo, with a config naming the demo's cameras."""
    scan = ["discover", "-c", str(config), "--interface", "127.0.0.1", "--seconds", "8", "--json"]
    return subprocess.Popen(
        [sys.executable, "-m", "camhub.cli.main", *scan],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def owner_passwords(lines: list[str]) -> list[str]:
    return [m.group(1) for line in list(lines) if (m := OWNER_LOGIN.match(line.rstrip("\n")))]


def test_demo_serves_page_and_live_view_then_exits_0(tmp_path: Path) -> None:
    port = free_port()
    proc, lines, reader = start_demo(port, tmp_path, 30)
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
        live = f"{base}/api/cameras/driveway/live.mjpeg"
        try:
            get(live)
            raise AssertionError("the live view answered without a login")
        except urllib.error.HTTPError as exc:
            assert exc.code == 401
        while not owner_passwords(lines) and time.monotonic() < deadline:
            time.sleep(0.1)
        [initial] = owner_passwords(lines)
        _, cookie = post(f"{base}/api/auth/login", {"username": "owner", "password": initial})
        post(f"{base}/api/auth/password", {"current_password": initial, "new_password": "a demo passphrase"}, cookie)

        # Discovery: the announced but unconfigured side-gate waits for adoption; the configured ones are known.
        devices = discovered_as_expected(base, cookie, time.monotonic() + 30)
        gate = devices.get("side-gate")
        assert gate and gate["state"] == "new" and gate["adoptable"] and gate["camera"] is None, gate
        for name in CONFIGURED:
            known = devices.get(name)
            assert known and known["state"] == "adopted" and known["configured"] and known["camera"] == name, known
        # The same cameras in a config file of the same data folder: `camhub discover -c` knows them too.
        config = tmp_path / "demo.yaml"
        inputs = {n: [devices[n]["record"], devices[n]["detect"]] for n in CONFIGURED}
        config.write_text(
            f"data_dir: {tmp_path}\n"
            "discovery: {interfaces: [127.0.0.1]}\n"
            "cameras:\n"
            + "".join(
                f"  {n}:\n    inputs:\n      - {{url: '{record}', roles: [record]}}\n"
                f"      - {{url: '{detect}', roles: [detect]}}\n"
                for n, (record, detect) in inputs.items()
            )
        )
        discover = start_discover(config)

        jpeg = first_live_jpeg(live, cookie)
        assert jpeg.startswith(b"\xff\xd8") and jpeg.endswith(b"\xff\xd9")
        names = asyncio.run(browse("_camhub-sim._tcp.local.", 3.0))
        assert {"driveway._camhub-sim._tcp.local.", "porch._camhub-sim._tcp.local."} <= names
        scanned_out, scan_errors = discover.communicate(timeout=60)
        assert discover.returncode == 0, scan_errors
        scanned = {d["name"]: d for d in map(json.loads, scanned_out.splitlines())}
        assert scanned["side-gate"]["adoptable"] and scanned["side-gate"]["state"] == "new", scanned["side-gate"]
        for name in CONFIGURED:
            assert (scanned[name]["camera"], scanned[name]["configured"]) == (name, True), scanned[name]
        proc.wait(timeout=60)
        reader.join(10)
    finally:
        proc.kill()
    output = "".join(lines)
    assert proc.returncode == 0, output
    assert "camhub demo: 3 of 3 cameras online" in output
    assert "camhub demo: stopped" in output
    assert "Traceback" not in output
    # Printed once, on stdout, never in a log line (logs carry a level name).
    assert [line for line in lines if initial in line] == [
        line for line in lines if OWNER_LOGIN.match(line.rstrip("\n"))
    ]

    # A second start with the same data folder has an owner already: no password is printed.
    proc, lines, reader = start_demo(free_port(), tmp_path, 3)
    try:
        proc.wait(timeout=60)
        reader.join(10)
    finally:
        proc.kill()
    assert proc.returncode == 0, "".join(lines)
    assert owner_passwords(lines) == [] and "one-time password" not in "".join(lines)


def test_sim_serves_cameras_until_its_time_is_up(tmp_path: Path) -> None:
    port, rtsp_port = free_port(), free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "camhub.cli.main",
            "sim",
            "--seconds",
            "8",
            "--scene",
            "still",
            "--port",
            str(port),
            "--rtsp-port",
            str(rtsp_port),
            "--cache",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
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
        [sys.executable, "-m", "camhub.cli.main", "sim", "--scene", "volcano", "--cache", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "unknown scene 'volcano'" in result.stderr and "driveway" in result.stderr
