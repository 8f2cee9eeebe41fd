"""Shared fixtures: simulated cameras for any test that needs a real camera.

- `sim_cache`: session directory of scene renders (set CAMHUB_SIM_CACHE to
  keep renders across runs);
- `test_scene` / `hevc_test_scene`: short scenes (10 s and 4 s loops, 1280x720
  main + 640x360 sub, 15 fps) and `sim_rendering` / `hevc_rendering`;
- `rtsp_server`: one session `RtspServer` serving camera "cam" (H.264) and
  "hevc" (H.265); skipped, with the reason, when /usr/bin/python3 lacks
  GstRtspServer;
- `rtsp_server_factory`: builds extra servers (e.g. to stop and restart),
  stopped after the test;
- `http_sim`: one session `SimHttpServer` (cameras "cam" and "hevc") on its
  own loop thread, so blocking PyAV reads in tests cannot starve it;
- `clock` (a `FakeClock`), `sample_event` and `make_log`: real audit logs in
  tmp_path for the audit, privacy and security tests;
- `household_login`: logs in to a running hub as its first owner and changes
  the one-time password, returning a cookie-carrying `aiohttp.ClientSession`;
- `mosquitto`: a running Mosquitto of the test's own on a free loopback port,
  with a password file (tests/mqtt_broker.py: `Broker`, `Subscriber`).
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import camhub.config as camhub_config
from camhub.audit import AuditLog, ConsentRequested, HubStarted
from camhub.clock import ManualClock as FakeClock
from camhub.sim.http_server import SimHttpServer
from camhub.sim.loop_thread import LoopThread
from camhub.sim.render import Rendering, render_scene
from camhub.sim.rtsp import RtspServer, rtsp_available
from camhub.sim.scene import MovingObject, Scene

from .mqtt_broker import Broker, broker_in

TEST_SCENE = Scene(
    name="test",
    width=1280,
    height=720,
    fps=15,
    duration=10.0,
    objects=(MovingObject(start=(-0.1, 0.6), end=(1.1, 0.6), t0=2.0, t1=5.0, size=(0.2, 0.15), color=(30, 60, 200)),),
)
HEVC_TEST_SCENE = Scene(
    name="test-hevc",
    width=1280,
    height=720,
    fps=15,
    duration=4.0,
    codec="hevc",
    objects=(
        MovingObject(
            start=(0.1, 0.5), end=(0.9, 0.5), t0=1.0, t1=3.0, size=(0.1, 0.2), color=(200, 60, 30), shape="ellipse"
        ),
    ),
)

# Discovery defaults to every interface (discovery.interfaces: all), as a home wants. This machine has
# other interfaces, and mDNS or WS-Discovery from a test must never leave loopback: every hub a test
# builds in this process defaults to 127.0.0.1 instead. Tests that start `camhub run` in a subprocess
# write `discovery: {interfaces: [127.0.0.1]}` (LOOPBACK_DISCOVERY) into their config themselves.
camhub_config.DiscoveryConfig.model_fields["interfaces"].default = ("127.0.0.1",)
camhub_config.DiscoveryConfig.model_rebuild(force=True)
camhub_config.HubConfig.model_fields["discovery"].default = camhub_config.DiscoveryConfig()
camhub_config.HubConfig.model_rebuild(force=True)
LOOPBACK_DISCOVERY = "discovery: {interfaces: [127.0.0.1]}\n"


def skip_or_fail_without_rtsp() -> None:
    """CI sets CAMHUB_REQUIRE_RTSP=1: there a missing RTSP server is a failure, not a skip."""
    if rtsp_available():
        return
    if os.environ.get("CAMHUB_REQUIRE_RTSP") == "1":
        pytest.fail(RTSP_SKIP_REASON + "; CAMHUB_REQUIRE_RTSP=1 requires it")
    pytest.skip(RTSP_SKIP_REASON)


RTSP_SKIP_REASON = (
    "/usr/bin/python3 cannot import gi.repository.GstRtspServer (apt-get install python3-gi gir1.2-gst-rtsp-server-1.0)"
)


@pytest.fixture(scope="session")
def sim_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    keep = os.environ.get("CAMHUB_SIM_CACHE")
    return Path(keep) if keep else tmp_path_factory.mktemp("sim-cache")


@pytest.fixture(scope="session")
def test_scene() -> Scene:
    return TEST_SCENE


@pytest.fixture(scope="session")
def hevc_test_scene() -> Scene:
    return HEVC_TEST_SCENE


@pytest.fixture(scope="session")
def sim_rendering(sim_cache: Path) -> Rendering:
    return render_scene(TEST_SCENE, sim_cache)


@pytest.fixture(scope="session")
def hevc_rendering(sim_cache: Path) -> Rendering:
    return render_scene(HEVC_TEST_SCENE, sim_cache)


@pytest.fixture(scope="session")
def rtsp_server(sim_rendering: Rendering, hevc_rendering: Rendering) -> Iterator[RtspServer]:
    """A running RTSP server: rtsp_server.url("cam", "main"), url("hevc", "sub")."""
    skip_or_fail_without_rtsp()
    server = RtspServer({"cam": sim_rendering, "hevc": hevc_rendering})
    # The server is a child process, not bound to any event loop, so it can
    # outlive the short loops used to start and stop it.
    asyncio.run(server.start())
    yield server
    asyncio.run(server.stop())


@pytest.fixture
def rtsp_server_factory(sim_rendering: Rendering) -> Iterator[Callable[..., RtspServer]]:
    """Make (not start) RtspServers serving camera "cam"; all stopped afterwards."""
    skip_or_fail_without_rtsp()
    made: list[RtspServer] = []

    def make(port: int = 0, credentials: tuple[str, str] | None = None) -> RtspServer:
        server = RtspServer({"cam": sim_rendering}, port=port, credentials=credentials)
        made.append(server)
        return server

    yield make
    for server in made:
        if server.running:
            asyncio.run(server.stop())


@pytest.fixture(scope="session")
def http_sim(sim_rendering: Rendering, hevc_rendering: Rendering) -> Iterator[SimHttpServer]:
    """A running HTTP simulator: http_sim.url("cam", "mjpeg"), url("hevc", "main.h265")."""
    with LoopThread("http-sim") as loop:
        server = SimHttpServer({"cam": sim_rendering, "hevc": hevc_rendering})
        loop.run(server.start())
        yield server
        loop.run(server.stop())


@pytest.fixture(scope="session")
def require_rtsp() -> None:
    """For tests that start their own RtspServer: skip (or, in CI, fail) without GStreamer's."""
    skip_or_fail_without_rtsp()


@pytest.fixture(scope="session")
def make_video(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Real H.264 test videos made by ffmpeg's test source; one file per set of arguments.

    make_video(size="320x240", rate=15, seconds=2, gop=None, pattern="testsrc", fragmented=False)
    """
    import subprocess

    folder = tmp_path_factory.mktemp("videos")
    made: dict[tuple[object, ...], Path] = {}

    def make(
        size: str = "320x240",
        rate: int = 15,
        seconds: float = 2,
        gop: int | None = None,
        pattern: str = "testsrc",
        fragmented: bool = False,
    ) -> Path:
        key = (size, rate, seconds, gop, pattern, fragmented)
        if key not in made:
            path = folder / f"{pattern}-{size}-{rate}-{seconds}-{gop}-{int(fragmented)}.mp4"
            args = [
                "ffmpeg",
                "-loglevel",
                "error",
                "-f",
                "lavfi",
                "-i",
                f"{pattern}=size={size}:rate={rate}",
                "-t",
                str(seconds),
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-pix_fmt",
                "yuv420p",
            ]
            args += ["-g", str(gop)] if gop else []
            args += ["-movflags", "frag_keyframe+empty_moov"] if fragmented else []
            subprocess.run([*args, str(path)], check=True)
            made[key] = path
        return made[key]

    return make


@pytest.fixture(scope="session")
def clip_mp4(make_video: Callable[..., Path]) -> Path:
    """A real 2 s, 320x240 H.264 fragmented MP4, as the recorder writes them."""
    return make_video(size="320x240", rate=10, seconds=2, fragmented=True)


@pytest.fixture
def make_clips(clip_mp4: Path) -> Callable[[Path, list[tuple[Any, ...]]], list]:
    """Put real clip files and their index rows in a data folder: make_clips(data, [(camera, start), ...]).

    A third item in a tuple is the clip's motion zones: (camera, start, ("drive", "gate")).
    """
    import shutil

    from camhub.store.files import clip_path, sha256_of
    from camhub.store.index import ClipRecord, insert_clip, open_index

    def make(data: Path, clips: list[tuple[Any, ...]]) -> list[ClipRecord]:
        db = open_index(data)
        records = []
        try:
            for camera, start, *zones in clips:
                relative = clip_path(data, camera, start)
                (data / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(clip_mp4, data / relative)
                record = ClipRecord(
                    camera,
                    start,
                    start + 2,
                    2.0,
                    clip_mp4.stat().st_size,
                    "h264",
                    320,
                    240,
                    sha256_of(clip_mp4),
                    str(relative),
                    zones=tuple(sorted(zones[0])) if zones else (),
                )
                clip_id = db.write_blocking(lambda d, r=record: insert_clip(d, r))
                records.append(ClipRecord(**{**record.as_json(), "id": clip_id}))
        finally:
            db.close()
        return records

    return make


HOUSEHOLD_PASSWORD = "a household passphrase for tests"

HouseholdLogin = Callable[[str, str | None], Awaitable[tuple[aiohttp.ClientSession, str]]]


@pytest.fixture(scope="session")
def household_login() -> HouseholdLogin:
    """`http, password = await household_login(hub.url, hub.initial_password)`.

    Logs in as "owner" with the one-time password, changes it to `password`
    (needed later for POST /api/auth/reauth) and returns the session, logged
    in with the cookie. The caller closes it (`async with http:`).
    """

    async def login(base_url: str, initial_password: str | None) -> tuple[aiohttp.ClientSession, str]:
        assert initial_password, "the hub printed no one-time password: not its first start with this data folder"
        # unsafe=True: the default jar ignores cookies from bare IP addresses like 127.0.0.1.
        http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        try:
            credentials = {"username": "owner", "password": initial_password}
            async with http.post(f"{base_url}/api/auth/login", json=credentials) as response:
                assert response.status == 200, await response.text()
            change = {"current_password": initial_password, "new_password": HOUSEHOLD_PASSWORD}
            async with http.post(f"{base_url}/api/auth/password", json=change) as response:
                assert response.status == 200, await response.text()
                assert (await response.json())["must_change_password"] is False
        except BaseException:
            await http.close()
            raise
        return http, HOUSEHOLD_PASSWORD

    return login


# A scene in constant motion: something crosses the frame all the time, so a hub records clip after clip.
BUSY = Scene(
    name="busy",
    width=640,
    height=360,
    fps=15,
    duration=6.0,
    objects=(
        MovingObject(start=(0.1, 0.5), end=(0.9, 0.5), t0=0.0, t1=3.0, size=(0.15, 0.2)),
        MovingObject(start=(0.9, 0.5), end=(0.1, 0.5), t0=3.0, t1=6.0, size=(0.15, 0.2)),
    ),
)


@pytest.fixture(scope="module")
def busy_camera(require_rtsp: None, sim_cache: Path) -> Iterator[RtspServer]:
    """The busy scene over Debian's GStreamer RTSP server (main and sub stream)."""
    server = RtspServer({"busy": render_scene(BUSY, sim_cache)})
    asyncio.run(server.start())
    yield server
    asyncio.run(server.stop())


@pytest.fixture
def busy_config(busy_camera: RtspServer) -> Callable[[Path], Path]:
    """write(folder) -> the path of a camhub.yaml recording the busy camera into folder/data, in short clips."""

    def write(folder: Path) -> Path:
        path = folder / "camhub.yaml"
        path.write_text(
            f"data_dir: {folder / 'data'}\n" + LOOPBACK_DISCOVERY + "retention: {min_free_bytes: 0}\n"
            "reconnect: {initial: 0.2, cap: 1}\n"
            "cameras:\n"
            "  busy:\n"
            "    inputs:\n"
            f"      - {{url: '{busy_camera.url('busy', 'main')}', roles: [record]}}\n"
            f"      - {{url: '{busy_camera.url('busy', 'sub')}', roles: [detect]}}\n"
            "    motion: {post_roll: 1, max_event_length: 3, start_frames: 1}\n"
            "    record: {pre_roll: 1}\n"
        )
        return path

    return write


# Audit logs: a manual clock and real logs in tmp_path (tests/audit, tests/privacy, tests/security).


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1_700_000_000.0)


def sample_event(i: int, now: float) -> HubStarted | ConsentRequested:
    if i % 3:
        return HubStarted(time=now, actor="hub", version=f"0.{i}")
    return ConsentRequested(
        time=now,
        actor=f"officer-{i}",
        request_id=f"r{i}",
        identity="Officer Ünal",
        organisation="City PD",
        contact="desk@example.org",
        purpose='burglary "nearby"',
        case_reference=None,
        cameras=("front", "drive"),
        start_s=1_699_990_000,
        end_s=1_699_993_600,
        wanted_by_s=1_700_000_000,
        expires_s=1_700_086_400,
    )


MakeLog = Callable[..., Awaitable[Path]]


@pytest.fixture
def make_log(tmp_path: Path, clock: FakeClock) -> MakeLog:
    """Build a closed log of `n` entries (plus entry 0) in batches of `batch`; returns its data folder."""

    async def make(n: int, batch: int = 1, data: Path | None = None) -> Path:
        folder = data or tmp_path / "data"
        log = await AuditLog.open(folder, hub_id="home", clock=clock)
        try:
            for start in range(0, n, batch):
                clock.advance(1)
                await asyncio.gather(
                    *(log.append(sample_event(i, clock())) for i in range(start, min(n, start + batch)))
                )
        finally:
            await log.close()
        return folder

    return make


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Broker]:
    """A started `Broker` (tests/mqtt_broker.py); skipped without mosquitto, failed so in CI; stopped after."""
    broker = broker_in(tmp_path / "mosquitto")
    broker.start()
    yield broker
    broker.cleanup()


def free_port() -> int:
    """A TCP port free on 127.0.0.1 just now, for a server a test starts in another process."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
