"""The bus: every subscriber gets each event of its types, in order, and a slow one loses only its oldest.

What real pipelines publish on it (camera states, motion, saved clips, audit
checkpoints) is checked end to end in tests/recording/test_recording_mjpeg.py.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass

from camhub.bus import Bus, OwnerNotice


@dataclass(frozen=True)
class Tick:
    n: int


def drain(queue: asyncio.Queue[object]) -> list[object]:
    return [queue.get_nowait() for _ in range(queue.qsize())]


async def test_subscribers_get_their_types_and_a_slow_one_loses_its_oldest() -> None:
    bus = Bus()
    notice = OwnerNotice("override", "ov-1", {"cameras": ["yard"]})
    with bus.subscribe() as everything, bus.subscribe(Tick, maxsize=2) as ticks:
        for event in (Tick(1), notice, Tick(2), Tick(3)):
            bus.publish(event)
        assert drain(everything.queue) == [Tick(1), notice, Tick(2), Tick(3)]
        assert [await ticks.get(), await ticks.get()] == [Tick(2), Tick(3)]
        assert ticks.dropped == 1 and everything.dropped == 0
    bus.publish(Tick(4))  # nobody subscribed any more
    assert everything.queue.empty() and ticks.queue.empty()


async def test_events_from_threads_arrive_on_the_loop_in_order() -> None:
    bus = Bus()
    with bus.subscribe(Tick) as sub:
        thread = threading.Thread(target=lambda: [bus.publish_threadsafe(Tick(n)) for n in range(100)])
        thread.start()
        got = [(await asyncio.wait_for(sub.get(), 10)).n for _ in range(100)]
        thread.join()
    assert got == list(range(100))
