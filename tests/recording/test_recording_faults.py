"""Recording when things go wrong: the camera vanishes mid-clip, the disk fills up.

Real RTSP server, real hub, and for the full disk a real size-limited tmpfs
mounted as the data folder (needs root, as CI has).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from camhub.app import Hub
from camhub.config import parse_config
from camhub.recording.finisher import ClipSaved
from camhub.sim.render import render_scene
from camhub.sim.rtsp import RtspServer
from camhub.store.index import ClipRecord

from ..conftest import BUSY
from ..hubs import until


class Running:
    def __init__(self, hub: Hub, task: asyncio.Task[None], stop: asyncio.Event) -> None:
        self.hub, self.task, self.stop = hub, task, stop
        self.saved: list[ClipRecord] = []

    def status(self) -> dict[str, Any]:
        return self.hub.cameras["busy"].status()


async def start_hub(data: Path, server: RtspServer, **extra: Any) -> Running:
    config = parse_config(
        {
            "data_dir": str(data),
            "web": {"port": 0},
            "reconnect": {"initial": 0.2, "cap": 1.0},
            "cameras": {
                "busy": {
                    "inputs": [
                        {"url": server.url("busy", "main"), "roles": ["record"], "timeout": 3},
                        {"url": server.url("busy", "sub"), "roles": ["detect"], "timeout": 3},
                    ],
                    "motion": {"post_roll": 1, "max_event_length": 4, "start_frames": 1},
                    "record": {"pre_roll": 1},
                }
            },
            **extra,
        }
    )
    hub = Hub(config)
    stop = asyncio.Event()
    task = asyncio.create_task(hub.run(stop))
    await until(lambda: hub.ready.is_set() or task.done(), 30, "the hub to start")
    if task.done():
        task.result()
    running = Running(hub, task, stop)
    assert hub.bus is not None
    sub = hub.bus.subscribe(ClipSaved)

    async def collect() -> None:
        async for event in sub:
            running.saved.append(event.clip)

    asyncio.get_running_loop().create_task(collect())
    return running


@pytest.fixture
async def busy_server(require_rtsp: None, sim_cache: Path, rtsp_server_factory: Any) -> AsyncIterator[RtspServer]:
    rendering = await asyncio.to_thread(render_scene, BUSY, sim_cache)
    server = RtspServer({"busy": rendering})
    await server.start()
    try:
        yield server
    finally:
        if server.running:
            await server.stop()


def playable(path: Path) -> bool:
    result = subprocess.run(["ffprobe", "-v", "error", "-show_streams", str(path)], capture_output=True, text=True)
    ok = result.returncode == 0 and "codec_name=h264" in result.stdout and not result.stderr.strip()
    if not ok:
        print(path, result.returncode, result.stderr[-500:])
    return ok


async def test_camera_gone_mid_clip_then_back(busy_server: RtspServer, tmp_path: Path) -> None:
    data = tmp_path / "data"
    hub = await start_hub(data, busy_server)
    try:
        await until(lambda: hub.status()["recording"]["recording"], 30, "a clip to start")
        await asyncio.sleep(1.0)
        saved_before = len(hub.saved)
        await busy_server.stop()  # the camera goes away while a clip is open
        await until(lambda: len(hub.saved) > saved_before, 20, "the open clip to be finalized")
        gone_clip = hub.saved[-1]
        assert playable(data / gone_clip.path)
        assert not hub.status()["recording"]["recording"]
        await busy_server.start()  # same port
        back = time.time()
        await until(lambda: any(c.start_time > back - 2 for c in hub.saved), 40, "a clip after the camera returned")
        await until(lambda: hub.status()["online"], 20, "both inputs back online")
    finally:
        hub.stop.set()
        await asyncio.wait_for(hub.task, 30)
    for clip in hub.saved:
        assert playable(data / clip.path), clip
    check = subprocess.run(
        [sys.executable, "-m", "camhub.cli.main", "check", "--data", str(data)], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout


@pytest.fixture
def small_disk(tmp_path: Path) -> Any:
    if os.geteuid() != 0:
        pytest.skip("mounting a size-limited tmpfs needs root (CI runs as root)")
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(path: Path, leave: int) -> None:
    """Write a filler file until only `leave` bytes remain free."""
    free = os.statvfs(path.parent).f_bavail * os.statvfs(path.parent).f_frsize
    with open(path, "wb") as f:
        f.write(b"\0" * max(0, free - leave))


async def test_full_disk_pauses_recording_and_recovers(busy_server: RtspServer, small_disk: Path) -> None:
    data = small_disk / "data"
    retention = {"min_free_bytes": 400_000, "interval": 1.0}
    hub = await start_hub(data, busy_server, retention=retention)
    try:
        await until(lambda: len(hub.saved) >= 3, 60, "three clips on the small disk")
        filler = small_disk / "filler"
        fill(filler, leave=20_000)  # someone else fills the disk
        await until(lambda: hub.status()["recording"]["paused"], 40, "recording to pause on a full disk")
        assert "disk full" in hub.status()["recording"]["error"]
        # Retention deletes the oldest clips to make room; the filler is not ours to delete, so it stays paused.
        await until(lambda: hub.hub.cameras["busy"].status()["recording"]["paused"], 5, "the pause to hold")
        assert hub.status()["online"], "the camera itself keeps streaming"
        filler.unlink()  # space returns
        returned = time.time()
        await until(lambda: not hub.status()["recording"]["paused"], 30, "recording to resume")
        await until(lambda: any(c.start_time > returned - 3 for c in hub.saved), 40, "a clip after space returned")
    finally:
        hub.stop.set()
        await asyncio.wait_for(hub.task, 30)
    check = subprocess.run(
        [sys.executable, "-m", "camhub.cli.main", "check", "--data", str(data)], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout
    assert not list(data.glob("clips/*/*/*.partial"))
