"""`camhub demo` and MQTT: its own Mosquitto where Debian's is installed, the hub online on it, gone after.

The demo prints one line with the broker's address and a `mosquitto_sub`
command carrying the demo's password; the test subscribes with exactly those
credentials, as a person following that line would, and waits for the hub's
retained `camhub/status` = `online`.
"""

from __future__ import annotations

import asyncio
import re
import shlex
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from camhub.cli.demo import demo_broker
from camhub.integrations.mqtt.topics import ONLINE

from ..conftest import free_port
from ..mqtt_broker import Broker, Subscriber, require_mosquitto

BROKER_LINE = re.compile(
    r"^camhub demo: MQTT broker \(Mosquitto\) on 127\.0\.0\.1:(?P<port>\d+), user camhub; "
    r"watch it: (?P<watch>mosquitto_sub .*)$"
)


def start_demo(data: Path, seconds: float) -> tuple[subprocess.Popen[str], list[str], threading.Thread]:
    """One camera, to keep the rendering short; output lines collect in the list as they come."""
    args = ["demo", "--seconds", str(seconds), "--port", str(free_port()), "--data", str(data), "--cameras", "1"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "camhub.cli.main", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
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


async def broker_line(proc: subprocess.Popen[str], lines: list[str], patience: float = 120) -> re.Match[str]:
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline and proc.poll() is None:
        found = next((m for line in list(lines) if (m := BROKER_LINE.match(line.rstrip("\n")))), None)
        if found:
            return found
        await asyncio.sleep(0.1)  # the next look at the demo's output
    raise AssertionError("the demo printed no broker line:\n" + "".join(lines))


def stop(proc: subprocess.Popen[str]) -> None:
    """SIGTERM first, so that a demo a failed test leaves running stops its broker too; then SIGKILL."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def exited(proc: subprocess.Popen[str]) -> None:
    while proc.poll() is None:
        await asyncio.sleep(0.2)  # the next look at the process


async def test_the_demo_runs_a_broker_the_hub_is_online_on_and_stops_it(tmp_path: Path) -> None:
    require_mosquitto()
    data = tmp_path / "demo"
    proc, lines, reader = start_demo(data, seconds=30)
    try:
        found = await broker_line(proc, lines)
        watch = shlex.split(found["watch"])
        port, password = int(found["port"]), watch[watch.index("-P") + 1]
        assert watch[watch.index("-p") + 1] == str(port) and watch[watch.index("-u") + 1] == "camhub"
        # The demo's broker, seen through a Broker that only reads its files: this test never starts it.
        broker = Broker(data.resolve() / "mosquitto", port=port, password=password)
        async with Subscriber(broker, "camhub/#") as sub:
            # The hub starts once its camera is rendered, so the wait is long; a demo that dies ends it.
            online = asyncio.create_task(
                sub.wait_for(
                    lambda m: m.topic == "camhub/status" and m.payload == ONLINE.encode(),
                    what="camhub/status online from the demo's hub",
                    timeout=240,
                )
            )
            died = asyncio.create_task(exited(proc))
            await asyncio.wait({online, died}, return_when=asyncio.FIRST_COMPLETED)
            died.cancel()
            if not online.done():
                online.cancel()
                raise AssertionError("the demo exited before its hub said online:\n" + "".join(lines))
            try:
                status = online.result()
            except AssertionError as missing:
                raise AssertionError(f"{missing}\nthe demo printed:\n{''.join(lines)}") from None
        assert status.retain, status
        await asyncio.to_thread(proc.wait, 120)
        reader.join(10)
    finally:
        stop(proc)
    output = "".join(lines)
    assert proc.returncode == 0, output
    assert "camhub demo: stopped" in output and "Traceback" not in output
    # Stopped with the demo: nothing listens on its port any more.
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    # The local demo password is printed on that one line, and never in a log line.
    assert [line for line in lines if password in line] == [found.string + "\n"]


async def test_without_mosquitto_the_demo_says_how_to_add_one(capsys: pytest.CaptureFixture[str]) -> None:
    async with demo_broker(Path("unused"), binary=None) as broker:
        assert broker is None
    said = capsys.readouterr().out.splitlines()
    assert len(said) == 1 and "apt-get install mosquitto" in said[0] and "running without MQTT" in said[0], said


async def test_a_broker_that_cannot_start_leaves_the_demo_without_mqtt(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    not_mosquitto = tmp_path / "mosquitto"
    not_mosquitto.write_text("#!/bin/sh\necho 'mosquitto version 1.6.9'\n")
    not_mosquitto.chmod(0o755)
    async with demo_broker(tmp_path / "data", binary=not_mosquitto) as broker:
        assert broker is None
    said = capsys.readouterr().out.splitlines()
    assert len(said) == 1 and "is mosquitto 1.6.9; camhub needs 2.x" in said[0], said
