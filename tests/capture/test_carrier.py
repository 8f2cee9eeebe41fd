"""The carrier: one thread reading every paced record-only input (hub/capture/carrier.py).

Against Debian's GStreamer RTSP server on loopback, read by the hub's own RTSP client as the hub reads a
record input (`RtspSource`, paced at `RECORD_PACE`). Each test has a carrier of its own, so the thread
that delivers can be told from the inputs' own threads. Cameras that fail while carried are in
tests/security/test_carried_streams.py.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Callable

from camhub.capture.carrier import Carrier
from camhub.capture.media import OpenStream, PacedStream, Packet
from camhub.capture.reader import InputReader
from camhub.config import parse_config
from camhub.integrations.rtsp import RECORD_PACE
from camhub.registry import Registry
from camhub.sim.rtsp import RtspServer

DEADLINE = 30.0  # seconds any wait here may take on a busy machine


class Deliveries:
    """A packet consumer that notes each packet, the thread that gave it and when."""

    def __init__(self) -> None:
        self.packets: list[Packet] = []
        self.threads: list[str] = []
        self.times: list[float] = []
        self.stream: OpenStream | None = None

    def on_connect(self, stream: OpenStream) -> None:
        self.stream = stream

    def on_packet(self, packet: Packet) -> None:
        self.packets.append(packet)
        self.threads.append(threading.current_thread().name)
        self.times.append(time.monotonic())

    def on_disconnect(self) -> None:
        pass


def record_readers(server: RtspServer, names: list[str], carrier: Carrier) -> dict[str, tuple[InputReader, Deliveries]]:
    config = parse_config(
        {
            "cameras": {
                n: {
                    "inputs": [
                        {"url": server.url("cam", "main"), "roles": ["record"]},
                        {"url": server.url("cam", "sub"), "roles": ["detect"]},
                    ]
                }
                for n in names
            },
            "reconnect": {"initial": 0.2, "cap": 2.0},
        }
    )
    registry = Registry().load()
    readers = {}
    for name in names:
        record = config.cameras[name].inputs[0]
        seen = Deliveries()
        reader = InputReader(
            name, record, registry.source_for(record), config.reconnect, 5.0, packets=(seen,), carrier=carrier
        )
        readers[name] = (reader, seen)
    return readers


async def wait_until(check: Callable[[], bool], timeout: float = DEADLINE) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        await asyncio.sleep(0.05)
    return check()


async def test_the_record_inputs_of_three_cameras_are_read_by_one_thread_in_batches(rtsp_server: RtspServer) -> None:
    carrier = Carrier("carrier-under-test")
    readers = record_readers(rtsp_server, ["a", "b", "c"], carrier)
    tasks = [asyncio.create_task(reader.run()) for reader, _ in readers.values()]
    try:
        assert await wait_until(lambda: all(len(seen.packets) >= 60 for _, seen in readers.values())), {
            n: r.status.as_dict() for n, (r, _) in readers.items()
        }
        assert carrier.carried == 3
        states = {n: r.status.state for n, (r, _) in readers.items()}
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    assert states == dict.fromkeys("abc", "online")
    for _, seen in readers.values():
        # Every packet came from the carrier's thread, none from the input's own.
        assert set(seen.threads) == {"carrier-under-test"}, set(seen.threads)
        # In batches: a read every RECORD_PACE takes several frames of a 15 fps stream at once.
        batches = 1 + sum(b - a > 0.05 for a, b in itertools.pairwise(seen.times))
        assert batches <= len(seen.packets) / 3, (batches, len(seen.packets))
        # Each frame keeps its own capture time, in order, about a frame interval apart.
        times = [p.capture_time for p in seen.packets[10:]]
        assert times == sorted(times)
        assert 0.03 < (times[-1] - times[0]) / (len(times) - 1) < 0.15
        assert any(p.keyframe for p in seen.packets)
    # Stopped readers take their streams back: the carrier reads nothing more.
    assert await wait_until(lambda: carrier.carried == 0, 5.0)
    assert all(r.status.state == "stopped" for r, _ in readers.values())


async def test_a_watched_input_is_read_by_its_own_thread_and_carried_again_after(rtsp_server: RtspServer) -> None:
    """A live viewer sets the pace to 0 in `on_packet` (hub/http/live_mp4.py): the carrier hands the stream back
    to its input's thread, which reads it as packets come, and takes it again when the pace returns."""
    carrier = Carrier("carrier-under-test")
    ((reader, seen),) = record_readers(rtsp_server, ["a"], carrier).values()

    class Viewer:
        """Watches from the 30th packet to the 90th."""

        def on_connect(self, stream: OpenStream) -> None:
            assert isinstance(stream, PacedStream)
            self.stream = stream

        def on_packet(self, packet: Packet) -> None:
            count = len(seen.packets)
            if count == 30:
                self.stream.pace = 0.0
            elif count == 90:
                self.stream.pace = RECORD_PACE

        def on_disconnect(self) -> None:
            pass

    reader._packets = (seen, Viewer())
    task = asyncio.create_task(reader.run())
    try:
        assert await wait_until(lambda: len(seen.packets) >= 150), reader.status.as_dict()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    threads = seen.threads
    own = "camera:a:record"
    assert set(threads[:30]) == {"carrier-under-test"}
    # The rest of the carrier's batch may still come from it; then the input's own thread reads.
    watched = threads[45:85]
    assert set(watched) == {own}, set(watched)
    eager = seen.times[45:85]
    assert 1 + sum(b - a > 0.03 for a, b in itertools.pairwise(eager)) > len(eager) / 2  # a frame a read
    assert set(threads[110:150]) == {"carrier-under-test"}
    times = [p.capture_time for p in seen.packets[10:150]]
    assert times == sorted(times)  # nothing lost or repeated at the hand-overs
    steps = [b - a for a, b in itertools.pairwise(times)]
    assert max(steps) < 0.5, max(steps)
