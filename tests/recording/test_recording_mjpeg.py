"""An MJPEG camera is recorded as H.264 (browsers cannot play MJPEG video)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from pathlib import Path

from camhub.app import Hub
from camhub.bus import ClipSaved
from camhub.config import parse_config
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
    await asyncio.wait_for(hub.ready.wait(), 20)
    assert hub.bus is not None
    saved = []
    with hub.bus.subscribe(ClipSaved) as sub:
        deadline = time.monotonic() + 30  # the 10 s scene moves from 2 to 5 s of each loop
        while not saved and time.monotonic() < deadline:
            try:
                saved.append((await asyncio.wait_for(sub.get(), 1)).clip)
            except TimeoutError:
                pass
    stop.set()
    await asyncio.wait_for(task, 20)
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
    assert int(stream["nb_read_frames"]) >= 15 * 3  # at least the 3 s of motion at 15 fps
    assert not probe.stderr.strip()
