"""Pipeline benchmark: the hub's own CPU, dropped frames and write amplification for N cameras.

    .venv/bin/python bench/pipeline.py [--seconds 30] [--n 1,4,16,64] [--out bench/results/pipeline.md]

For each N, N simulated cameras (one 1080p H.264 rendering at 15 fps served
under N names by the GStreamer RTSP server, plus its 640x360 sub-stream) feed
a hub run as its own process (`python -m camhub.cli.main run`), each camera recording
its main stream by stream copy and analysing its sub-stream at 5 fps. After
the cameras are online and a warm-up, a window of `--seconds` is measured:

- CPU: utime + stime of the hub's process (all its threads) from
  /proc/<pid>/stat over the window, as a percentage of one core, and per
  camera. The RTSP server is a separate process; its CPU is shown apart.
- Drops: per camera, the frames the hub should have had in the window
  (15/s on the record input, 5/s analysed on the detect input) minus the
  `packets_received` / `frames_analysed` deltas from /api/cameras, each
  over its input's own window: between its newest packet (or analysed
  frame) at the two readings, as the hub stamped them, so the latency of
  the status responses is not counted as drops. Shortfalls of at most one
  frame per input are edge noise and not counted. Drops "begin" at the
  first N above 1% of expected, or with a detect stream behind, or with an
  input whose newest packet is older than STALE_S at the window's end.
- Write amplification, over the hub's whole run (it is stopped with SIGTERM
  so open clips are closed and indexed): bytes written divided by the video
  bytes it recorded, i.e. the sizes of the stream-copied packets inside the
  clips (each clip demuxed with PyAV). "Files" counts the growth of the data
  folder: clip files, snapshots, thumbnails, index.db and its WAL. "Kernel"
  counts /proc/<pid>/io write_bytes of the hub process (pages it dirtied,
  SQLite's WAL and checkpoints included), read from the exited but unreaped
  process.

The scene loops every 15 s with an object crossing for 5 s, so the default
30 s window holds exactly two motion events per camera whatever its phase.
All cameras share one rendering and so move in lockstep: every clip of a
loop opens and closes at the same moment, the worst case for bursts.
Everything binds 127.0.0.1. `--py-spy DIR` also records a py-spy profile of
the hub during each window (it competes for the same two cores, so do not
publish the numbers of such a run).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import dataclasses
import datetime
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import av
import yaml
from ffmpeg_recorders import RecorderResult, measure_recorders  # bench/ffmpeg_recorders.py
from machine import cpu_ticks, describe, folder_bytes, rss_bytes  # bench/machine.py: run as python bench/<name>.py

from camhub.config import MAX_BATCH, MAX_DETECT_PROCESSES
from camhub.sim.render import AccessUnits, Rendering, render_scene
from camhub.sim.rtsp import SHARED_PHASES, RtspServer
from camhub.sim.scene import Background, MovingObject, Scene
from camhub.store.index import open_index

ROOT = Path(__file__).resolve().parent.parent
RECORD_FPS = 15
ANALYSIS_FPS = 5.0
PRE_ROLL = 2.0
HZ = os.sysconf("SC_CLK_TCK")
# A shortfall of up to this many frames per input is the window's edges, not a drop.
EDGE_FRAMES = 1
DROP_THRESHOLD = 0.01  # drops "begin" above this fraction of expected frames
STALE_S = 2.0  # ... or when an input's newest packet is older than this at the window's end
GOAL_CPU_PER_CAMERA = 1.0  # % of one core (issue 10's goal, kept for comparison)
GOAL_RATIO_TO_FFMPEG = 1.5  # the hub's CPU per camera over one ffmpeg stream-copy recorder's (issue 15)
GOAL_RSS_PER_CAMERA = 15e6  # bytes of hub RSS per added camera
N = TypeVar("N", int, float)  # a number an option takes
DETECT_FPS = 5  # the detect stream's own rate, as Frigate advises cameras be set (--detect-fps)
PROFILE_HEADING = "## Where the time goes"  # a hand-written section of the results file, kept by each run
DETECT_KBPS = 512  # its bit rate when not 15 fps: a common camera default for a 640x360 sub-stream
GOAL_WRITE_AMPLIFICATION = 1.02

SCENE = Scene(
    name="bench-1080p",
    width=1920,
    height=1080,
    fps=RECORD_FPS,
    duration=15.0,
    background=Background("yard", seed=7),
    objects=(MovingObject(start=(-0.1, 0.65), end=(1.1, 0.6), t0=4.0, t1=9.0, size=(0.14, 0.22), color=(40, 70, 190)),),
)


@dataclass
class Result:
    n: int
    batch: float  # cameras.<name>.motion.batch, seconds
    seconds: float  # measured window, wall clock
    hub_cpu: float  # % of one core, the hub process, whole
    server_cpu: float  # % of one core, the RTSP server process
    machine_busy: float  # % of all cores busy, whole machine
    other_cpu: float  # % of one core: the machine's busy time not spent by the hub, the server or this bench
    expected_frames: int
    dropped_frames: int
    shortfall_by_input: dict[str, int]  # record / detect-packets / analysed: summed shortfall
    max_staleness: float  # seconds since the newest packet, worst input, at the window's end (by its `as_of`)
    own_windows: tuple[float, float]  # the inputs' own windows (see `own_span`), shortest and longest, seconds
    dropped_by_bench_window: int  # what `dropped_frames` would be over the bench's window instead (until 2026-12-01)
    max_lag_gained: dict[str, float]  # record / detect: seconds of stream a camera fell behind in the window, worst
    decode_errors: int
    clips: int
    video_bytes: int  # stream-copied packet bytes inside the clips
    file_bytes: int  # growth of the data folder after start-up
    kernel_write_bytes: int  # /proc/<pid>/io write_bytes, whole run, less start-up
    startup_bytes: tuple[int, int]  # (files, kernel) written before any clip: the new index, left out
    max_status_age: float = 0.0  # seconds from an input's `as_of` to the bench's receipt of the response, worst
    hub_rss: int = 0  # VmRSS of the hub at the window's end, its detect processes' added
    processes: int = 0  # detect_processes of the hub's config
    ffmpeg: RecorderResult | None = None  # N ffmpeg recorders of the same main streams, same run
    warnings: list[str] = field(default_factory=list)

    @property
    def ratio_to_ffmpeg(self) -> float | None:
        if self.ffmpeg is None or self.ffmpeg.cpu_per_camera <= 0:
            return None
        return self.cpu_per_camera / self.ffmpeg.cpu_per_camera

    @property
    def cpu_per_camera(self) -> float:
        return self.hub_cpu / self.n

    @property
    def drop_fraction(self) -> float:
        return self.dropped_frames / self.expected_frames if self.expected_frames else 0.0

    @property
    def wa_files(self) -> float | None:
        return self.file_bytes / self.video_bytes if self.video_bytes else None

    @property
    def wa_kernel(self) -> float | None:
        return self.kernel_write_bytes / self.video_bytes if self.video_bytes else None


# -- /proc readings


def machine_ticks() -> tuple[int, int]:
    """(busy, total) clock ticks of all CPUs since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values[:8]) - idle, sum(values[:8])


def io_write_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("write_bytes:"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/{pid}/io has no write_bytes")


def child_pid(parent: int, marker: str) -> int | None:
    """The child of `parent` whose command line contains `marker`."""
    for children in Path(f"/proc/{parent}/task").glob("*/children"):
        for pid in children.read_text().split():
            try:
                if marker in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
                    return int(pid)
            except OSError:
                continue
    return None


def family(pid: int) -> list[int]:
    """`pid` and every process below it (the hub's detect processes, and multiprocessing's helpers)."""
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        found.append(parent)
        for children in Path(f"/proc/{parent}/task").glob("*/children"):
            try:
                todo += [int(child) for child in children.read_text().split()]
            except OSError:
                continue
    return found


def family_ticks(pids: list[int]) -> dict[int, int]:
    """CPU ticks of each process that is still there."""
    ticks = {}
    for pid in pids:
        try:
            ticks[pid] = cpu_ticks(pid)
        except OSError:
            continue
    return ticks


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def startup_bytes(data_dir: Path, pid: int) -> tuple[int, int]:
    """(files, kernel) bytes the hub wrote that are not clips: the new, empty index.

    Files: the size of an empty index made here and closed (its WAL folded in), so the
    final index.db's growth beyond it is what the clip rows cost. Kernel: the hub's
    write_bytes so far, less the clip files it has begun.
    """
    clips = folder_bytes(data_dir / "clips") if (data_dir / "clips").exists() else 0
    with tempfile.TemporaryDirectory(dir=data_dir.parent) as tmp:
        open_index(Path(tmp)).close()
        empty = folder_bytes(Path(tmp))
    return empty, io_write_bytes(pid) - clips


# -- the hub as a child process


class HubProcess:
    """`python -m camhub.cli.main run` with its output kept in memory (a file would count as its writes)."""

    def __init__(self, config: dict[str, Any], folder: Path) -> None:
        self.port = config["web"]["port"]
        path = folder / "camhub.yaml"
        path.write_text(yaml.safe_dump(config))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "camhub.cli.main", "run", "-c", str(path)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        self.lines: collections.deque[str] = collections.deque(maxlen=400)
        self._drain = threading.Thread(target=self._read, daemon=True)
        self._drain.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self.lines.append(raw.decode(errors="replace").rstrip())

    @property
    def pid(self) -> int:
        return self.proc.pid

    def cameras(self) -> tuple[float, list[dict[str, Any]]]:
        """(bench clock at the response, /api/cameras)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/cameras", timeout=10) as response:
            body = response.read()
        return time.time(), json.loads(body)

    def stop(self, timeout: float) -> tuple[int | None, int | None]:
        """SIGTERM, wait for the exit without reaping, read (write_bytes, cpu ticks), then reap."""
        if self.proc.poll() is not None:
            return None, None
        self.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        exited = False
        while time.monotonic() < deadline:
            if os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOWAIT | os.WNOHANG) is not None:
                exited = True
                break
            time.sleep(0.05)
        written = ticks = None
        if exited:
            try:
                written, ticks = io_write_bytes(self.pid), cpu_ticks(self.pid)
            except (OSError, RuntimeError):
                pass
        else:
            self.lines.append(f"bench: hub did not stop within {timeout:.0f} s; killed")
            self.proc.kill()
        self.proc.wait(timeout=30)
        self._drain.join(timeout=5)
        return written, ticks

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)


def hub_config(
    n: int, server: RtspServer, data_dir: Path, port: int, batch: float = 0.0, processes: int = 0
) -> dict[str, Any]:
    return {
        "data_dir": str(data_dir),
        "detect_processes": processes,
        "web": {"host": "127.0.0.1", "port": port},
        "discovery": {"enabled": False, "interfaces": ["127.0.0.1"]},  # no mDNS or WS-Discovery off loopback
        "retention": {"min_free_bytes": 0},
        "reconnect": {"initial": 0.5, "cap": 5.0},
        "cameras": {
            name: {
                "inputs": [
                    {"url": server.url(name, "main"), "roles": ["record"]},
                    {"url": server.url(name, "sub"), "roles": ["detect"]},
                ],
                "motion": {"analysis_fps": ANALYSIS_FPS, "batch": batch},
                "record": {"pre_roll": PRE_ROLL},
            }
            for name in camera_names(n)
        },
    }


def camera_names(n: int) -> list[str]:
    return [f"cam{i:02d}" for i in range(n)]


def frames_short(fps: float, span: float, got: int) -> tuple[int, int]:
    """(due, short): the frames a `fps` input owes over `span` seconds, and how many of them did not come
    when `got` did; up to EDGE_FRAMES short is the window's edges, not a drop."""
    due = round(fps * span)
    return due, max(0, due - got - EDGE_FRAMES)


def own_span(before: dict[str, Any], after: dict[str, Any], key: str, window: float) -> float:
    """Seconds between an input's newest packet (or frame) at two readings; `window` when one is missing."""
    a, b = before.get(key), after.get(key)
    return b - a if isinstance(a, float) and isinstance(b, float) and b >= a else window


def all_online(cameras: list[dict[str, Any]]) -> bool:
    return all(
        c["state"] == "online"
        and all(i["packets_received"] > 0 for i in c["inputs"])
        and any(i["frames_analysed"] > 0 for i in c["inputs"])
        for c in cameras
    )


def by_role(camera: dict[str, Any], role: str) -> dict[str, Any]:
    return next(i for i in camera["inputs"] if role in i["roles"])


# -- one N


async def measure(
    n: int,
    rendering: Rendering,
    seconds: float,
    warmup: float,
    work: Path,
    connect_timeout: float,
    py_spy: Path | None,
    detect_fps: int = DETECT_FPS,
    ffmpeg: bool = True,
    batch: float = 0.0,
    processes: int = 0,
    shared: bool = True,
) -> Result:
    data_dir = work / f"n{n}-batch{batch:g}-processes{processes}"
    data_dir.mkdir()
    server = RtspServer(dict.fromkeys(camera_names(n), rendering), shared=shared)
    await server.start()
    hub: HubProcess | None = None
    spy: subprocess.Popen[bytes] | None = None
    try:
        server_pid = child_pid(os.getpid(), "gst_rtsp_server.py")
        hub = HubProcess(hub_config(n, server, data_dir, free_port(), batch, processes), work)
        deadline = time.monotonic() + connect_timeout
        while True:
            await asyncio.sleep(1.0)
            if hub.proc.poll() is not None:
                raise RuntimeError(f"hub exited ({hub.proc.returncode}): " + " | ".join(list(hub.lines)[-10:]))
            try:
                _, cameras = await asyncio.to_thread(hub.cameras)
            except OSError:
                cameras = []
            if cameras and all_online(cameras):
                break
            if time.monotonic() > deadline:
                online = sum(c["state"] == "online" for c in cameras)
                raise RuntimeError(f"N={n}: only {online} of {n} cameras online after {connect_timeout:.0f} s")
        startup = startup_bytes(data_dir, hub.pid)
        await asyncio.sleep(warmup)

        t0, before = await asyncio.to_thread(hub.cameras)
        # The hub's CPU and memory are its process's and its detect processes', summed.
        pids = family(hub.pid)
        if len(pids) < processes + 1:
            raise RuntimeError(f"N={n}: the hub runs {len(pids) - 1} processes, {processes} detect processes asked")
        family0, machine0, bench0 = family_ticks(pids), machine_ticks(), cpu_ticks(os.getpid())
        server0 = cpu_ticks(server_pid) if server_pid else 0
        if py_spy is not None:
            py_spy.mkdir(parents=True, exist_ok=True)
            spy = subprocess.Popen(
                [
                    str(Path(sys.executable).with_name("py-spy")),
                    "record",
                    "--nonblocking",
                    "--threads",
                    "--format",
                    "raw",
                    "--duration",
                    str(int(seconds)),
                    "--output",
                    str(py_spy / f"pyspy-n{n}-batch{batch:g}.txt"),
                    "--pid",
                    str(hub.pid),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        await asyncio.sleep(seconds)
        t1, after = await asyncio.to_thread(hub.cameras)
        family1, machine1, bench1 = family_ticks(pids), machine_ticks(), cpu_ticks(os.getpid())
        server1 = cpu_ticks(server_pid) if server_pid else 0
        if family1.keys() != family0.keys():
            raise RuntimeError(
                f"N={n}: a process of the hub ended in the window: {sorted(family0)} -> {sorted(family1)}"
            )
        hub0, hub1 = sum(family0.values()), sum(family1.values())
        hub_rss = sum(rss_bytes(pid) for pid in pids)
        if spy is not None:
            await asyncio.to_thread(spy.wait, 30)

        window = t1 - t0
        expected = dropped = errors = 0
        shortfall = {"record": 0, "detect packets": 0, "analysed": 0}
        staleness = status_age = 0.0
        own: list[float] = []
        by_bench_window = 0
        lag = {"record": 0.0, "detect": 0.0}
        for a, b in zip(before, after, strict=True):
            rec0, rec1 = by_role(a, "record"), by_role(b, "record")
            det0, det1 = by_role(a, "detect"), by_role(b, "detect")
            counts = (
                ("record", RECORD_FPS, rec1["packets_received"] - rec0["packets_received"], True),
                ("detect packets", detect_fps, det1["packets_received"] - det0["packets_received"], False),
                ("analysed", ANALYSIS_FPS, det1["frames_analysed"] - det0["frames_analysed"], True),
            )
            # Each count over its own input's window: from its newest packet (or analysed frame) at the
            # first reading to the one at the second, by the hub's clock, which stamped them. The bench's
            # clock at the two responses also holds their latency, which grows with the load and would
            # count as dropped on every input at once.
            spans = (
                own_span(rec0, rec1, "last_packet_time", window),
                own_span(det0, det1, "last_packet_time", window),
                own_span(det0, det1, "last_frame_time", window),
            )
            own += spans
            for (key, fps, got, counted), span in zip(counts, spans, strict=True):
                due, short = frames_short(fps, span, got)
                shortfall[key] += short
                if counted:  # detect packets are shown, not counted: analysed frames are what they feed
                    expected += due
                    dropped += short
                    by_bench_window += frames_short(fps, window, got)[1]
            # Lag and staleness by the time each status was read (`as_of`), not by when the bench got the
            # response: the response's own latency is the web server's (shown under Details), and an input in a
            # detect process reports once a second.
            for role, fps, got, i0, i1 in (
                ("record", RECORD_FPS, counts[0][2], rec0, rec1),
                ("detect", detect_fps, counts[1][2], det0, det1),
            ):
                lag[role] = max(lag[role], (fps * (i1["as_of"] - i0["as_of"]) - got) / fps)
            errors += det1["decode_errors"] - det0["decode_errors"]
            for i in b["inputs"]:
                staleness = max(staleness, i["as_of"] - (i["last_packet_time"] or 0.0))
                status_age = max(status_age, t1 - i["as_of"])
        busy = (machine1[0] - machine0[0]) / max(1, machine1[1] - machine0[1]) * 100
        ours = (hub1 - hub0) + (server1 - server0) + (bench1 - bench0)
        # Softirq time of loopback TCP is charged to no process, so "other" is never quite zero.
        other = busy * (os.cpu_count() or 1) - ours / HZ / window * 100

        written, _ = await asyncio.to_thread(hub.stop, 60.0)
        clips, video = await asyncio.to_thread(recorded_video, data_dir)
        file_bytes = await asyncio.to_thread(folder_bytes, data_dir)
        warnings = [line for line in hub.lines if " WARNING " in line or " ERROR " in line]
        recorders = None
        if ffmpeg:  # the same main streams from the same server, recorded the way Frigate does, after the hub
            print(f"N={n}: {n} ffmpeg recorder(s) of the same streams ...", flush=True)
            urls = [server.url(name, "main") for name in camera_names(n)]
            recorders = await measure_recorders(urls, seconds, warmup, work, HZ)
        return Result(
            n=n,
            batch=batch,
            seconds=window,
            hub_cpu=(hub1 - hub0) / HZ / window * 100,
            server_cpu=(server1 - server0) / HZ / window * 100,
            machine_busy=busy,
            other_cpu=other,
            expected_frames=expected,
            dropped_frames=dropped,
            shortfall_by_input=shortfall,
            max_staleness=staleness,
            max_status_age=status_age,
            own_windows=(min(own), max(own)),
            dropped_by_bench_window=by_bench_window,
            max_lag_gained=lag,
            decode_errors=errors,
            clips=clips,
            video_bytes=video,
            file_bytes=file_bytes - startup[0],
            kernel_write_bytes=(written - startup[1]) if written is not None else 0,
            startup_bytes=startup,
            hub_rss=hub_rss,
            processes=processes,
            ffmpeg=recorders,
            warnings=warnings[:20],
        )
    finally:
        if spy is not None and spy.poll() is None:
            spy.kill()
            spy.wait()
        if hub is not None:
            hub.kill()
        await server.stop()


def recorded_video(data_dir: Path) -> tuple[int, int]:
    """(clips indexed, bytes of the video packets inside them), by demuxing each clip."""
    db = sqlite3.connect(f"file:{data_dir / 'index.db'}?mode=ro", uri=True)
    try:
        paths = [row[0] for row in db.execute("SELECT path FROM clips WHERE state = 'ok'")]
    finally:
        db.close()
    total = 0
    for rel in paths:
        with av.open(str(data_dir / rel)) as container:
            total += sum(p.size for p in container.demux(container.streams.video[0]) if p.size)
    return len(paths), total


# -- report


def machine() -> str:
    return f"{describe()}, PyAV {av.__version__} (FFmpeg {av.ffmpeg_version_info})"


def fmt_wa(value: float | None) -> str:
    return f"{value:.4f}" if value is not None else "n/a"


def fmt_ratio(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.2f}x {'met' if value <= GOAL_RATIO_TO_FFMPEG else 'MISSED'}"


def ratio_cell(r: Result) -> str:
    """The ratio with its verdict; an N whose hub fell behind did less work, so its ratio is not judged."""
    if falls_behind(r):
        return f"{r.ratio_to_ffmpeg or 0:.2f}x, not judged: behind"
    return fmt_ratio(r.ratio_to_ffmpeg)


def rss_growth(results: list[Result]) -> list[str]:
    """The hub's RSS per added camera, from the smallest N to each larger one, for each variant."""
    lines = []
    variants = sorted({(r.batch, r.processes) for r in results})
    for variant in variants:
        ordered = sorted((r for r in results if (r.batch, r.processes) == variant), key=lambda r: r.n)
        base = ordered[0]
        for r in ordered[1:]:
            per = (r.hub_rss - base.hub_rss) / (r.n - base.n)
            verdict = "met" if per <= GOAL_RSS_PER_CAMERA else "MISSED"
            which = f"{variant_label(r)}, " if len(variants) > 1 else ""
            lines.append(f"{which}N={base.n} -> {r.n}: {per / 1e6:.1f} MB per added camera ({verdict})")
    return lines


def table(results: list[Result]) -> str:
    head = (
        "| N | motion.batch | detect processes | hub CPU, % of one core | hub per camera | ffmpeg recorder per camera "
        "| hub / ffmpeg "
        f"(goal <= {GOAL_RATIO_TO_FFMPEG:g}x) | hub RSS | ffmpeg RSS per camera | frames expected | dropped | "
        "detect stream fell behind | RTSP server CPU | machine busy | other load |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    rows = []
    for r in results:
        ff = r.ffmpeg
        rows.append(
            f"| {r.n} | {r.batch:g} s | {r.processes} | {r.hub_cpu:.1f} | {r.cpu_per_camera:.2f}% "
            f"| {f'{ff.cpu_per_camera:.2f}%' if ff else 'n/a'} "
            f"| {ratio_cell(r)} "
            f"| {r.hub_rss / 1e6:,.0f} MB | {f'{ff.rss_per_camera / 1e6:.0f} MB' if ff else 'n/a'} "
            f"| {r.expected_frames:,} | {r.dropped_frames:,} ({r.drop_fraction:.1%}) "
            f"| {max(0.0, r.max_lag_gained['detect']):.1f} s "
            f"| {r.server_cpu:.0f}% | {r.machine_busy:.0f}% | {r.other_cpu:.0f}% |"
        )
    return head + "\n".join(rows) + "\n"


def writes_table(results: list[Result]) -> str:
    head = "| N, batch | clips | video recorded | WA files (goal < 1.02) | WA kernel |\n|---|---|---|---|---|\n"
    rows = [
        f"| {label(r)} | {r.clips} | {r.video_bytes / 1e6:,.1f} MB | {fmt_wa(r.wa_files)} | {fmt_wa(r.wa_kernel)} |"
        for r in results
    ]
    return head + "\n".join(rows) + "\n"


def label(r: Result) -> str:
    return f"{r.n}, {variant_label(r)}"


def variant_label(r: Result) -> str:
    return f"batch {r.batch:g} s" + (f", {r.processes} detect processes" if r.processes else "")


def falls_behind(r: Result) -> bool:
    """Drops above the threshold, a detect stream behind by more than that fraction of the window, or a stale input.

    A batched detect input reads `batch` seconds of frames at once, so its count at a status may be up to a batch
    short or ahead of a steady one: that much of a shortfall is the status's phase, not lag."""
    return (
        r.drop_fraction > DROP_THRESHOLD
        or r.max_lag_gained["detect"] > DROP_THRESHOLD * r.seconds + r.batch
        or r.max_staleness > STALE_S + r.batch  # a batched detect input is read only every `batch` seconds
    )


def drops_begin(results: list[Result]) -> str:
    first = next((r.n for r in sorted(results, key=lambda r: r.n) if falls_behind(r)), None)
    tried = ", ".join(str(n) for n in sorted({r.n for r in results}))
    if first is not None:
        return (
            f"N = {first} (dropped frames above {DROP_THRESHOLD:.0%} of expected, a detect stream behind by more "
            f"than {DROP_THRESHOLD:.0%} of the window and the batch, or an input's newest packet older than "
            f"{STALE_S:g} s and the batch)"
        )
    return f"no drops above {DROP_THRESHOLD:.0%} at N = {tried}"


def report(results: list[Result], args: argparse.Namespace, main_mbps: float, sub_mbps: float) -> str:
    growth = rss_growth(results)
    lines = [
        "# Pipeline benchmark: CPU, drops and write amplification per camera count",
        "",
        f"Date: {datetime.date.today()}  ",
        f"Machine: {machine()}  ",
        f"Command: `.venv/bin/python bench/pipeline.py --seconds {args.seconds:g} --n {args.n} "
        f"--detect-fps {args.detect_fps} --batch {args.batch} --detect-processes {args.detect_processes}"
        + (" --server-per-client`" if args.server_per_client else "`"),
        "",
        "Cameras: one rendering served under N names by the GStreamer RTSP server on 127.0.0.1 "
        + (
            "(a pipeline per client): main "
            if args.server_per_client
            else f"({SHARED_PHASES} pipelines per stream that the N cameras' clients join in turn, as a camera's "
            "encoder serves its clients, so the server's CPU stays off the machine's two cores): main "
        )
        + f"1920x1080 H.264 at {RECORD_FPS} fps ({main_mbps:.1f} Mbit/s, GOP 2 s), recorded by stream copy with "
        f"{PRE_ROLL:g} s pre-roll; sub-stream 640x360 H.264 at {args.detect_fps} fps ({sub_mbps:.2f} Mbit/s), decoded "
        f"and analysed at {ANALYSIS_FPS:g} fps. The scene loops every {SCENE.duration:g} s with an object crossing for "
        f"{SCENE.objects[0].t1 - SCENE.objects[0].t0:g} s, all cameras in lockstep. Measured window: "
        f"{args.seconds:g} s per N after the cameras are online and a {args.warmup:g} s warm-up.",
        "",
        table(results),
        f"Drops begin at: {drops_begin(results)}.",
        "",
        "Hub memory: "
        + ("; ".join(growth) if growth else "one N only, no growth to show")
        + f" (goal <= {GOAL_RSS_PER_CAMERA / 1e6:.0f} MB).",
        "",
        writes_table(results),
        "## How each column is counted",
        "",
        "- **motion.batch**: the cameras' setting (docs/config.md): 0 reads the detect stream frame by frame as it "
        "comes; 1 s reads a second of its frames at once, so motion is known up to a second later "
        "(bench/results/latency-batch.md). Each N runs once per value given to `--batch`, one hub after the other "
        "on the same server, and the ffmpeg recorders once after them, set against each.",
        "- **ffmpeg recorder**: after the hub's window and in the same run, one `ffmpeg -rtsp_transport tcp -i URL "
        "-c copy -an -f segment -segment_time 10 -segment_format mp4` process per camera (Frigate's record path, "
        "bench/ffmpeg_recorders.py) reads the same main streams from the same server; its CPU is measured over a "
        "window as long as the hub's after the same warm-up, and its RSS (VmRSS, per process) at the window's end. "
        "**hub / ffmpeg** is the hub's whole CPU per camera over the recorder's. The hub does the recorder's work "
        "plus a second stream, its decoding and analysis, the clip index, the web server and the live views.",
        "- **hub RSS**: VmRSS of the hub process at the end of its window, plus its detect processes' (each "
        "counted whole, shared library pages too) when `detect_processes` is set.",
        "- **detect processes**: the hub's `detect_processes` (docs/config.md): 0 runs every input in the hub's "
        "process; 1 or more read, decode and analyse the detect inputs in that many processes of their own.",
        "- **hub CPU**: utime + stime of the hub process and its detect processes (every thread: readers, "
        "FFmpeg decoder threads, "
        "clip finisher, SQLite writer, event loop) from /proc/<pid>/stat over the window, in % of one core. "
        "The RTSP server runs in its own process and is not included; it is shown in its own column, and "
        "**machine busy** is all CPUs of the machine together (100% = both cores); **other load** is the rest of "
        "the machine's busy time in % of one core (loopback TCP softirqs, which no process is charged for, and "
        "anything else running): when it is large the machine was shared and the run should be repeated.",
        f"- **frames expected / dropped**: per camera, {RECORD_FPS}/s on the record input plus "
        f"{ANALYSIS_FPS:g}/s analysed on the detect input, times each input's own window; dropped is the sum over "
        f"cameras and inputs of expected minus received (`packets_received`) or analysed (`frames_analysed`) between "
        f"two /api/cameras responses. An input's window runs from its newest packet (for analysed frames, its newest "
        f"analysed frame) at the first response to the one at the second, as the hub stamped them: the bench's own "
        f"clock at the responses also holds their latency, which grows with the load (until 2026-12-01 the window "
        f"was the bench's). A reader that stalls shows in the newest packet's age instead (Details), which counts as "
        f"falling behind above {STALE_S:g} s (and the motion.batch, for a batched detect input). A shortfall of "
        f"up to {EDGE_FRAMES} frame per input is the window's edges and not counted. A hub that falls behind shows "
        f"here as a shortfall either way: the server drops what the TCP backlog cannot hold, or the stream lags.",
        f"- **detect stream fell behind**: the worst camera's detect-input shortfall of packets in the window, in "
        f"seconds of stream ({args.detect_fps} packets a second), over the span between the two statuses' `as_of` "
        f"(the time the hub read them); for a batched detect input, up to the batch of it is the reads' phase at the "
        f"two statuses and not counted as falling behind. Analysis keeps its {ANALYSIS_FPS:g} fps by the hub's "
        f"clock even when the stream it decodes arrives late, so `frames_analysed` alone hides a detect reader that "
        f"cannot keep up; this column shows it. (`last_packet_time` is the hub's receive time, so it cannot show lag: "
        f"its age at `as_of` at the window's end is under Details, and beside it the worst time from an input's "
        f"`as_of` to the bench's receipt of the response: the web server's latency, plus up to a second for an input "
        f"in a detect process, which reports once a second. Until 2026-12-02 both were counted by the bench's clock "
        f"at the response, so the web server's latency under load counted as the readers'.)",
        "- **video recorded**: the bytes of the stream-copied H.264 packets inside the clips of the whole run "
        "(each clip demuxed with PyAV). These are the bytes the hub received on the record input for the "
        "recorded spans (the MP4 muxer turns each 4-byte start code into a 4-byte length).",
        "- **WA files**: growth of the data folder (clip files, snapshot and thumbnail JPEGs, index.db and "
        "its WAL) divided by video recorded. **WA kernel**: /proc/<pid>/io `write_bytes` of the hub process "
        "over its whole run (pages it dirtied, including SQLite's WAL frames and checkpoints, not filesystem "
        "metadata), divided by video recorded. The hub is stopped with SIGTERM, so open clips are closed and "
        "indexed before the counts are taken. Both leave out what the hub wrote before its first clip (creating "
        "the index: a fixed cost, shown under Details; for files, the size of an empty index), so they are the "
        "steady-state ratio.",
        "",
        "## Details",
        "",
        "| N, batch | window s | inputs' own windows, s | shortfall record / detect packets / analysed | dropped, "
        "counted over the bench's window | newest packet age, worst input | status age at the response, worst | "
        "decode errors | bytes written, files | "
        "bytes written, kernel | start-up bytes left out, files / kernel |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        s = r.shortfall_by_input
        lines.append(
            f"| {label(r)} | {r.seconds:.1f} | {r.own_windows[0]:.2f}-{r.own_windows[1]:.2f} "
            f"| {s['record']:,} / {s['detect packets']:,} / {s['analysed']:,} | {r.dropped_by_bench_window:,} "
            f"| {r.max_staleness:.2f} s | {r.max_status_age:.2f} s | {r.decode_errors} | {r.file_bytes / 1e6:,.2f} MB "
            f"| {r.kernel_write_bytes / 1e6:,.2f} MB "
            f"| {r.startup_bytes[0] / 1e3:,.0f} kB / {r.startup_bytes[1] / 1e3:,.0f} kB |"
        )
    notes = [(label(r), w) for r in results for w in r.warnings]
    if notes:
        lines += ["", "Hub warnings during the runs (first few):", ""]
        lines += [f"- N={n}: `{w[:200]}`" for n, w in notes[:12]]
    return "\n".join(lines) + "\n"


def stream_mbps(rendering: Rendering, role: str) -> float:
    files = getattr(rendering, role)
    units = AccessUnits(files)
    return sum(units.sizes) * 8 / (len(units) / files.fps) / 1e6


def bench_rendering(cache: Path, detect_fps: int) -> Rendering:
    """The 1080p scene, its sub-stream replaced by the same scene rendered at `detect_fps` (when not 15)."""
    rendering = render_scene(SCENE, cache)
    if detect_fps == RECORD_FPS:
        return rendering
    scene = dataclasses.replace(
        SCENE, name=f"{SCENE.name}-{detect_fps}fps", fps=detect_fps, gop=2 * detect_fps, sub_kbps=DETECT_KBPS
    )
    detect = render_scene(scene, cache)
    return dataclasses.replace(rendering, sub=detect.sub)


async def run(args: argparse.Namespace) -> list[Result]:
    cache = Path(args.cache)
    print(f"rendering the scene (cached in {cache}) ...", flush=True)
    rendering = await asyncio.to_thread(bench_rendering, cache, args.detect_fps)
    variants = [(b, p) for p in process_counts(args.detect_processes) for b in batch_values(args.batch)]
    results = []
    with tempfile.TemporaryDirectory(prefix="camhub-bench-", dir=args.dir) as tmp:
        for n in sorted({int(v) for v in args.n.split(",")}):
            results += await run_n(args, n, variants, rendering, Path(tmp))
    return results


async def run_n(
    args: argparse.Namespace, n: int, variants: list[tuple[float, int]], rendering: Rendering, tmp: Path
) -> list[Result]:
    """N cameras once per (motion.batch, detect processes), then the ffmpeg recorders once, set against each."""
    results: list[Result] = []
    for i, (batch, processes) in enumerate(variants):
        print(f"N={n}: starting {n} camera(s), motion.batch {batch:g} s, {processes} detect processes ...", flush=True)
        began = time.monotonic()
        try:
            result = await asyncio.wait_for(
                measure(
                    n,
                    rendering,
                    args.seconds,
                    args.warmup,
                    tmp,
                    args.connect_timeout,
                    Path(args.py_spy) if args.py_spy else None,
                    args.detect_fps,
                    not args.no_ffmpeg and i == len(variants) - 1,
                    batch,
                    processes,
                    not args.server_per_client,
                ),
                args.seconds + args.warmup + args.connect_timeout + 180,
            )
        except (RuntimeError, TimeoutError) as exc:
            print(f"N={n}, batch {batch:g}, {processes} detect processes: failed: {exc}", flush=True)
            continue
        results.append(result)
        for earlier in results:
            earlier.ffmpeg = earlier.ffmpeg or result.ffmpeg
        print(
            f"N={n}, {variant_label(result)}: hub {result.hub_cpu:.1f}% of a core "
            f"({result.cpu_per_camera:.2f}%/camera), "
            f"dropped {result.dropped_frames}/{result.expected_frames}, {result.clips} clips, "
            f"WA {fmt_wa(result.wa_files)} files / {fmt_wa(result.wa_kernel)} kernel, "
            f"server {result.server_cpu:.0f}%, machine {result.machine_busy:.0f}%, "
            f"RSS {result.hub_rss / 1e6:.0f} MB, "
            + (
                f"ffmpeg {result.ffmpeg.cpu_per_camera:.2f}%/camera, ratio {result.ratio_to_ffmpeg:.2f} "
                if result.ffmpeg and result.ratio_to_ffmpeg
                else ""
            )
            + f"({time.monotonic() - began:.0f} s)",
            flush=True,
        )
    return results


def process_counts(text: str) -> list[int]:
    """`--detect-processes`: the hub's detect_processes values to run each N with, as given."""
    return comma_values(text, "--detect-processes", int, "whole numbers", MAX_DETECT_PROCESSES, "")


def batch_values(text: str) -> list[float]:
    """`--batch`: the motion.batch values to run each N with, in seconds, as given."""
    return comma_values(text, "--batch", float, "seconds", MAX_BATCH, " seconds (motion.batch's range)")


def comma_values(text: str, option: str, kind: type[N], what: str, most: N, unit: str) -> list[N]:
    """`option`'s comma-separated values of `kind` (`what` they are), each from 0 to `most` (`unit` follows it)."""
    try:
        values = [kind(v) for v in text.split(",")]
    except ValueError:
        raise SystemExit(f"{option} {text!r}: expected {what}, comma-separated, e.g. 0,1") from None
    if not values or any(not 0 <= v <= most for v in values):
        raise SystemExit(f"{option} {text!r}: each value must be 0 to {most:g}{unit}")
    return values


def add_cache_argument(parser: argparse.ArgumentParser) -> None:
    """`--cache`: where rendered scenes are kept between runs (shared with bench/soak.py)."""
    parser.add_argument(
        "--cache",
        default=os.environ.get("CAMHUB_SIM_CACHE", str(Path(tempfile.gettempdir()) / "camhub-sim-cache")),
        help="render cache (default $CAMHUB_SIM_CACHE or /tmp/camhub-sim-cache)",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="measured window per N")
    parser.add_argument("--n", default="1,4,16,64", help="camera counts, comma-separated")
    parser.add_argument("--warmup", type=float, default=8.0, help="seconds after all cameras are online")
    parser.add_argument("--connect-timeout", type=float, default=90.0, help="seconds for all cameras to come online")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "pipeline.md"))
    add_cache_argument(parser)
    parser.add_argument("--dir", help="where the hub's data folders go (default: a temp folder; the disk matters)")
    parser.add_argument("--py-spy", help="folder for py-spy profiles of the hub (perturbs the numbers)")
    parser.add_argument(
        "--detect-fps", type=int, default=DETECT_FPS, help="frame rate of the served sub-stream (15: same as main)"
    )
    parser.add_argument("--no-ffmpeg", action="store_true", help="skip the side-by-side ffmpeg recorders")
    parser.add_argument(
        "--server-per-client",
        action="store_true",
        help="the RTSP server runs a pipeline per client (as until 2026-12-01), not a few per stream for all cameras",
    )
    parser.add_argument(
        "--detect-processes",
        default="0",
        help="detect_processes of the hub; several (0,1) run each N once per value (and per --batch value)",
    )
    parser.add_argument(
        "--batch",
        default="0",
        help="motion.batch of every camera, seconds; several (0,1) run each N once per value, then its recorders",
    )
    args = parser.parse_args()
    results = asyncio.run(run(args))
    if not results:
        sys.exit("no N finished; nothing written")
    rendering = bench_rendering(Path(args.cache), args.detect_fps)
    text = report(results, args, stream_mbps(rendering, "main"), stream_mbps(rendering, "sub"))
    print(text)
    out = Path(args.out)
    # The written profile (from its heading on) is kept below the tables across runs.
    previous = out.read_text() if out.exists() else ""
    profile = previous[previous.index(PROFILE_HEADING) :] if PROFILE_HEADING in previous else ""
    out.write_text(text + ("\n" + profile if profile else ""))
    out.with_suffix(".json").write_text(
        json.dumps(
            {
                "date": str(datetime.date.today()),
                "machine": machine(),
                "seconds": args.seconds,
                "results": [
                    {
                        **asdict(r),
                        "cpu_per_camera": r.cpu_per_camera,
                        "drop_fraction": r.drop_fraction,
                        "wa_files": r.wa_files,
                        "wa_kernel": r.wa_kernel,
                        "ratio_to_ffmpeg": r.ratio_to_ffmpeg,
                    }
                    for r in results
                ],
            },
            indent=1,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
