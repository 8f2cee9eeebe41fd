"""An MJPEG camera is recorded as H.264 (browsers cannot play MJPEG video)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from itertools import pairwise
from pathlib import Path

from camhub.app import Hub
from camhub.bus import AuditCheckpointSigned
from camhub.capture.camera import CameraStateChanged
from camhub.config import parse_config
from camhub.motion.detector import MotionEnded, MotionStarted
from camhub.recording.finisher import ClipSaved
from camhub.sim.http_server import SimHttpServer


async def test_mjpeg_camera_records_h264_clips(http_sim: SimHttpServer, tmp_path: Path) -> None:
    data = tmp_path / "data"
    config = parse_config(
        {
            "data_dir": str(data),
            "web": {"port": 0},
            "retention": {"min_free_bytes": 0},
            "cameras": {
                "porch": {
                    "inputs": [{"url": http_sim.url("cam", "mjpeg"), "roles": ["record", "detect"]}],
                    "motion": {"post_roll": 1},
                    "record": {"pre_roll": 1},
                }
            },
        }
    )
    hub = Hub(config)
    stop = asyncio.Event()
    task = asyncio.create_task(hub.run(stop))
    # Subscribe as soon as the bus exists: long before the camera is built (the first start
    # hashes the first owner's password on the way), so no event of the camera is missed.
    deadline = time.monotonic() + 20
    while hub.bus is None and not task.done() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert hub.bus is not None, task
    events: list[object] = []
    with hub.bus.subscribe() as sub:
        deadline = time.monotonic() + 40  # the 10 s scene moves from 2 to 5 s of each loop
        while not any(isinstance(e, ClipSaved) for e in events) and time.monotonic() < deadline:
            try:
                events.append(await asyncio.wait_for(sub.get(), 1))
            except TimeoutError:
                pass
        stop.set()
        await asyncio.wait_for(task, 20)
        while not sub.queue.empty():  # what the stop published
            events.append(sub.queue.get_nowait())
    saved = [e.clip for e in events if isinstance(e, ClipSaved)]
    assert saved, hub.cameras["porch"].status()
    clip = saved[0]
    assert clip.codec == "h264"
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-show_streams", "-of", "json", str(data / clip.path)],
        capture_output=True,
        text=True,
        check=True,
    )
    stream = json.loads(probe.stdout)["streams"][0]
    assert (stream["codec_name"], stream["width"], stream["height"]) == ("h264", 640, 360)
    # The clip holds the motion (the event times are checked against it below), as real frames:
    # on a loaded machine the MJPEG reader may miss some of the source's 15 fps, so the count is
    # held to a third of that rate.
    duration = float(stream["duration"])
    assert duration >= 2, stream  # the motion lasts 3 s of the scene; a loaded reader may start the clip late
    assert int(stream["nb_read_frames"]) >= duration * 15 / 3, stream
    assert not probe.stderr.strip()

    # The bus carried every kind of event the recording made, in order: the camera came online
    # (and went offline at the stop, each change once), motion started and ended, the clip was saved.
    states = [e for e in events if isinstance(e, CameraStateChanged)]
    assert {e.camera for e in states} == {"porch"}, states
    assert states[0].state == "online" and states[-1].state == "offline", states
    assert all(a.state != b.state for a, b in pairwise(states)), states
    started = next(e for e in events if isinstance(e, MotionStarted))
    ended = next(e for e in events if isinstance(e, MotionEnded))
    first_saved = next(e for e in events if isinstance(e, ClipSaved))
    assert started.camera == ended.camera == "porch"
    assert [events.index(e) for e in (states[0], started, ended, first_saved)] == sorted(
        events.index(e) for e in (states[0], started, ended, first_saved)
    )
    assert clip.start_time <= started.time <= ended.end <= clip.end_time + 1.0, (clip, started, ended)
    assert states[0].time <= started.time + 1.0
    # Every audit entry's commit signs a checkpoint, announced on the bus: the hub's start, and its stop.
    checkpoints = [e for e in events if isinstance(e, AuditCheckpointSigned)]
    assert len(checkpoints) >= 2 and checkpoints[-1].size > checkpoints[0].size, checkpoints
    assert events.index(checkpoints[-1]) > events.index(states[-1])
