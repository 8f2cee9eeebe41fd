"""The simulator: rendered scenes served as cameras and announced on loopback.

`Simulator` renders the chosen scenes (cached), starts the HTTP server and,
when Debian's GStreamer RTSP server is usable and wanted, the RTSP server,
and announces every camera over zeroconf on 127.0.0.1 only. `sim.cameras`
lists each camera's URLs and ground truth mapped to wall-clock time.

`serve_forever` is what `camhub sim` runs: print the URLs, then wait.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from zeroconf import ServiceInfo
from zeroconf.asyncio import AsyncZeroconf

from camhub.redact import redact_url
from camhub.sim.http_server import SimHttpServer
from camhub.sim.onvif import OnvifResponder
from camhub.sim.onvif_device import OnvifCamera, OnvifStream
from camhub.sim.render import Progress, Rendering, render_scene
from camhub.sim.rtsp import RtspServer, rtsp_available
from camhub.sim.scene import Scene

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
RTSP_SERVICE = "_rtsp._tcp.local."
SIM_SERVICE = "_camhub-sim._tcp.local."


@dataclass(frozen=True)
class SimCamera:
    name: str
    scene: Scene
    rendering: Rendering
    mjpeg: str
    snapshot: str
    http_main: str
    http_sub: str
    rtsp_main: str | None  # None when RTSP is not running
    rtsp_sub: str | None
    loop_start: float  # wall-clock epoch seconds of loop position 0

    @property
    def motion_windows(self) -> list[tuple[float, float]]:
        """Ground truth, seconds from loop start (see `Scene.motion_windows`)."""
        return self.scene.motion_windows()

    def motion_windows_between(self, start: float, end: float) -> list[tuple[float, float]]:
        """Ground-truth motion as wall-clock epoch windows overlapping [start, end]."""
        d = self.scene.duration
        out: list[tuple[float, float]] = []
        first_loop = int((start - self.loop_start) // d)
        last_loop = int((end - self.loop_start) // d)
        for k in range(first_loop, last_loop + 1):
            base = self.loop_start + k * d
            out += [(base + a, base + b) for a, b in self.motion_windows if base + b >= start and base + a <= end]
        return out


def sim_mac(name: str, port: int) -> str:
    """A locally administered MAC address for the simulated camera `name` served on `port`: two
    simulators on one machine (the demo and `camhub sim`) never give two cameras one address."""
    digest = hashlib.sha256(f"{name}:{port}".encode()).digest()
    return "02:" + ":".join(f"{b:02x}" for b in digest[:5])


class Simulator:
    """Simulated cameras on 127.0.0.1; use `async with Simulator(...) as sim`."""

    def __init__(
        self,
        scenes: Sequence[tuple[str, Scene]],
        cache_dir: Path | str,
        http_port: int = 0,
        rtsp_port: int = 0,
        rtsp: bool = True,
        announce: bool = True,
        rtsp_credentials: tuple[str, str] | None = None,
        progress: Progress | None = None,
        onvif: bool = True,
    ) -> None:
        names = [name for name, _ in scenes]
        if len(set(names)) != len(names):
            raise ValueError(f"camera names must be unique, got {names}")
        for name in names:
            if not name or "/" in name or name.startswith("."):
                raise ValueError(f"camera name {name!r} must be non-empty, without '/'")
        self.scenes = list(scenes)
        self.cache_dir = Path(cache_dir)
        self.http_port = http_port
        self.rtsp_port = rtsp_port
        self.want_rtsp = rtsp
        self.announce = announce
        self.want_onvif = onvif  # answer ONVIF WS-Discovery probes on loopback (with RTSP only)
        self.rtsp_credentials = rtsp_credentials
        self.progress = progress
        self.loop_start = 0.0
        self.cameras: list[SimCamera] = []
        self.http: SimHttpServer | None = None
        self.rtsp: RtspServer | None = None
        self._zeroconf: AsyncZeroconf | None = None
        self.onvif: OnvifResponder | None = None
        self._services: list[ServiceInfo] = []

    def camera(self, name: str) -> SimCamera:
        for cam in self.cameras:
            if cam.name == name:
                return cam
        raise KeyError(f"no simulated camera named {name!r}")

    async def start(self) -> None:
        renderings: dict[str, Rendering] = {}
        for name, scene in self.scenes:
            # Rendering is CPU work (numpy, x264): keep it off the event loop.
            renderings[name] = await asyncio.to_thread(render_scene, scene, self.cache_dir, self.progress)
        self.loop_start = time.time()
        try:
            self.http = SimHttpServer(renderings, port=self.http_port, loop_start=self.loop_start)
            await self.http.start()
            if self.want_rtsp and await asyncio.to_thread(rtsp_available):
                self.rtsp = RtspServer(
                    renderings, port=self.rtsp_port, credentials=self.rtsp_credentials, loop_start=self.loop_start
                )
                await self.rtsp.start()
            elif self.want_rtsp:
                log.warning("RTSP disabled: /usr/bin/python3 lacks GstRtspServer")
            self.cameras = [self._camera(name, renderings[name]) for name, _ in self.scenes]
            if self.announce:
                await self._announce()
            if self.want_onvif and self.rtsp is not None:
                self.onvif = OnvifResponder(self._onvif_cameras(self.rtsp), credentials=self.rtsp_credentials)
                await self.onvif.start()
        except BaseException:
            await self.stop()
            raise

    def _camera(self, name: str, rendering: Rendering) -> SimCamera:
        http, rtsp, ext = self.http, self.rtsp, rendering.main.ext
        assert http is not None
        return SimCamera(
            name=name,
            scene=rendering.scene,
            rendering=rendering,
            mjpeg=http.url(name, "mjpeg"),
            snapshot=http.url(name, "snapshot.jpg"),
            http_main=http.url(name, f"main.{ext}"),
            http_sub=http.url(name, f"sub.{ext}"),
            rtsp_main=rtsp.url(name, "main") if rtsp else None,
            rtsp_sub=rtsp.url(name, "sub") if rtsp else None,
            loop_start=self.loop_start,
        )

    def _onvif_cameras(self, rtsp: RtspServer) -> list[OnvifCamera]:
        def stream(cam: SimCamera, role: str) -> OnvifStream:
            size = cam.rendering.main if role == "main" else cam.rendering.sub
            return OnvifStream(rtsp.url(cam.name, role, with_credentials=False), size.width, size.height, role)

        return [
            OnvifCamera(
                cam.name,
                (stream(cam, "main"), stream(cam, "sub")),
                mac=sim_mac(cam.name, self.http.port if self.http else 0),
                serial=f"SIM-{cam.name}",
                # Stable across restarts, as a real device's endpoint reference is.
                endpoint=uuid.uuid5(uuid.NAMESPACE_URL, f"camhub-sim/{cam.name}").urn,
            )
            for cam in self.cameras
        ]

    async def _announce(self) -> None:
        assert self.http is not None
        self._zeroconf = AsyncZeroconf(interfaces=[HOST])
        address = socket.inet_aton(HOST)
        for cam in self.cameras:
            # One MAC and serial in every announcement (and the ONVIF answer): discovery merges them into one
            # device, as with a real camera.
            maker = {
                "mac": sim_mac(cam.name, self.http.port),
                "serial": f"SIM-{cam.name}",
                "manufacturer": "camhub",
                "model": "simulated camera",
            }
            props = {
                **maker,
                "scene": cam.scene.name,
                "codec": cam.scene.codec,
                "mjpeg": f"/{cam.name}/mjpeg",
                "snapshot": f"/{cam.name}/snapshot.jpg",
                "main": f"/{cam.name}/main.{cam.rendering.main.ext}",
                "sub": f"/{cam.name}/sub.{cam.rendering.sub.ext}",
            }
            self._services.append(
                ServiceInfo(
                    SIM_SERVICE,
                    f"{cam.name}.{SIM_SERVICE}",
                    addresses=[address],
                    port=self.http.port,
                    properties=props,
                    server="camhub-sim.local.",
                )
            )
            if self.rtsp is not None:
                self._services.append(
                    ServiceInfo(
                        RTSP_SERVICE,
                        f"{cam.name}.{RTSP_SERVICE}",
                        addresses=[address],
                        port=self.rtsp.port,
                        server="camhub-sim.local.",
                        properties={
                            **maker,
                            "path": f"/{cam.name}/main",
                            "sub": f"/{cam.name}/sub",
                            "codec": cam.scene.codec,
                        },
                    )
                )
        # Probing takes ~1.5 s per name; do all names at once.
        pending = [await self._zeroconf.async_register_service(info, allow_name_change=True) for info in self._services]
        await asyncio.gather(*pending)

    async def stop(self) -> None:
        """Withdraw announcements, then stop the servers; safe to call twice."""
        onvif, self.onvif = self.onvif, None
        if onvif is not None:
            await onvif.stop()
        zc, self._zeroconf = self._zeroconf, None
        if zc is not None:
            try:
                await zc.async_unregister_all_services()
            finally:
                await zc.async_close()
            self._services = []
        rtsp, self.rtsp = self.rtsp, None
        if rtsp is not None:
            await rtsp.stop()
        http, self.http = self.http, None
        if http is not None:
            await http.stop()

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


async def serve_forever(sim: Simulator, seconds: float | None = None, out: Callable[[str], None] = print) -> None:
    """Start `sim` if needed, print each camera's URLs, run until cancelled or timed out."""
    if sim.http is None:
        await sim.start()
    try:
        for cam in sim.cameras:
            out(
                f"{cam.name} ({cam.scene.name}, {cam.scene.codec}, "
                f"{cam.scene.width}x{cam.scene.height}@{cam.scene.fps}):"
            )
            for label, url in (
                ("rtsp main", cam.rtsp_main),
                ("rtsp sub", cam.rtsp_sub),
                ("mjpeg", cam.mjpeg),
                ("snapshot", cam.snapshot),
                ("http main", cam.http_main),
                ("http sub", cam.http_sub),
            ):
                if url:
                    out(f"  {label:9} {redact_url(url)}")
            windows = ", ".join(f"{a:g}-{b:g}s" for a, b in cam.motion_windows) or "none"
            out(f"  motion    {windows} of each {cam.scene.duration:g}s loop")
        if seconds is None:
            await asyncio.Event().wait()
        else:
            await asyncio.sleep(seconds)
    finally:
        await sim.stop()


async def run_sim(
    scene_names: Sequence[str],
    cache_dir: Path | str,
    seconds: float | None = None,
    http_port: int = 0,
    rtsp_port: int = 0,
    rtsp: bool = True,
    announce: bool = True,
    rtsp_credentials: tuple[str, str] | None = None,
    out: Callable[[str], None] = print,
) -> None:
    """`camhub sim`: serve built-in scenes (camera named after its scene) until done."""
    from camhub.sim.scene import BUILTIN_SCENES

    unknown = [n for n in scene_names if n not in BUILTIN_SCENES]
    if unknown:
        raise ValueError(f"unknown scene {unknown[0]!r}; built-in scenes: {', '.join(sorted(BUILTIN_SCENES))}")
    names = list(scene_names) or sorted(BUILTIN_SCENES)
    sim = Simulator(
        [(n, BUILTIN_SCENES[n]) for n in names],
        cache_dir=cache_dir,
        http_port=http_port,
        rtsp_port=rtsp_port,
        rtsp=rtsp,
        announce=announce,
        rtsp_credentials=rtsp_credentials,
        progress=out,
    )
    await serve_forever(sim, seconds, out=out)
