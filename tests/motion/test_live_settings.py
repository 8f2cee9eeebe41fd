"""Motion settings change while a camera runs: a real hub reading the HTTP simulator's H.264 stream.

The camera pipeline takes a new MotionConfig (analysis rate, threshold,
zones, masks) with no restart: the reader picks frames at the new rate, the
engine applies the rest at its next frame and keeps its learnt background
(its age keeps growing, where learning again would start it from 1), and
events then carry the new zone.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from camhub.app import Hub
from camhub.config import MotionConfig, parse_config
from camhub.motion.detector import MotionEnded
from camhub.motion.watcher import CameraMotion
from camhub.motion.zones import ZoneConfig
from camhub.sim.http_server import SimHttpServer


async def wait_for(condition: object, what: str, timeout: float = 60.0) -> None:
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_motion_settings_apply_without_restart_or_relearning(http_sim: SimHttpServer, tmp_path: Path) -> None:
    config = parse_config(
        {
            "data_dir": str(tmp_path / "data"),
            "web": {"port": 0},
            "discovery": {"enabled": False},
            "retention": {"min_free_bytes": 0},
            "cameras": {
                "yard": {
                    "inputs": [{"url": http_sim.url("cam", "sub.h264"), "roles": ["detect"]}],
                    "motion": {"post_roll": 0.5},
                }
            },
        }
    )
    hub = Hub(config)
    stop = asyncio.Event()
    task = asyncio.create_task(hub.run(stop))
    try:
        await wait_for(lambda: "yard" in hub.cameras or task.done(), "the camera")
        pipeline = hub.cameras["yard"]
        watcher = pipeline.motion
        assert isinstance(watcher, CameraMotion)
        await wait_for(lambda: watcher.engine.background_age >= 15 or task.done(), "15 analysed frames")
        assert not task.done(), task
        assert pipeline.status()["analysis_fps"] == 5.0

        everywhere = ZoneConfig(points=((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)))
        new = MotionConfig(
            analysis_fps=2.0,
            threshold=14.0,
            post_roll=0.5,
            zones={"whole": everywhere},
            masks=(((0.0, 0.0), (0.1, 0.0), (0.1, 0.1)),),
        )
        age_before = watcher.engine.background_age
        assert hub.bus is not None
        with hub.bus.subscribe() as events:
            pipeline.configure_motion(new)
            assert pipeline.status()["analysis_fps"] == 2.0
            await wait_for(lambda: watcher.engine.config == new, "the engine to take the settings")
            await wait_for(lambda: watcher.engine.background_age >= age_before + 4, "more analysed frames")
            # Not learnt again: the age kept counting from before (learning starts it at 1).
            assert watcher.engine.background_age >= age_before + 4
            assert watcher.status.threshold == 14.0 and watcher.machine.config == new
            changed_at = time.time()  # capture times are the reader's Unix clock
            # The simulated scene moves in every loop: the next event touches the new zone.
            deadline = time.monotonic() + 60
            ended: MotionEnded | None = None
            while ended is None and time.monotonic() < deadline:
                try:
                    event = await asyncio.wait_for(events.get(), 1)
                except TimeoutError:
                    continue
                if isinstance(event, MotionEnded) and event.camera == "yard" and event.start > changed_at:
                    ended = event
            assert ended is not None, "no motion event after the change"
            assert ended.zones == ("whole",)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
