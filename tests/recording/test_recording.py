"""Recording end to end: a scripted scene over real RTSP becomes motion clips on disk.

Debian's GStreamer RTSP server serves the simulator's pre-encoded streams;
the hub records the 1280x720 main stream by stream copy and detects motion
on the 640x360 sub-stream. Clips are checked with ffprobe and against the
packets the hub received, byte for byte.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import av
import pytest

from camhub.app import Hub
from camhub.capture.media import OpenStream, Packet, Source
from camhub.config import InputConfig, parse_config
from camhub.recording.finisher import ClipSaved
from camhub.registry import Registry
from camhub.sim.render import render_scene
from camhub.sim.rtsp import RtspServer
from camhub.sim.scene import LightSwitch, Scene
from camhub.store.index import ClipRecord, query_clips

PRE, POST, GOP = 2.0, 2.0, 2.0  # seconds: the test's pre-roll, post-roll and the scene's GOP
# Clips of camera "cam" to record: the first may be cut by the start and the last falls past the
# windows `windows()` counts, so four leave at least two whole windows. Waited for, not timed.
CLIPS = 4
DEADLINE = 180.0  # seconds; generous, since the machine is shared
Login = Callable[[str, str | None], Awaitable[tuple[aiohttp.ClientSession, str]]]
LIGHTS = Scene(
    name="lights",
    width=1280,
    height=720,
    fps=15,
    duration=10.0,
    brightness=0.45,
    lights=(LightSwitch(t=3.0, level=1.0), LightSwitch(t=8.0, level=0.45)),
)


def ffprobe(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(out.stdout))


def nal_units(data: bytes) -> tuple[bytes, ...]:
    """The NAL units of one H.264 access unit, whether framed with start codes (RTSP, Annex B)
    or with 4-byte lengths (MP4, AVCC): stream copy keeps the units and changes only the framing."""
    if data.startswith((b"\x00\x00\x00\x01", b"\x00\x00\x01")):
        parts = data.replace(b"\x00\x00\x00\x01", b"\x00\x00\x01").split(b"\x00\x00\x01")
        return tuple(p for p in parts if p)
    units, i = [], 0
    while i + 4 <= len(data):
        n = int.from_bytes(data[i : i + 4], "big")
        units.append(data[i + 4 : i + 4 + n])
        i += 4 + n
    assert i == len(data), "not AVCC framing"
    return tuple(units)


def clip_packets(path: Path) -> list[tuple[bytes, ...]]:
    with av.open(str(path)) as container:
        return [nal_units(bytes(p)) for p in container.demux(container.streams.video[0]) if p.size]


class TappedStream:
    """An opened stream that keeps every packet it hands the hub; all else is the real stream's."""

    def __init__(self, stream: OpenStream, into: list[Packet]) -> None:
        self._stream, self._into = stream, into

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def packets(self) -> Iterator[Packet]:
        for packet in self._stream.packets():
            self._into.append(packet)
            yield packet


class TappedSource:
    def __init__(self, source: Source, into: list[Packet]) -> None:
        self._source, self._into = source, into

    def __getattr__(self, name: str) -> Any:
        return getattr(self._source, name)

    def open(self) -> OpenStream:
        return TappedStream(self._source.open(), self._into)


class TappedRegistry(Registry):
    """The built-in integrations, with one input tapped: what the hub received from it, packet by packet."""

    def __init__(self, url: str, into: list[Packet]) -> None:
        super().__init__()
        self._url, self._into = url, into

    def source_for(self, config: InputConfig) -> Source:
        source = super().source_for(config)
        return TappedSource(source, self._into) if config.url == self._url else source


@pytest.fixture(scope="module")
def recorded(
    require_rtsp: None,
    sim_cache: Path,
    sim_rendering: Any,
    tmp_path_factory: pytest.TempPathFactory,
    household_login: Login,
) -> dict[str, Any]:
    """Run the hub against two RTSP cameras until it saved CLIPS clips; return what it recorded and received."""
    data = tmp_path_factory.mktemp("recording")
    lights = render_scene(LIGHTS, sim_cache)
    return asyncio.run(_record(data, sim_rendering, lights, household_login))


async def _record(data: Path, scene: Any, lights: Any, login: Login) -> dict[str, Any]:
    server = RtspServer({"cam": scene, "lights": lights})
    await server.start()
    try:
        inputs = lambda name: [  # noqa: E731
            {"url": server.url(name, "main"), "roles": ["record"]},
            {"url": server.url(name, "sub"), "roles": ["detect"]},
        ]
        config = parse_config(
            {
                "data_dir": str(data),
                "web": {"port": 0},
                "retention": {"min_free_bytes": 0},
                "cameras": {
                    name: {"inputs": inputs(name), "motion": {"post_roll": POST}, "record": {"pre_roll": PRE}}
                    for name in ("cam", "lights")
                },
            }
        )
        received: list[Packet] = []
        hub = Hub(config, registry=TappedRegistry(server.url("cam", "main"), received).load())
        stop = asyncio.Event()
        task = asyncio.create_task(hub.run(stop))
        ready = asyncio.create_task(hub.ready.wait())
        await asyncio.wait([task, ready], timeout=30, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()  # the hub failed to start: show why
        assert hub.ready.is_set(), "the hub did not start in 30 s"
        assert hub.bus is not None
        saved: list[ClipRecord] = []

        async def collect_saved() -> None:
            with hub.bus.subscribe(ClipSaved) as sub:  # type: ignore[union-attr]
                async for event in sub:
                    saved.append(event.clip)

        collector = asyncio.create_task(collect_saved())
        started = time.time()

        def cam_clips() -> int:
            return sum(c.camera == "cam" for c in saved)

        await wait_until(lambda: cam_clips() >= CLIPS, f"{CLIPS} clips of camera cam")
        http, _ = await login(hub.url, hub.initial_password)
        async with http:
            async with http.get(f"{hub.url}/api/clips?camera=cam&limit=2") as response:
                page = await response.json()
            first = page["clips"][-1] if page["clips"] else None
            ranged = None
            if first:
                headers = {"Range": "bytes=0-99"}
                async with http.get(f"{hub.url}{first['video_url']}", headers=headers) as response:
                    ranged = (response.status, response.headers.get("Content-Range"), await response.read())
                async with http.get(f"{hub.url}{first['snapshot_url']}") as response:
                    snapshot = (response.status, response.content_type, await response.read())
        # Stop just after a clip was saved, before the next motion: a clip cut by the stop has no
        # peak frame, so no snapshot, and whether the stop cut one depended on the machine's speed.
        count = cam_clips()

        def quiet() -> bool:
            status = hub.cameras["cam"].status()
            return not status["recording"]["recording"] and not status["motion"]["active"]

        await wait_until(lambda: cam_clips() > count and quiet(), "a saved clip and no motion after it")
        stop.set()
        await asyncio.wait_for(task, 30)
        stopped = time.time()
        collector.cancel()
    finally:
        await server.stop()
    from camhub.store.db import connect

    db = connect(data / "index.db", readonly=True)
    clips = query_clips(db, oldest_first=True)
    db.close()
    return {
        "data": data,
        "clips": clips,
        "saved": saved,
        "received": received,
        "loop_start": server.loop_start,
        "started": started,
        "stopped": stopped,
        "page": page,
        "ranged": ranged,
        "snapshot": snapshot,
    }


async def wait_until(condition: Callable[[], bool], what: str) -> None:
    end = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > end:
            pytest.fail(f"waited {DEADLINE:g} s for {what}")
        await asyncio.sleep(0.1)


def windows(record: dict[str, Any], scene: Scene) -> list[tuple[float, float]]:
    """Ground-truth motion in wall-clock time, for windows wholly inside the recording."""
    out = []
    base = record["loop_start"]
    loop = 0
    while base + loop * scene.duration < record["stopped"]:
        for a, b in scene.motion_windows():
            ws, we = base + loop * scene.duration + a, base + loop * scene.duration + b
            if ws > record["started"] + 3 and we + POST + GOP + 2 < record["stopped"]:
                out.append((ws, we))
        loop += 1
    return out


def test_each_motion_window_is_one_clip_covering_it(recorded: dict[str, Any], test_scene: Scene) -> None:
    clips = [c for c in recorded["clips"] if c.camera == "cam"]
    expected = windows(recorded, test_scene)
    assert len(expected) >= 2
    for ws, we in expected:
        overlapping = [c for c in clips if c.start_time < we and c.end_time > ws]
        assert len(overlapping) == 1, (ws, we, clips)
        clip = overlapping[0]
        # The span covers the window plus pre- and post-roll, within one GOP (the clip starts
        # at a keyframe, and an RTSP client joins the loop at a keyframe too).
        assert abs(clip.start_time - (ws - PRE)) <= GOP + 0.5, (clip, ws)
        assert -1.0 <= clip.end_time - (we + POST) <= GOP + 1.5, (clip, we)
        assert clip.start_time <= ws and clip.end_time >= we
    # Nothing else: every clip of the camera is one of those windows (or cut by start/stop).
    assert len(clips) <= len(expected) + 2


def test_no_clip_for_light_switches(recorded: dict[str, Any]) -> None:
    assert [c for c in recorded["clips"] if c.camera == "lights"] == []


def test_clips_are_h264_at_source_size_and_byte_identical(recorded: dict[str, Any]) -> None:
    clips = [c for c in recorded["clips"] if c.camera == "cam"]
    received = [nal_units(bytes(p.packet)) for p in recorded["received"]]
    assert clips
    for clip in clips:
        path = recorded["data"] / clip.path
        info = ffprobe(path)
        video = info["streams"][0]
        assert (video["codec_name"], video["width"], video["height"]) == ("h264", 1280, 720)
        assert abs(float(info["format"]["duration"]) - clip.duration) < 0.5
        assert path.stat().st_size == clip.bytes
        packets = clip_packets(path)
        start = received.index(packets[0])
        assert packets == received[start : start + len(packets)], "stream copy changed the video data"
        assert sum(map(len, packets[0])) > 1000  # a real keyframe, not an empty match
        assert recorded["received"][start].keyframe
        # Snapshot and thumbnail of the peak frame, written beside the clip.
        assert clip.snapshot_path and (recorded["data"] / clip.snapshot_path).read_bytes().startswith(b"\xff\xd8")
        assert clip.peak_motion and clip.peak_motion > 0
    assert {c.id for c in recorded["saved"]} <= {c.id for c in recorded["clips"]}


def test_clip_api_serves_ranges_and_snapshots(recorded: dict[str, Any]) -> None:
    status, content_range, body = recorded["ranged"]
    assert status == 206 and content_range.startswith("bytes 0-99/") and len(body) == 100
    assert body[4:8] == b"ftyp"
    status, content_type, jpeg = recorded["snapshot"]
    assert status == 200 and content_type == "image/jpeg" and jpeg.startswith(b"\xff\xd8")
    assert all(c["camera"] == "cam" for c in recorded["page"]["clips"])


def test_check_and_clips_commands_agree(recorded: dict[str, Any]) -> None:
    data = str(recorded["data"])
    result = subprocess.run(
        [sys.executable, "-m", "camhub.cli.main", "check", "--data", data], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    listed = subprocess.run(
        [sys.executable, "-m", "camhub.cli.main", "clips", "--data", data, "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [r["id"] for r in rows] == [c.id for c in recorded["clips"]]
