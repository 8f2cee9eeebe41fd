"""The simulator end to end: cameras, URLs, zeroconf on loopback, serve_forever."""

from __future__ import annotations

import asyncio
import urllib.request
from pathlib import Path

import av
import pytest
from zeroconf import ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from camhub.sim.render import Rendering
from camhub.sim.rtsp import rtsp_available
from camhub.sim.scene import Scene
from camhub.sim.simulator import RTSP_SERVICE, SIM_SERVICE, Simulator, run_sim, serve_forever

pytestmark = pytest.mark.timeout(90)


async def browse(service_type: str, want: set[str], timeout: float = 10.0) -> dict[str, AsyncServiceInfo]:
    """Browse on 127.0.0.1 only until every name in `want` resolved."""
    found: dict[str, AsyncServiceInfo] = {}
    names: asyncio.Queue[str] = asyncio.Queue()

    def on_change(zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange) -> None:
        if state_change is ServiceStateChange.Added:
            names.put_nowait(name)

    azc = AsyncZeroconf(interfaces=["127.0.0.1"])
    browser = AsyncServiceBrowser(azc.zeroconf, [service_type], handlers=[on_change])
    try:
        async with asyncio.timeout(timeout):
            while not want <= set(found):
                name = await names.get()
                info = AsyncServiceInfo(service_type, name)
                if await info.async_request(azc.zeroconf, 3000):
                    found[name] = info
    finally:
        await browser.async_cancel()
        await azc.async_close()
    return found


async def test_simulator_serves_and_announces_on_loopback(
    sim_cache: Path, test_scene: Scene, sim_rendering: Rendering
) -> None:
    async with Simulator([("front", test_scene)], cache_dir=sim_cache) as sim:
        (cam,) = sim.cameras
        assert cam.name == "front" and cam.motion_windows == [(2.0, 5.0)]
        assert cam.mjpeg == f"http://127.0.0.1:{sim.http.port}/front/mjpeg"
        assert cam.http_main.endswith("/front/main.h264")
        assert cam.http_sub.endswith("/front/sub.h264")
        assert cam.snapshot.endswith("/front/snapshot.jpg")
        if rtsp_available():
            assert cam.rtsp_main == f"rtsp://127.0.0.1:{sim.rtsp.port}/front/main"
            assert cam.rtsp_sub == f"rtsp://127.0.0.1:{sim.rtsp.port}/front/sub"
        body = await asyncio.to_thread(lambda: urllib.request.urlopen(cam.snapshot, timeout=5).read())
        assert body[:2] == b"\xff\xd8"

        found = await browse(SIM_SERVICE, {f"front.{SIM_SERVICE}"})
        info = found[f"front.{SIM_SERVICE}"]
        assert info.parsed_addresses() == ["127.0.0.1"]
        assert info.port == sim.http.port
        assert info.properties[b"mjpeg"] == b"/front/mjpeg"
        assert info.properties[b"main"] == b"/front/main.h264"
        if rtsp_available():
            rtsp = (await browse(RTSP_SERVICE, {f"front.{RTSP_SERVICE}"}))[f"front.{RTSP_SERVICE}"]
            assert rtsp.port == sim.rtsp.port
            assert rtsp.properties[b"path"] == b"/front/main"
            with av.open(
                f"rtsp://127.0.0.1:{rtsp.port}/front/main", options={"rtsp_transport": "tcp"}, timeout=(5, 5)
            ) as c:
                assert c.streams.video[0].codec_context.width == 1280
    assert sim.http is None and sim.rtsp is None


async def test_ground_truth_in_wall_clock(sim_cache: Path, test_scene: Scene, sim_rendering: Rendering) -> None:
    async with Simulator([("a", test_scene)], cache_dir=sim_cache, rtsp=False, announce=False) as sim:
        cam = sim.cameras[0]
        start = cam.loop_start
        assert cam.rtsp_main is None and cam.rtsp_sub is None
        # Loop is 10 s with motion at 2-5 s: two loops give two windows.
        assert cam.motion_windows_between(start, start + 20) == [(start + 2, start + 5), (start + 12, start + 15)]
        assert cam.motion_windows_between(start + 5.5, start + 11.5) == []


async def test_serve_forever_prints_urls_and_stops(
    sim_cache: Path, test_scene: Scene, sim_rendering: Rendering
) -> None:
    lines: list[str] = []
    sim = Simulator(
        [("yard", test_scene)], cache_dir=sim_cache, announce=False, rtsp_credentials=("admin", "hunter2-pw")
    )
    await serve_forever(sim, seconds=0.2, out=lines.append)
    text = "\n".join(lines)
    assert "/yard/mjpeg" in text and "/yard/snapshot.jpg" in text and "/yard/main.h264" in text
    assert "motion    2-5s" in text
    assert "hunter2-pw" not in text  # credentials never printed
    if rtsp_available():
        assert "rtsp://admin:***@127.0.0.1" in text
    assert sim.http is None  # stopped


async def test_duplicate_or_bad_names_are_rejected(sim_cache: Path, test_scene: Scene) -> None:
    with pytest.raises(ValueError, match="unique"):
        Simulator([("a", test_scene), ("a", test_scene)], cache_dir=sim_cache)
    with pytest.raises(ValueError, match="'a/b'"):
        Simulator([("a/b", test_scene)], cache_dir=sim_cache)
    with pytest.raises(ValueError, match="unknown scene 'nope'"):
        await run_sim(["nope"], cache_dir=sim_cache)
