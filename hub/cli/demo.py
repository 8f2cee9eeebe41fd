"""`camhub demo`: simulated cameras on loopback plus the hub, until a signal or --seconds.

The demo chooses where the simulator will serve its cameras (RTSP through
Debian's GStreamer where it is installed, HTTP otherwise), builds a hub
config pointing there, and starts the hub at once: the dashboard answers
within a second or two, its cameras saying "starting" while the simulator
renders the scenes (cached in `<data>/sim-cache`, so only the first start
waits). Once the simulator serves them the hub's cameras start, and with
--seconds the demo stops that long after. Everything binds 127.0.0.1.
Where Debian's mosquitto is installed the demo starts its own broker on a
free loopback port (user camhub, a new random password each start, files in
`<data>/mosquitto`), points the hub's MQTT client at it, prints one line
with the command to watch it, and stops it with the demo; without mosquitto
it prints how to add one and runs without MQTT. The broker's password goes
to stdout only, never to the log.
On the first start with a data folder it prints the owner's one-time
password as `camhub demo: owner login: user "owner", one-time password <pw>
(change it at first login)`, for people and scripts. Exit codes: 0 stopped
cleanly, 2 a --cameras count the demo does not have (the caller prints
`camhub: <message>`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shlex
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from camhub.cli.mosquitto import INSTALL_HINT, BrokerError, LocalMosquitto, find_program
from camhub.errors import ConfigError, HubError
from camhub.terminal import escape

if TYPE_CHECKING:
    from camhub.app import Hub
    from camhub.sim.scene import Scene
    from camhub.sim.simulator import Simulator

# Cameras the demo shows, in order; --cameras N takes the first N.
DEMO_SCENES = ("driveway", "porch", "garden", "still", "driveway-hevc")
# One more simulated camera than the config names, announced like the rest: discovery finds it and it
# waits for adoption, so a newcomer sees discovery work. Its scene is rendered already (the first one).
UNCONFIGURED = "side-gate"


@dataclass(frozen=True)
class DemoPlan:
    """Where the simulated cameras will be served, chosen before their scenes render, so that the hub can
    start (and answer) first: its cameras point at these addresses and start once the streams exist."""

    http_port: int
    rtsp_port: int | None  # None: no GStreamer RTSP server here; HTTP serves the streams

    def inputs(self, name: str, scene: Scene) -> list[dict[str, Any]]:
        """Record the main stream, detect on the 640x360 sub-stream, as a real camera is set up."""
        if self.rtsp_port is not None:
            base = f"rtsp://127.0.0.1:{self.rtsp_port}/{name}"
            return [{"url": f"{base}/main", "roles": ["record"]}, {"url": f"{base}/sub", "roles": ["detect"]}]
        ext = "h264" if scene.codec == "h264" else "h265"  # as camhub.sim.render names the files
        base = f"http://127.0.0.1:{self.http_port}/{name}"
        return [{"url": f"{base}/main.{ext}", "roles": ["record"]}, {"url": f"{base}/mjpeg", "roles": ["detect"]}]


def loopback_port() -> int:
    """A TCP port free on 127.0.0.1 now, for a server started a little later (the simulator's)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def demo_config(
    plan: DemoPlan, scenes: list[tuple[str, Scene]], data_dir: Path, port: int, broker: LocalMosquitto | None = None
) -> dict[str, Any]:
    config: dict[str, Any] = {
        "data_dir": str(data_dir),
        "web": {"host": "127.0.0.1", "port": port},
        "discovery": {"enabled": True, "interfaces": ["127.0.0.1"]},
        "reconnect": {"initial": 0.5, "cap": 5.0},
        "cameras": {name: {"inputs": plan.inputs(name, scene)} for name, scene in scenes if name != UNCONFIGURED},
    }
    if broker is not None:
        config["mqtt"] = broker.hub_mqtt()
    return config


@contextlib.asynccontextmanager
async def demo_broker(data_dir: Path, binary: Path | None) -> AsyncIterator[LocalMosquitto | None]:
    """The demo's own Mosquitto, or None (having said why) when there is none; stopped on the way out."""
    if binary is None:
        print(
            f"camhub demo: no MQTT broker: Mosquitto is not installed ({INSTALL_HINT}, then start the demo "
            "again to see camhub's topics and Home Assistant discovery); running without MQTT",
            flush=True,
        )
        yield None
        return
    try:
        broker = LocalMosquitto(data_dir / "mosquitto", binary=binary)
        await asyncio.to_thread(broker.start)
    except BrokerError as exc:
        reason = str(exc).splitlines()[0]  # the log's tail that follows is for tests, not for this one line
        print(f"camhub demo: no MQTT broker: {escape(reason)}; running without MQTT", flush=True)
        yield None
        return
    try:
        print(f"camhub demo: {watch_line(broker)}", flush=True)
        yield broker
    finally:
        await asyncio.to_thread(broker.stop)


def watch_line(broker: LocalMosquitto) -> str:
    """Where the demo's broker is and the command that shows what camhub publishes on it."""
    login = ["-h", broker.host, "-p", str(broker.port), "-u", broker.username, "-P", broker.password]
    watch = shlex.join(["mosquitto_sub", *login, "-t", "camhub/#", "-v"])
    tools = "" if find_program("mosquitto_sub") else " (mosquitto_sub is in Debian's mosquitto-clients)"
    return f"MQTT broker (Mosquitto) on {broker.host}:{broker.port}, user {broker.username}; watch it: {watch}{tools}"


async def run_demo(seconds: float | None, data_dir: Path, port: int, cameras: int = 3) -> None:
    if not 1 <= cameras <= len(DEMO_SCENES):
        raise ConfigError(f"--cameras {cameras}: the demo has 1 to {len(DEMO_SCENES)} cameras")
    # Imported here, not at the top: the parser is built for every command, and only this one runs the
    # hub and renders scenes.
    from camhub.app import Hub, announce_first_login, serve
    from camhub.config import parse_config
    from camhub.sim.rtsp import rtsp_available
    from camhub.sim.scene import BUILTIN_SCENES
    from camhub.sim.simulator import Simulator

    data_dir = data_dir.resolve()  # noqa: ASYNC240 (once, before the loop has anything else to do)
    scenes = [(name, BUILTIN_SCENES[name]) for name in DEMO_SCENES[:cameras]]
    scenes.append((UNCONFIGURED, BUILTIN_SCENES[DEMO_SCENES[0]]))
    # The hub starts first and answers at once; its cameras say "starting" until the simulator, which
    # renders the scenes first (up to half a minute on a busy machine, once: they are cached), serves them.
    rtsp = await asyncio.to_thread(rtsp_available)
    plan = DemoPlan(http_port=loopback_port(), rtsp_port=loopback_port() if rtsp else None)
    kind = "RTSP (GStreamer)" if rtsp else "HTTP (GStreamer RTSP server not installed)"
    async with demo_broker(data_dir, find_program("mosquitto")) as broker:
        streams = asyncio.Event()  # set once the simulator serves every camera: the hub's cameras start then
        stop = asyncio.Event()
        hub = Hub(parse_config(demo_config(plan, scenes, data_dir, port, broker), "<demo>"), cameras_after=streams)
        sim = Simulator(
            scenes,
            cache_dir=data_dir / "sim-cache",
            http_port=plan.http_port,
            rtsp_port=plan.rtsp_port or 0,
            rtsp=rtsp,
            progress=_progress,
        )
        print(
            f"camhub demo: dashboard on http://127.0.0.1:{port}; its cameras show 'starting' while "
            f"{cameras} simulated camera(s) render (cached in {data_dir / 'sim-cache'})",
            flush=True,
        )
        tasks = [
            asyncio.create_task(announce_first_login(hub, prefix="camhub demo: ")),
            asyncio.create_task(report_when_online(hub, streams)),
            asyncio.create_task(_simulate(sim, kind, streams, stop, seconds)),
        ]
        try:
            await serve(hub, stop=stop)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await sim.stop()
        failed = tasks[2].exception() if tasks[2].done() and not tasks[2].cancelled() else None
        if failed is not None:
            raise failed
    print("camhub demo: stopped", flush=True)


async def _simulate(
    sim: Simulator, kind: str, streams: asyncio.Event, stop: asyncio.Event, seconds: float | None
) -> None:
    """Render and serve the simulated cameras, then let the hub's cameras start; with `seconds`, stop the
    demo that long after (the time counts from when there is something to see). A failure stops it."""
    try:
        await sim.start()
    except OSError as exc:  # the port chosen before rendering was taken meanwhile
        stop.set()
        ports = f"{sim.http_port}" + (f" and {sim.rtsp_port}" if sim.rtsp_port else "")
        raise HubError(f"the simulator could not serve on 127.0.0.1:{ports}: {exc}; start the demo again") from exc
    except BaseException:
        stop.set()
        raise
    streams.set()
    print(f"camhub demo: cameras served over {kind}", flush=True)
    print(
        f"camhub demo: {UNCONFIGURED} is announced but not configured: discovery finds it, and it waits for "
        f"adoption in the dashboard and in `camhub discover --interface 127.0.0.1`",
        flush=True,
    )
    if seconds is not None:
        print(f"camhub demo: stopping by itself after {seconds:g} s (Ctrl-C stops it sooner)", flush=True)
        await asyncio.sleep(seconds)
        stop.set()


async def report_when_online(hub: Hub, served: asyncio.Event, patience: float = 30.0) -> None:
    """Say once that every camera streams, or after `patience` seconds which do not and why."""
    await hub.ready.wait()
    await served.wait()
    deadline = time.monotonic() + patience
    while True:
        status = [camera.status() for camera in hub.cameras.values()]
        online = [s for s in status if s["online"] and s["last_frame_time"]]
        if len(online) == len(status) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    print(f"camhub demo: {len(online)} of {len(status)} cameras online", flush=True)
    for s in status:
        streams = ", ".join(f"{i['codec']} {i['width']}x{i['height']}" for i in s["inputs"] if i["codec"])
        print(
            f"  {s['name']}: {s['state']}; {streams or 'no stream'}; {escape(s['last_error'] or 'no errors')}",
            flush=True,
        )


def _progress(message: str) -> None:
    print(f"  {message}", flush=True)


def _demo(args: argparse.Namespace) -> int:
    asyncio.run(run_demo(seconds=args.seconds, data_dir=Path(args.data), port=args.port, cameras=args.cameras))
    return 0


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `demo` to the `camhub` subparsers."""
    demo = subparsers.add_parser("demo", help="simulated cameras on loopback plus the hub")
    demo.add_argument(
        "--seconds", type=float, help="stop cleanly this many seconds after the simulated cameras are served"
    )
    demo.add_argument("--data", default="demo-data", help="data folder (default: ./demo-data)")
    demo.add_argument("--port", type=int, default=8971, help="dashboard port (default: 8971)")
    demo.add_argument("--cameras", type=int, default=3, help="how many simulated cameras (default: 3)")
    demo.set_defaults(func=_demo)
