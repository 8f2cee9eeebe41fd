"""RTSP sources against Debian's GStreamer RTSP server on loopback.

The server is real (a child process of /usr/bin/python3 with GstRtspServer)
and serves the simulator's pre-encoded H.264 and H.265 streams.
"""

from __future__ import annotations

import asyncio
import itertools
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

from camhub.capture.camera import CameraPipeline
from camhub.capture.media import Frame, OpenStream, Packet
from camhub.config import parse_config
from camhub.integrations.rtsp import RECORD_PACE
from camhub.integrations.rtsp.client import RtspStream
from camhub.registry import Registry
from camhub.sim.rtsp import RtspServer

from ..conftest import free_port
from ..rtp_media import ReadCounter

CAP = 2.0  # the reconnect cap these tests configure, in seconds
WARM_UP = 2.5  # seconds: one GOP of the test scene, plus a margin


class Collector:
    """A packet and frame consumer that keeps what it is given, on the reader threads."""

    def __init__(self) -> None:
        self.packets: list[Packet] = []
        self.frames: list[Frame] = []

    def on_connect(self, stream: OpenStream) -> None:
        pass

    def on_packet(self, packet: Packet) -> None:
        self.packets.append(packet)

    def on_disconnect(self) -> None:
        pass

    def on_frame(self, frame: Frame) -> None:
        self.frames.append(frame)

    def on_lost(self) -> None:
        pass

    def restart(self) -> None:
        self.packets, self.frames = [], []


def pipelines(cameras: dict[str, Any]) -> tuple[dict[str, CameraPipeline], dict[str, Collector]]:
    """A pipeline per camera, each built with a collector of its packets and frames."""
    config = parse_config({"cameras": cameras, "reconnect": {"initial": 0.2, "cap": CAP}})
    registry = Registry().load()
    collectors = {n: Collector() for n in config.cameras}
    cams = {
        n: CameraPipeline(
            n,
            c,
            [registry.source_for(i) for i in c.inputs],
            config.reconnect,
            config.secrets(),
            packets=(collectors[n],),
            frames=(collectors[n],),
        )
        for n, c in config.cameras.items()
    }
    return cams, collectors


async def wait_until(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        await asyncio.sleep(0.05)
    return check()


async def collect(camera: CameraPipeline, seen: Collector, seconds: float) -> tuple[list[Packet], list[Frame]]:
    """Packets of the record input and frames of the detect input over `seconds` after both flow."""
    assert await wait_until(lambda: bool(seen.packets) and bool(seen.frames), 20), camera.status()
    # A new client starts at the last keyframe, so the server catches up in a burst of
    # up to one GOP (2 s); the rate is measured after it.
    await asyncio.sleep(WARM_UP)
    seen.restart()
    await asyncio.sleep(seconds)
    return list(seen.packets), list(seen.frames)


async def test_h264_main_and_sub_stream_arrive_with_codec_size_and_rate(rtsp_server: RtspServer) -> None:
    cams, seen = pipelines(
        {
            "cam": {
                "inputs": [
                    {"url": rtsp_server.url("cam", "main"), "roles": ["record"]},
                    {"url": rtsp_server.url("cam", "sub"), "roles": ["detect"]},
                ],
                "motion": {"analysis_fps": 5},
            }
        }
    )
    task = asyncio.create_task(cams["cam"].run())
    try:
        packets, frames = await collect(cams["cam"], seen["cam"], 4.0)
        status = cams["cam"].status()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    record, detect = status["inputs"]
    assert (record["codec"], record["width"], record["height"]) == ("h264", 1280, 720)
    assert (detect["codec"], detect["width"], detect["height"]) == ("h264", 640, 360)
    # The rate is compared as a ratio to the source's 15 fps: loose, since the machine is shared.
    assert 0.7 < len(packets) / (4.0 * 15) < 1.3, len(packets)
    assert 0.6 < len(frames) / (4.0 * 5) < 1.3, len(frames)
    assert any(p.keyframe for p in packets)
    assert all(f.frame.width == 640 and f.frame.height == 360 for f in frames)
    assert frames[0].luma.shape == (360, 640)
    # Capture times are wall-clock and increasing.
    times = [p.capture_time for p in packets]
    assert times == sorted(times) and abs(times[-1] - time.time()) < 5


async def test_h265_stream(rtsp_server: RtspServer) -> None:
    cams, seen = pipelines({"cam": {"inputs": [{"url": rtsp_server.url("hevc", "main")}]}})
    task = asyncio.create_task(cams["cam"].run())
    try:
        packets, frames = await collect(cams["cam"], seen["cam"], 2.0)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    status = cams["cam"].status()["inputs"][0]
    assert (status["codec"], status["width"], status["height"]) == ("hevc", 1280, 720)
    assert packets and frames and frames[-1].frame.width == 1280


async def test_reconnects_within_cap_after_server_restart(rtsp_server_factory: Callable[..., RtspServer]) -> None:
    port = free_port()
    server = rtsp_server_factory(port=port)
    await server.start()
    alive = rtsp_server_factory()  # a second camera on its own server, which stays up
    await alive.start()
    cams, _ = pipelines(
        {
            "flaky": {"inputs": [{"url": server.url("cam", "sub"), "timeout": 3}]},
            "steady": {"inputs": [{"url": alive.url("cam", "sub")}]},
        }
    )
    tasks = [asyncio.create_task(c.run()) for c in cams.values()]
    flaky, steady = cams["flaky"], cams["steady"]
    try:
        assert await wait_until(lambda: flaky.status()["online"] and steady.status()["online"], 20)
        await server.stop()
        assert await wait_until(lambda: not flaky.status()["online"], 10), flaky.status()
        steady_before = steady.status()["inputs"][0]["frames_analysed"]
        await asyncio.sleep(3 * CAP)  # long enough for the backoff to reach its cap
        assert flaky.status()["inputs"][0]["failures"] >= 2
        assert steady.status()["online"]
        assert steady.status()["inputs"][0]["frames_analysed"] > steady_before + 5

        await server.start()  # same port
        restarted = time.monotonic()
        connects = flaky.status()["inputs"][0]["connects"]
        assert await wait_until(lambda: flaky.status()["inputs"][0]["connects"] > connects, CAP + 10)
        assert await wait_until(lambda: flaky.status()["online"], 10)
        # Back within one capped wait plus the time to open the stream.
        assert time.monotonic() - restarted < CAP + 8
        assert flaky.status()["inputs"][0]["last_error"]  # the outage is still visible in the status
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_dead_camera_does_not_affect_live_one(rtsp_server: RtspServer) -> None:
    cams, seen = pipelines(
        {
            "live": {"inputs": [{"url": rtsp_server.url("cam", "sub")}]},
            "dead": {"inputs": [{"url": f"rtsp://127.0.0.1:{free_port()}/nothing"}]},
        }
    )
    tasks = [asyncio.create_task(c.run()) for c in cams.values()]
    try:
        packets, _frames = await collect(cams["live"], seen["live"], 3.0)
        status = {n: c.status() for n, c in cams.items()}
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    assert 0.7 < len(packets) / (3.0 * 15) < 1.3
    assert status["live"]["online"]
    assert not status["dead"]["online"] and "connection refused" in status["dead"]["last_error"]


async def test_wrong_credentials_give_a_clear_status(rtsp_server_factory: Callable[..., RtspServer]) -> None:
    server = rtsp_server_factory(credentials=("viewer", "right-horse-battery"))
    await server.start()
    base = server.url("cam", "sub", with_credentials=False)
    cams, _ = pipelines(
        {
            "wrong": {"inputs": [{"url": base, "username": "viewer", "password": "wrong-staple-77"}]},
            "right": {"inputs": [{"url": base, "username": "viewer", "password": "right-horse-battery"}]},
        }
    )
    tasks = [asyncio.create_task(c.run()) for c in cams.values()]
    try:
        ok = await wait_until(lambda: cams["right"].status()["online"] and cams["wrong"].status()["last_error"], 20)
        status = {n: c.status() for n, c in cams.items()}
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    assert ok, status
    assert "authentication failed" in status["wrong"]["last_error"]
    assert not status["wrong"]["online"]
    assert "wrong-staple-77" not in str(status) and "right-horse-battery" not in str(status)


def read_for(stream: RtspStream, frames: int) -> tuple[list[Packet], int]:
    """The first `frames` packets of an open stream, and how many socket reads they took."""
    counter = ReadCounter(stream)
    got: list[Packet] = []
    for packet in stream.packets():
        got.append(packet)
        if len(got) == frames:
            return got, counter.reads
    raise AssertionError("the stream ended")


def test_a_wake_ends_the_wait_between_paced_reads(rtsp_server: RtspServer) -> None:
    """A reader waiting out an hour's pace reads at once when woken (a live viewer arrived), from another
    thread; without the wake, the packets below would come an hour later and the test fails at its deadline."""
    stream = RtspStream(rtsp_server.url("cam", "main"), pace=3600.0)
    got: list[Packet] = []
    stop = threading.Event()

    def consume() -> None:
        try:
            for packet in stream.packets():
                got.append(packet)
                if stop.is_set():
                    return
        finally:
            stream.close()

    reader = threading.Thread(target=consume, daemon=True)
    reader.start()
    deadline = time.monotonic() + 30
    while not got and time.monotonic() < deadline:
        time.sleep(0.05)  # the first read's frames come without a wait
    first = len(got)
    while len(got) < first + 15 and time.monotonic() < deadline:
        stream.wake()
        time.sleep(0.1)
    woken = len(got)
    stop.set()
    stream.wake()
    reader.join(30)
    assert first > 0 and woken >= first + 15, (first, woken)
    times = [p.capture_time for p in got]
    assert times == sorted(times)


def test_a_paced_stream_reads_less_often_and_keeps_each_frames_arrival(rtsp_server: RtspServer) -> None:
    """A record input read every quarter second takes several frames a read, each stamped when it came."""
    url = rtsp_server.url("cam", "main")
    read: dict[float, tuple[list[Packet], int]] = {}
    for pace in (0.25, 0.0):  # one after the other: an open stream left unread would pile up a backlog
        stream = RtspStream(url, pace=pace)
        try:
            read[pace] = read_for(stream, 45)  # 3 s of a 15 fps stream
        finally:
            stream.close()
    (paced_packets, paced_reads), (_, eager_reads) = read[0.25], read[0.0]
    assert paced_reads <= len(paced_packets) / 2 < eager_reads, (paced_reads, eager_reads)
    times = [p.capture_time for p in paced_packets[5:]]  # past the opening's first units
    steps = [b - a for a, b in itertools.pairwise(times)]
    assert all(step >= 0 for step in steps)
    # Stamped at the read, several frames of a read would share one time; by their RTP time, they
    # are a frame interval apart (1/15 s), whichever read brought them.
    assert sum(step < 0.01 for step in steps) < len(steps) / 4, steps
    assert 0.04 < statistics.median(steps) < 0.1, steps


class Arrivals(Collector):
    """Also notes when each analysed frame reached it, and the pace of each stream it was connected to."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived: list[float] = []
        self.paces: list[float] = []

    def on_connect(self, stream: OpenStream) -> None:
        self.paces.append(getattr(stream, "pace", -1.0))

    def on_frame(self, frame: Frame) -> None:
        super().on_frame(frame)
        self.arrived.append(time.monotonic())

    def restart(self) -> None:
        super().restart()
        self.arrived = []


def one_camera(camera: dict[str, Any], consumer: Collector) -> CameraPipeline:
    """A pipeline of one camera whose packets and frames go to `consumer`."""
    config = parse_config({"cameras": {"cam": camera}, "reconnect": {"initial": 0.2, "cap": CAP}})
    cfg = config.cameras["cam"]
    sources = [Registry().load().source_for(i) for i in cfg.inputs]
    return CameraPipeline("cam", cfg, sources, config.reconnect, (), packets=(consumer,), frames=(consumer,))


async def test_a_batched_detect_input_analyses_every_frame_at_its_capture_time(rtsp_server: RtspServer) -> None:
    """motion.batch: the detect input reads a second of frames at once; the analysis keeps its rate, and each
    frame its own capture time (by its RTP time), so only when it is analysed changes."""
    seen: dict[float, Arrivals] = {}
    times: dict[float, list[float]] = {}
    for batch in (1.0, 0.0):  # one after the other: the machine is shared
        got = Arrivals()
        camera = one_camera(
            {
                "inputs": [
                    {"url": rtsp_server.url("cam", "main"), "roles": ["record"]},
                    {"url": rtsp_server.url("cam", "sub"), "roles": ["detect"]},
                ],
                "motion": {"analysis_fps": 5, "batch": batch},
            },
            got,
        )
        task = asyncio.create_task(camera.run())
        try:
            await collect(camera, got, 5.0)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        seen[batch], times[batch] = got, [f.capture_time for f in got.frames]
    batched, eager = seen[1.0], seen[0.0]
    assert batched.paces == eager.paces == [RECORD_PACE], "the record input keeps its own pace"
    for batch in (1.0, 0.0):
        assert 0.6 < len(times[batch]) / (5.0 * 5) < 1.3, (batch, len(times[batch]))
        steps = [b - a for a, b in itertools.pairwise(times[batch])]
        # Capture times a fifth of a second apart whether read in batches or not.
        assert 0.15 < statistics.median(steps) < 0.25, (batch, steps)
    # Batched, most frames reach the watcher together with the one before; read as they come, a fifth of a
    # second after it.
    assert statistics.median(b - a for a, b in itertools.pairwise(batched.arrived)) < 0.05, batched.arrived
    assert statistics.median(b - a for a, b in itertools.pairwise(eager.arrived)) > 0.1, eager.arrived


async def test_an_input_that_records_and_detects_gives_its_batch_to_the_live_view(rtsp_server: RtspServer) -> None:
    """A camera with one stream: the batch is set before the packet consumers connect, so the live view (which
    reads every packet while watched) puts the stream back to the batch, not to no pace, when left."""
    got = Arrivals()
    camera = one_camera({"inputs": [{"url": rtsp_server.url("cam", "sub")}], "motion": {"batch": 0.75}}, got)
    task = asyncio.create_task(camera.run())
    try:
        assert await wait_until(lambda: bool(got.paces), 20), camera.status()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert got.paces == [0.75]
