"""Motion-to-MQTT latency: from the capture time of the frame that starts motion to the ON on the broker.

    .venv/bin/python bench/latency.py [--events 200] [--phases staggered,lockstep] [--broker default,nodelay]

Per run: Debian's mosquitto on a free 127.0.0.1 port (camhub.cli.mosquitto: a password
file, no persistence, its default TCP settings; `--broker nodelay` adds a run with
`set_tcp_nodelay true`), 8 simulated cameras (a 1920x1080 main stream recorded by
stream copy and a 640x360 sub-stream analysed at 5 fps, as in bench/pipeline.py), and
the hub as its own process (`python -m camhub.cli.main run`) publishing to the broker
with a username and password. A subscriber in this process (aiomqtt, MQTT 3.1.1, QoS 0)
follows `camhub/+/motion` and `camhub/+/motion/attributes`:

- an `ON` on a camera's motion topic is stamped with time.time() as it is read;
- the attributes message the hub publishes right after it, on the same connection,
  carries `raised_at_s`: the capture time of the frame that completed the motion run and
  started the event (MotionStarted.raised_at). Capture time is the hub's wall clock
  when its reader thread took the packet from the demuxer (Packet.capture_time); an
  analysed frame keeps its packet's time (the decoders run single-threaded, with no
  B-frames in the stream, so a frame leaves the decoder with its own packet);
- latency = ON received - raised_at_s. Both are this machine's wall clock.

Messages the broker replays at subscribe time (retain flag set, MQTT 3.1.1) are ignored,
an ON is paired with the next attributes message of its camera, and an event seen again
(the hub republishing its retained state after a reconnect) is counted once. Events
raised before the measured window (cameras online plus a warm-up) are left out; the run
ends at `--events` events or `--time-limit` seconds.

What is measured is the hub's own delay after capture (decode, picking frames at the
analysis rate, detection, the state machine, the hop from the reader thread to the event
loop, the MQTT outbox and publish) plus the broker and this subscriber. Not measured:
the camera's sensor, encoder and network (here the RTSP server on loopback), and the
wait inside FFmpeg's RTSP demuxer before the reader gets the packet, which
bench/rtsp_handout.py measures apart after the runs (`--handout-seconds`) for the report.

Phases: the scene loops every 10 s with one object crossing, one motion event per loop.
`staggered` gives each camera its own rendering, its object setting off 1.2 s after the
previous camera's; `lockstep` gives all of them camera 0's, so every camera's event is
raised within the same 200 ms (one analysis interval: each reader picks frames on its
own cadence), the worst case for bursts. The simulator starts each RTSP client at the
last keyframe (every 2 s) before the loop position and plays on from there, so a
camera's phase also shifts with the moment its reader connected, modulo the GOP:
offsetting the loops of several servers instead would collapse to the GOP, and even the
content stagger can leave a pair of cameras close together. The report counts the
bursts that actually formed.
`--py-spy DIR` records the hub during each window (do not publish such numbers).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiomqtt
from latency_report import Event, Run, Setup, load, ms, quantiles, report, save
from pipeline import (
    HZ,
    HubProcess,
    all_online,
    by_role,
    cpu_ticks,
    family,
    family_ticks,
    free_port,
    machine,
    machine_ticks,
)
from rtsp_handout import Handout, measure_handout

from camhub.cli.mosquitto import LocalMosquitto
from camhub.sim.render import Rendering, render_scene
from camhub.sim.rtsp import RtspServer
from camhub.sim.scene import Background, MovingObject, Scene

ROOT = Path(__file__).resolve().parent.parent
PREFIX = "camhub"
CAMERAS = 8
ANALYSIS_FPS = 5.0
RECORD_FPS = 15
WARMUP = 12.0  # seconds after all cameras are online: more than a loop, so every background is learnt

# A 10 s loop with one object crossing in 1.3 s, one motion event per loop: with the default
# post-roll (5 s) the event ends 3.7 s before the next crossing. Camera i's object sets off
# 1.2 i s later than camera 0's (`staggered`), so the 8 crossings spread over the loop and the
# last one still ends inside it.
LOOP = 10.0
CROSSING = 1.3
STAGGER = 1.2


def scene(i: int) -> Scene:
    t0 = 0.25 + i * STAGGER
    return Scene(
        name=f"bench-latency-1080p-{i}",
        width=1920,
        height=1080,
        fps=RECORD_FPS,
        duration=LOOP,
        background=Background("yard", seed=11),
        objects=(
            MovingObject(
                start=(-0.1, 0.6), end=(1.1, 0.65), t0=t0, t1=t0 + CROSSING, size=(0.14, 0.22), color=(40, 70, 190)
            ),
        ),
    )


Load = list[tuple[float, int, int]]  # (time.time(), busy, total ticks of all CPUs), every half second


def busy_before(load: Load, at: float, span: float = 1.0) -> float | None:
    """% of all cores busy over about `span` seconds up to `at` (the samples around that span)."""
    before = [x for x in load if x[0] <= at - span]
    after = [x for x in load if x[0] >= at]
    if not before or not after:
        return None
    (_, b0, t0), (_, b1, t1) = before[-1], after[0]
    return (b1 - b0) / max(1, t1 - t0) * 100


async def sample_load(into: Load) -> None:
    """The machine's busy and total ticks every half second, to set each slow event against the load then."""
    while True:
        into.append((time.time(), *machine_ticks()))
        await asyncio.sleep(0.5)


class Broker(LocalMosquitto):
    """camhub.cli.mosquitto's broker, optionally with `set_tcp_nodelay true`."""

    def __init__(self, folder: Path, nodelay: bool) -> None:
        super().__init__(folder)
        self.nodelay = nodelay

    def _write_config(self) -> None:
        super()._write_config()
        if self.nodelay:
            with self.config_path.open("a") as config:
                config.write("set_tcp_nodelay true\n")


class Subscriber:
    """Pairs each live ON with the attributes message that follows it on the same camera."""

    def __init__(self, broker: LocalMosquitto) -> None:
        self.broker = broker
        self.events: list[Event] = []
        self.ignored = {"retained at subscribe": 0, "OFF": 0, "seen again": 0, "attributes without ON": 0}
        self._pending: dict[str, float] = {}  # camera -> when its ON was read
        self._seen: set[tuple[str, float]] = set()
        self.ready = asyncio.Event()

    async def run(self) -> None:
        async with aiomqtt.Client(
            self.broker.host,
            self.broker.port,
            username=self.broker.username,
            password=self.broker.password,
            identifier="camhub-bench-latency",
        ) as client:
            await client.subscribe([(f"{PREFIX}/+/motion", 0), (f"{PREFIX}/+/motion/attributes", 0)])
            self.ready.set()
            async for message in client.messages:
                now = time.time()
                payload = message.payload if isinstance(message.payload, (bytes, bytearray)) else b""
                self.take(message.topic.value, bytes(payload), bool(message.retain), now)

    def take(self, topic: str, payload: bytes, retain: bool, now: float) -> None:
        if retain:  # MQTT 3.1.1: set only on what the broker replays to a new subscription
            self.ignored["retained at subscribe"] += 1
            return
        parts = topic.split("/")
        camera = parts[1]
        if len(parts) == 3:
            if payload == b"ON":
                self._pending[camera] = now
            else:
                self.ignored["OFF"] += 1
            return
        on = self._pending.pop(camera, None)
        if on is None:
            self.ignored["attributes without ON"] += 1
            return
        doc = json.loads(payload)
        key = (camera, float(doc["raised_at_s"]))
        if key in self._seen:  # the hub sent its retained state again (a reconnect)
            self.ignored["seen again"] += 1
            return
        self._seen.add(key)
        self.events.append(Event(camera, float(doc["start_s"]), key[1], on, now))

    def counted(self, since: float) -> list[Event]:
        return [e for e in self.events if e.raised_at >= since]


def camera_names() -> list[str]:
    return [f"cam{i}" for i in range(CAMERAS)]


def renderings(phases: str, cache: Path) -> dict[str, Rendering]:
    """Camera -> what it serves: its own scene (staggered) or camera 0's scene for all (lockstep)."""
    names = camera_names()
    if phases == "lockstep":
        return dict.fromkeys(names, render_scene(scene(0), cache))
    return {name: render_scene(scene(i), cache) for i, name in enumerate(names)}


def hub_config(
    server: RtspServer, broker: LocalMosquitto, data_dir: Path, port: int, batch: float = 0.0, processes: int = 0
) -> dict[str, Any]:
    return {
        "data_dir": str(data_dir),
        "detect_processes": processes,
        "web": {"host": "127.0.0.1", "port": port},
        "discovery": {"enabled": False, "interfaces": ["127.0.0.1"]},  # no mDNS or WS-Discovery in a bench
        "retention": {"min_free_bytes": 0},
        "mqtt": {**broker.hub_mqtt(), "topic_prefix": PREFIX},
        "cameras": {
            name: {
                "inputs": [
                    {"url": server.url(name, "main"), "roles": ["record"]},
                    {"url": server.url(name, "sub"), "roles": ["detect"]},
                ],
                "motion": {"analysis_fps": ANALYSIS_FPS, "batch": batch},
                "record": {"pre_roll": 2.0},
            }
            for name in server.cameras
        },
    }


def children(marker: str) -> list[int]:
    """Pids of this process's children whose command line contains `marker`."""
    found = []
    for listing in Path(f"/proc/{os.getpid()}/task").glob("*/children"):
        for pid in listing.read_text().split():
            try:
                if marker in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(pid))
            except OSError:
                continue
    return found


def get_json(port: int, path: str) -> Any:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
        return json.loads(response.read())


async def measure(phases: str, nodelay: bool, args: argparse.Namespace, work: Path) -> Run:
    folder = work / f"{phases}-{'nodelay' if nodelay else 'default'}"
    broker = Broker(folder / "broker", nodelay)
    await asyncio.to_thread(broker.start)
    subscriber = Subscriber(broker)
    listening = asyncio.create_task(subscriber.run())
    load: Load = []
    sampling = asyncio.create_task(sample_load(load))
    server = RtspServer(await asyncio.to_thread(renderings, phases, Path(args.cache)))
    hub: HubProcess | None = None
    spy: subprocess.Popen[bytes] | None = None
    try:
        await asyncio.wait_for(subscriber.ready.wait(), 30)
        await server.start()
        port = free_port()
        hub = HubProcess(hub_config(server, broker, folder / "data", port, args.batch, args.detect_processes), folder)
        deadline = time.monotonic() + args.connect_timeout
        while True:
            await asyncio.sleep(1.0)
            if hub.proc.poll() is not None:
                raise RuntimeError(f"hub exited ({hub.proc.returncode}): " + " | ".join(list(hub.lines)[-10:]))
            try:
                cameras = await asyncio.to_thread(get_json, port, "/api/cameras")
                health = await asyncio.to_thread(get_json, port, "/api/health")
            except OSError:
                continue
            if all_online(cameras) and health.get("outputs", {}).get("mqtt", {}).get("connected"):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"cameras or MQTT not up after {args.connect_timeout:.0f} s: {health}")
        await asyncio.sleep(WARMUP)

        t0 = time.time()
        before = await asyncio.to_thread(get_json, port, "/api/cameras")
        server_pids = children("gst_rtsp_server.py")
        ours = [*server_pids, *children("mosquitto"), os.getpid()]  # besides the hub
        hub_pids = family(hub.pid)  # with its detect processes, when it has them
        hub0, machine0 = sum(family_ticks(hub_pids).values()), machine_ticks()
        server0, ours0 = sum(cpu_ticks(p) for p in server_pids), sum(cpu_ticks(p) for p in ours)
        if args.py_spy:
            spy = start_py_spy(Path(args.py_spy) / f"pyspy-{folder.name}.txt", hub.pid, args.time_limit)
        while len(subscriber.counted(t0)) < args.events and time.time() - t0 < args.time_limit:
            if hub.proc.poll() is not None or listening.done():
                raise RuntimeError("the hub or the subscriber stopped: " + " | ".join(list(hub.lines)[-10:]))
            await asyncio.sleep(0.5)
        t1 = time.time()
        load.append((t1, *machine_ticks()))  # so the last events have a sample after them
        after = await asyncio.to_thread(get_json, port, "/api/cameras")
        health = await asyncio.to_thread(get_json, port, "/api/health")
        hub1, machine1 = sum(family_ticks(hub_pids).values()), machine_ticks()
        server1, ours1 = sum(cpu_ticks(p) for p in server_pids), sum(cpu_ticks(p) for p in ours)
        window = t1 - t0
        busy = (machine1[0] - machine0[0]) / max(1, machine1[1] - machine0[1]) * 100
        spent = (hub1 - hub0 + ours1 - ours0) / HZ / window * 100
        behind = max(
            (
                RECORD_FPS * window
                - (by_role(b, "detect")["packets_received"] - by_role(a, "detect")["packets_received"])
            )
            / RECORD_FPS
            for a, b in zip(before, after, strict=True)
        )
        return Run(
            phases=phases,
            broker="set_tcp_nodelay true" if nodelay else "default",
            events=[replace(e, busy=busy_before(load, e.on_received)) for e in subscriber.counted(t0)],
            window=window,
            hub_cpu=(hub1 - hub0) / HZ / window * 100,
            server_cpu=(server1 - server0) / HZ / window * 100,
            machine_busy=busy,
            other_cpu=busy * (os.cpu_count() or 1) - spent,
            detect_behind=max(0.0, behind),
            mqtt=health.get("outputs", {}).get("mqtt", {}),
            ignored=dict(subscriber.ignored),
            warnings=[line for line in hub.lines if " WARNING " in line or " ERROR " in line][:12],
        )
    finally:
        if spy is not None:
            spy.send_signal(signal.SIGINT)  # py-spy writes what it has on SIGINT
            await asyncio.to_thread(spy.wait, 30)
        if hub is not None:
            await asyncio.to_thread(hub.stop, 60.0)
        listening.cancel()
        sampling.cancel()
        await asyncio.gather(listening, sampling, return_exceptions=True)
        await server.stop()
        await asyncio.to_thread(broker.stop)


def start_py_spy(out: Path, pid: int, seconds: float) -> subprocess.Popen[bytes]:
    out.parent.mkdir(parents=True, exist_ok=True)
    command = [str(Path(sys.executable).with_name("py-spy")), "record", "--threads", "--format", "raw"]
    command += ["--duration", str(int(seconds)), "--output", str(out), "--pid", str(pid)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def run(args: argparse.Namespace, setup: Setup) -> tuple[list[Run], dict[str, Handout]]:
    print(f"rendering the scenes (cached in {args.cache}) ...", flush=True)
    await asyncio.to_thread(renderings, "staggered", Path(args.cache))
    runs = []
    with tempfile.TemporaryDirectory(prefix="camhub-latency-", dir=args.dir) as tmp:
        for broker in args.broker.split(","):
            for phases in args.phases.split(","):
                print(f"{phases}, broker {broker}: starting ...", flush=True)
                result = await measure(phases, broker == "nodelay", args, Path(tmp))
                q = quantiles([e.latency for e in result.events])
                print(
                    f"{phases}, broker {broker}: {len(result.events)} events in {result.window:.0f} s, "
                    f"median {ms(q['median'])} ms, p99 {ms(q['p99'])} ms, max {ms(q['max'])} ms, "
                    f"hub {result.hub_cpu:.0f}% of a core, machine {result.machine_busy:.0f}%, "
                    f"other {result.other_cpu:.0f}% of a core",
                    flush=True,
                )
                runs.append(result)
                if args.json:  # after each run, so a run that is cut short keeps what it had
                    save(Path(args.json), setup, runs, {})
    handouts = {}
    if args.handout_seconds > 0:
        server = RtspServer({"cam0": render_scene(scene(0), Path(args.cache))})
        await server.start()
        try:
            for role in ("sub", "main"):
                handouts[role] = await measure_handout(server, "cam0", role, args.handout_seconds)
                print(f"demuxer hand-out, {role}: {handouts[role]}", flush=True)
        finally:
            await server.stop()
    return runs, handouts


def setup_of(args: argparse.Namespace) -> Setup:
    return Setup(
        command=f".venv/bin/python bench/latency.py --events {args.events} --phases {args.phases} "
        f"--broker {args.broker}"
        + (f" --batch {args.batch:g}" if args.batch else "")
        + (f" --detect-processes {args.detect_processes}" if args.detect_processes else ""),
        date=str(datetime.date.today()),
        machine=machine(),
        cameras=CAMERAS,
        record_fps=RECORD_FPS,
        analysis_fps=ANALYSIS_FPS,
        loop=LOOP,
        crossing=CROSSING,
        stagger=STAGGER,
        warmup=WARMUP,
        events=args.events,
        batch=args.batch,
        detect_processes=args.detect_processes,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=200, help="events to count per run")
    parser.add_argument("--time-limit", type=float, default=900.0, help="seconds a run may count for at most")
    parser.add_argument("--phases", default="staggered,lockstep", help="staggered, lockstep or both")
    parser.add_argument("--broker", default="default", help="default, nodelay (set_tcp_nodelay true) or both")
    parser.add_argument("--connect-timeout", type=float, default=90.0)
    parser.add_argument(
        "--batch", type=float, default=0.0, help="motion.batch of every camera, seconds (0-2; default 0: as it comes)"
    )
    parser.add_argument("--detect-processes", type=int, default=0, help="detect_processes of the hub (default 0: none)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "latency.md"))
    parser.add_argument(
        "--cache",
        default=os.environ.get("CAMHUB_SIM_CACHE", str(Path(tempfile.gettempdir()) / "camhub-sim-cache")),
    )
    parser.add_argument("--dir", help="where the hub's data folders go (default: a temp folder)")
    parser.add_argument("--py-spy", help="folder for py-spy profiles of the hub (perturbs the numbers)")
    parser.add_argument(
        "--handout-seconds", type=float, default=15.0, help="seconds per stream of the demuxer check (0: skip)"
    )
    parser.add_argument("--json", help="also save what was measured here (every event), for --report-from")
    parser.add_argument("--report-from", help="measure nothing: write the report from a file --json saved")
    args = parser.parse_args()
    if args.report_from:
        setup, runs, handouts = load(Path(args.report_from))
    else:
        setup = setup_of(args)
        runs, handouts = asyncio.run(run(args, setup))
        if args.json:
            save(Path(args.json), setup, runs, handouts)
    text = report(setup, runs, handouts)
    print(text)
    Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
