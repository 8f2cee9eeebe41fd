"""`camhub run` as a user runs it: a real process, stopped by signals."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from ..conftest import LOOPBACK_DISCOVERY, free_port

W, H = 320, 240


@pytest.fixture(scope="module")
def config_file(tmp_path_factory: pytest.TempPathFactory, make_video: Callable[..., Path]) -> Path:
    folder = tmp_path_factory.mktemp("cli")
    clip = make_video(size=f"{W}x{H}", rate=10, seconds=2)
    path = folder / "camhub.yaml"
    path.write_text(
        "data_dir: data\n" + LOOPBACK_DISCOVERY + f"reconnect: {{initial: 0.2, cap: 1}}\n"
        f"cameras:\n"
        f"  yard:\n    inputs: [{{url: {clip}}}]\n"
        f"  gate:\n    inputs: [{{url: 'rtsp://admin:gate-secret-9@127.0.0.1:9/live'}}]\n"
    )
    return path


def start(config: Path, port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "camhub.cli.main", "run", "-c", str(config), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_cameras(port: int, proc: subprocess.Popen[str]) -> list[dict[str, object]]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/cameras", timeout=2) as response:
                cameras = json.load(response)
            if all(c["last_frame_time"] or c["last_error"] for c in cameras):
                return list(cameras)
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError("the hub did not serve /api/cameras in 20 s")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_the_hub_with_exit_0(config_file: Path, sig: signal.Signals) -> None:
    port = free_port()
    proc = start(config_file, port)
    try:
        cameras = {c["name"]: c for c in wait_for_cameras(port, proc)}
        assert cameras["yard"]["online"] and not cameras["gate"]["online"]
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=15)
    finally:
        proc.kill()
    assert proc.returncode == 0, stderr
    assert "hub stopped" in stderr
    assert "connection refused" in stderr  # the dead camera was logged...
    assert "gate-secret-9" not in stderr  # ...without its password
    assert (config_file.parent / "data").is_dir()


def test_bad_config_exits_2_with_a_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("cameras:\n  yard:\n    inputs: [{url: 'rtsp://u:pw-in-url@h/x'}]\n    motoin: {}\n")
    result = subprocess.run(
        [sys.executable, "-m", "camhub.cli.main", "run", "-c", str(path)], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert result.stderr.startswith(f"camhub: {path}: cameras.yard.motoin is not a known key")
    assert "Traceback" not in result.stderr and "pw-in-url" not in result.stderr


def test_port_in_use_is_named(config_file: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "camhub.cli.main", "run", "-c", str(config_file), "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def test_one_time_password_is_printed_once_and_never_logged(config_file: Path, tmp_path: Path) -> None:
    config = tmp_path / "camhub.yaml"
    config.write_text(config_file.read_text().replace("data_dir: data", f"data_dir: {tmp_path / 'data'}"))
    command = [sys.executable, "-m", "camhub.cli.main", "run", "-c", str(config), "--seconds", "1", "--port"]
    first, second = (
        subprocess.run([*command, str(free_port())], capture_output=True, text=True, timeout=60) for _ in range(2)
    )
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    [line] = [line for line in first.stdout.splitlines() if "one-time password" in line]
    match = re.fullmatch(r'owner login: user "owner", one-time password (\S+) \(change it at first login\)', line)
    assert match, line
    password = match.group(1)
    assert "change" in first.stdout and "dashboard" in first.stdout
    assert first.stdout.count(password) == 1
    assert password not in first.stderr  # the log
    assert "created the first owner 'owner'" in first.stderr
    assert "one-time password" not in second.stdout and password not in second.stdout + second.stderr


def test_hub_start_and_stop_are_in_a_verifiable_audit_log(config_file: Path, tmp_path: Path) -> None:
    config = tmp_path / "camhub.yaml"
    config.write_text(config_file.read_text().replace("data_dir: data", f"data_dir: {tmp_path / 'data'}"))
    for _ in range(2):
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "camhub.cli.main",
                "run",
                "-c",
                str(config),
                "--port",
                str(free_port()),
                "--seconds",
                "1",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert run.returncode == 0, run.stderr
    data = str(tmp_path / "data")
    verify = subprocess.run(
        [sys.executable, "-m", "camhub.cli.main", "audit", "verify", "--data", data], capture_output=True, text=True
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    names = []
    for index in range(1, 5):  # entry 0 creates the log; then start, stop, start, stop
        proof = subprocess.run(
            [sys.executable, "-m", "camhub.cli.main", "audit", "proof", "--data", data, str(index)],
            capture_output=True,
            text=True,
        )
        assert proof.returncode == 0, proof.stderr
        names.append(json.loads(json.loads(proof.stdout)["entry"])["event"])
    assert names == ["hub_started", "hub_stopped", "hub_started", "hub_stopped"]
