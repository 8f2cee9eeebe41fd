"""Detect inputs read and analysed in detect processes (`detect_processes`), with a real hub.

A real RTSP server (GStreamer, conftest's `busy_camera`) serves a main and a
sub-stream with an object always crossing; the hub runs with one detect process. Motion found in that
process must reach the hub's recorder (a clip with its snapshot), the bus,
the camera's status and the live view, and a detect process killed
mid-run must come back without recording stopping.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from camhub.app import Hub
from camhub.bus import Bus
from camhub.capture.remote_detect import RemoteInput
from camhub.config import parse_config
from camhub.errors import HubError
from camhub.motion.detector import MotionEnded, MotionStarted
from camhub.recording.finisher import ClipSaved
from camhub.registry import Registry
from camhub.sim.rtsp import RtspServer

from ..hubs import hub_config, running, until


class Seen:
    """Everything the hub's bus carried of motion and clips."""

    def __init__(self, bus: Bus) -> None:
        self.events: list[object] = []
        self._sub = bus.subscribe(MotionStarted, MotionEnded, ClipSaved)
        self.task = asyncio.get_running_loop().create_task(self._collect())

    async def _collect(self) -> None:
        async for event in self._sub:
            self.events.append(event)

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


def config(server: RtspServer, data: Path, processes: int = 1, batch: float = 0.0) -> dict[str, Any]:
    """A hub recording the busy camera (conftest's `busy_camera`), its detect input in `processes` processes.

    With a `batch`, the input is read in the process's shared turn (camhub.capture.shared_pace)."""
    camera = {
        "inputs": [
            {"url": server.url("busy", "main"), "roles": ["record"], "timeout": 3},
            {"url": server.url("busy", "sub"), "roles": ["detect"], "timeout": 3},
        ],
        "motion": {"post_roll": 1, "max_event_length": 4, "start_frames": 1, "batch": batch},
        "record": {"pre_roll": 1},
    }
    return hub_config(data, {"busy": camera}, reconnect={"initial": 0.2, "cap": 1.0}, detect_processes=processes)


@pytest.fixture(params=[0.0, 1.0], ids=["frame-by-frame", "batched"])
async def hub(busy_camera: RtspServer, tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Hub]:
    async with running(config(busy_camera, tmp_path / "data", batch=request.param)) as hub:
        yield hub


def detect_input(hub: Hub) -> dict[str, Any]:
    inputs: list[dict[str, Any]] = hub.cameras["busy"].status()["inputs"]
    return next(i for i in inputs if i["roles"] == ["detect"])


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers signal 0; it is gone for our purpose.
    state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return state != "Z"


async def test_motion_found_in_a_detect_process_records_a_clip_and_reaches_the_bus(hub: Hub) -> None:
    assert hub.bus is not None and hub.detect is not None
    seen = Seen(hub.bus)
    camera = hub.cameras["busy"]
    assert isinstance(camera._detect, RemoteInput), "the detect input runs in the detect process"
    [pid] = hub.detect.pids()
    assert pid != os.getpid()
    # No thread of the hub's own reads the detect input.
    assert not [t for t in threading.enumerate() if t.name == "camera:busy:detect"]

    await until(lambda: seen.of(ClipSaved), 60, "a clip driven by motion found in the detect process")
    clip = seen.of(ClipSaved)[0].clip
    data = hub.config.data_dir
    assert clip.snapshot_path is not None, "the event's peak frame crossed the pipe for the snapshot"
    assert (data / clip.path).exists()
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", str(data / clip.path)], capture_output=True, text=True
    )
    assert probe.returncode == 0 and "codec_name=h264" in probe.stdout, probe.stderr
    assert seen.of(MotionStarted) and seen.of(MotionEnded)
    assert seen.of(MotionStarted)[0].camera == "busy"

    status = camera.status()
    assert status["state"] == "online"
    assert detect_input(hub)["frames_analysed"] > 0
    assert status["fps_analysed"] > 0
    motion = status["motion"]
    assert motion is not None and int(motion["events"]) >= 1

    picture = await hub.live_views["busy"].jpeg()
    assert picture is not None and picture[1][:2] == b"\xff\xd8", "the live view's JPEG comes from the process"
    newer = await hub.live_views["busy"].next_jpeg(picture[0], 10)
    assert newer is not None and newer[0] > picture[0]

    # A setting changed while the hub runs reaches the process: detection off shows in its next report.
    assert camera.motion is not None
    hub.fleet._motions["busy"].set_detecting(False)
    await until(lambda: camera.status()["motion"]["detecting"] is False, 20, "detection off in the process")


async def test_a_killed_detect_process_comes_back_and_recording_goes_on(hub: Hub) -> None:
    assert hub.bus is not None and hub.detect is not None
    seen = Seen(hub.bus)
    camera = hub.cameras["busy"]
    await until(lambda: camera.status()["state"] == "online", 60, "the camera online")
    record_connects = next(i for i in camera.status()["inputs"] if i["roles"] == ["record"])["connects"]
    [pid] = hub.detect.pids()
    os.kill(pid, signal.SIGKILL)
    await until(lambda: detect_input(hub)["state"] == "retrying", 20, "the detect input to wait for its process")
    assert "detect process 0 ended" in (detect_input(hub)["last_error"] or "")
    assert camera.status()["state"] == "degraded", "the record input is still online"
    await until(lambda: hub.detect.pids() and hub.detect.pids() != [pid], 30, "a new detect process")
    await until(lambda: camera.status()["state"] == "online", 60, "the detect input back online")
    killed_at = time.time()
    await until(lambda: any(c.clip.start_time > killed_at for c in seen.of(ClipSaved)), 60, "a clip after the restart")
    record = next(i for i in camera.status()["inputs"] if i["roles"] == ["record"])
    assert record["connects"] == record_connects, "the record input never reconnected"
    assert not alive(pid)


async def test_the_detect_process_ends_with_the_hub(busy_camera: RtspServer, tmp_path: Path) -> None:
    async with running(config(busy_camera, tmp_path / "data", processes=2)) as hub:
        assert hub.detect is not None
        await until(lambda: len(hub.detect.pids()) == 2, 30, "both detect processes")
        pids = hub.detect.pids()
        await until(lambda: hub.cameras["busy"].status()["state"] == "online", 60, "the camera online")
    for pid in pids:
        await until(lambda pid=pid: not alive(pid), 10, f"detect process {pid} to end")


async def test_a_hub_with_its_own_registry_is_told_detect_processes_cannot_read_with_it(tmp_path: Path) -> None:
    """A detect process loads the built-in and installed integrations; a hub given other ones must say so."""
    raw = hub_config(tmp_path / "data", {}, detect_processes=1)
    registry = Registry().load()  # the same integrations, but not the ones a detect process would load
    hub = Hub(parse_config(raw, "<test>", registry), registry=registry)
    with pytest.raises(HubError, match="detect_processes"):
        await asyncio.wait_for(hub.run(asyncio.Event()), 60)


async def test_a_detect_process_that_stops_reading_never_blocks_the_hub_and_is_synced_after(
    hub: Hub, caplog: pytest.LogCaptureFixture
) -> None:
    """A process stopped (SIGSTOP: swapped out, frozen) reads nothing; settings sent meanwhile must not block
    the sender, and once it runs again it gets the settings in force, even one that had to be dropped."""
    assert hub.detect is not None
    camera = hub.cameras["busy"]
    await until(lambda: camera.status()["state"] == "online", 60, "the camera online")
    [pid] = hub.detect.pids()
    motion = hub.fleet._motions["busy"]
    motion.set_detecting(False)
    await until(lambda: camera.status()["motion"]["detecting"] is False, 30, "detection off in the process")
    os.kill(pid, signal.SIGSTOP)
    try:

        def burst() -> None:
            for _ in range(20_000):  # far more than the pipe and the outbox hold
                motion.set_detecting(False)
            motion.set_detecting(True)  # dropped: the outbox is full

        sender = threading.Thread(target=burst)
        sender.start()
        await asyncio.to_thread(sender.join, 60)
        assert not sender.is_alive(), "sending to a stopped detect process blocked"
        assert "takes no messages" in caplog.text
    finally:
        os.kill(pid, signal.SIGCONT)
    # Only the sync after the backlog can bring the dropped last setting.
    await until(lambda: camera.status()["motion"]["detecting"] is True, 60, "the process synced to detection on")
    assert hub.detect.pids() == [pid], "the process was not restarted: it caught up"


def pipe_of(hub: Hub, pid: int) -> socket.socket:
    """A duplicate of the detect process `pid`'s end of its pipe to `hub`, taken with pidfd_getfd(2): what is
    written to it reaches the hub as if the process had sent it. The end is found by its peer's inode (ss)."""
    assert hub.detect is not None
    [ours] = [w._conn for w in hub.detect._workers if w.pid == pid]
    assert ours is not None
    our_inode = os.fstat(ours.fileno()).st_ino
    listing = subprocess.run(["ss", "-xpn"], capture_output=True, text=True, check=True).stdout
    found = re.search(rf"\* (\d+)\s+\* {our_inode} .*pid={pid},fd=(\d+)", listing)
    assert found, f"no socket of process {pid} is the peer of the hub's end (inode {our_inode}):\n{listing}"
    pidfd = os.pidfd_open(pid)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fd = libc.syscall(438, pidfd, int(found.group(2)), 0)  # SYS_pidfd_getfd, the same on every architecture
        assert fd >= 0, os.strerror(ctypes.get_errno())
    finally:
        os.close(pidfd)
    return socket.socket(fileno=fd)


async def test_a_detect_process_that_sends_what_cannot_be_read_is_restarted(
    hub: Hub, caplog: pytest.LogCaptureFixture
) -> None:
    assert hub.detect is not None
    camera = hub.cameras["busy"]
    await until(lambda: camera.status()["state"] == "online", 60, "the camera online")
    [pid] = hub.detect.pids()
    garbage = b"\x80\x05not a pickle at all"
    with pipe_of(hub, pid) as pipe:
        pipe.sendall(len(garbage).to_bytes(4, "big") + garbage)  # framed as multiprocessing frames a message
    await until(lambda: not alive(pid), 20, "the process that sent it to be killed")
    assert any("sent what cannot be read" in r.getMessage() for r in caplog.records)
    await until(lambda: hub.detect.pids() and hub.detect.pids() != [pid], 30, "a new detect process")
    await until(lambda: camera.status()["state"] == "online", 60, "the detect input back online")
    frames = detect_input(hub)["frames_analysed"]
    await until(lambda: detect_input(hub)["frames_analysed"] > frames, 30, "frames analysed by the new process")
