"""One thread reads many batched detect inputs in turn (camhub.capture.shared_pace), from a real RTSP server.

Each input still has its reader thread for connecting and reconnecting; while connected, its packets are
decoded and analysed on the turn's thread. One camera whose server goes away leaves the turn with its
error and reconnects; the others keep being analysed throughout.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import pytest

from camhub.capture.media import Frame
from camhub.capture.reader import InputReader
from camhub.capture.shared_pace import SharedPace
from camhub.config import InputConfig, ReconnectConfig
from camhub.registry import default_registry
from camhub.sim.rtsp import RtspServer

from ..hubs import until

WAIT = 60.0


class Seen:
    """The threads analysed frames arrive on, and how many."""

    def __init__(self) -> None:
        self.threads: set[str] = set()
        self.frames = 0

    def on_frame(self, frame: Frame) -> None:
        self.threads.add(threading.current_thread().name)
        self.frames += 1

    def on_lost(self) -> None:
        pass


def reader(url: str, seen: Seen, shared: SharedPace | None, batch: float = 0.5) -> InputReader:
    config = InputConfig(url=url, roles=("detect",), timeout=5)
    source = default_registry().source_for(config)
    return InputReader(
        "cam", config, source, ReconnectConfig(initial=0.2, cap=0.5), 5.0, frames=(seen,), batch=batch, shared=shared
    )


async def stopped(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_inputs_are_analysed_on_the_shared_thread_and_one_lost_camera_leaves_the_others(
    rtsp_server_factory: Callable[..., RtspServer],
) -> None:
    steady, flaky = rtsp_server_factory(), rtsp_server_factory()
    await steady.start()
    await flaky.start()
    pace = SharedPace("test-turn")
    seen = [Seen(), Seen(), Seen()]
    readers = [
        reader(steady.url("cam", "sub"), seen[0], pace),
        reader(steady.url("cam", "sub"), seen[1], pace),
        reader(flaky.url("cam", "sub"), seen[2], pace),
    ]
    tasks = [asyncio.create_task(r.run()) for r in readers]
    try:
        await until(lambda: all(s.frames >= 5 for s in seen), WAIT, "frames on every input")
        assert pace.inputs == 3
        assert all(s.threads == {"test-turn"} for s in seen)  # none on the inputs' own threads

        port = flaky.port
        await flaky.stop()
        await until(lambda: readers[2].status.state != "online", WAIT, "the flaky camera to be lost")
        assert readers[2].status.last_error  # it left with its error, as a reader of its own would
        await until(lambda: pace.inputs == 2, WAIT, "the lost input to leave the turn")
        before = [s.frames for s in seen[:2]]
        await until(lambda: all(s.frames >= b + 5 for s, b in zip(seen, before, strict=False)), WAIT, "the others")

        back = rtsp_server_factory(port=port)
        await back.start()
        frames = seen[2].frames
        await until(lambda: seen[2].frames >= frames + 5, WAIT, "the flaky camera back")
        assert pace.inputs == 3
        assert readers[2].status.connects >= 2
    finally:
        for task in tasks:
            await stopped(task)
    await until(lambda: pace.inputs == 0, WAIT, "every stopped input to leave the turn")


async def test_a_stopped_input_leaves_its_turn_at_once(rtsp_server_factory: Callable[..., RtspServer]) -> None:
    server = rtsp_server_factory()
    await server.start()
    pace = SharedPace("test-turn")
    seen = Seen()
    # A pace of an hour: only the stop's wake can end the input's turn in time.
    task = asyncio.create_task(reader(server.url("cam", "sub"), seen, pace, batch=3600.0).run())
    await until(lambda: pace.inputs == 1 and seen.frames >= 1, WAIT, "the first read")
    await asyncio.wait_for(stopped(task), 10)
    assert pace.inputs == 0


def test_an_input_without_a_pace_is_refused() -> None:
    with pytest.raises(ValueError, match="above 0"):
        SharedPace().read(None, lambda packet: None, 0.0, threading.Event())  # type: ignore[arg-type]
