"""Soak benchmark: does the hub stay flat (memory, files, threads, responsiveness) over a long run?

    .venv/bin/python bench/soak.py [--minutes 30] [--cameras 16] [--drop-every 5] [--drop-seconds 20]

A hub runs as its own process (`python -m camhub.cli.main run`, as in bench/pipeline.py, whose
helpers this reuses) with `--cameras` simulated cameras served by the GStreamer RTSP server:
a 640x360 H.264 main stream at 15 fps recorded by stream copy with its 640x360 sub-stream
analysed at 5 fps (modest on purpose: the 2-core box is shared). The scene loops every 60 s
with one object crossing it, so every camera has one motion event (one clip) a minute.

The last camera is served by a second RTSP server that is stopped for `--drop-seconds` every
`--drop-every` minutes and restarted on the same port: the camera drops and the hub reconnects.
For the whole run the dashboard's live views are open: long-running HTTP readers (logged in as
the first owner) read and discard /api/cameras/{name}/live.mp4 and live.mjpeg of a steady camera
and of the dropping one, reconnecting whenever the hub ends a stream (it ends live.mp4 when its
camera reconnects).

Every `--interval` seconds it records, from outside the hub: RSS (VmRSS of /proc/<pid>/status),
open files (entries of /proc/<pid>/fd), threads (Threads of /proc/<pid>/status), CPU, and event
loop lag as the latency of GET /api/health (polled once a second on a kept-alive connection:
its median and maximum per interval). The hub has no loop-lag metric of its own; a request that
does next to nothing waits for whatever holds the loop, so its latency is the lag as a client
sees it.

Verdict, after skipping the first `--warmup` fraction of the run:
- RSS and health latency: a least-squares slope over the measured samples, projected over the
  measured span, must stay within tolerance (RSS: the smaller of 10 MB and 5% of the warm value;
  latency: 10 ms on the median).
- Open files and threads are integers that rise for a moment while a camera reconnects, a clip
  is open or a viewer reconnects, and fall while a camera is away; a leak raises their floor.
  Over the measured samples taken with every camera online, the floor (minimum) of the last
  third must not exceed the floor of the first third.
A series past its tolerance is RISING and the bench exits non-zero.

To tell a leak from a pool that grew: the hub's Python threads are listed by name (py-spy dump)
at the end of warm-up and at the end, and `--tracemalloc DIR` runs the hub with allocation
tracing (a sitecustomize hook, nothing in the hub) that dumps a snapshot into DIR every 30
intervals, to compare with `tracemalloc.Snapshot.load(...).compare_to(...)`. Tracing slows the
hub and each snapshot costs RSS, so such a run's figures are not the soak's.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from pipeline import (
    HZ,
    ROOT,
    HubProcess,
    add_cache_argument,
    all_online,
    camera_names,
    cpu_ticks,
    free_port,
    hub_config,
)
from soak_report import HEALTH_TIMEOUT, Sample, report, verdicts, write_csv

from camhub.sim.render import render_scene
from camhub.sim.rtsp import RtspServer
from camhub.sim.scene import Background, MovingObject, Scene

SCENE = Scene(
    name="soak-360p",
    width=640,
    height=360,
    fps=15,
    duration=60.0,
    background=Background("yard", seed=11),
    objects=(
        MovingObject(start=(-0.1, 0.6), end=(1.1, 0.65), t0=20.0, t1=26.0, size=(0.16, 0.26), color=(40, 70, 190)),
    ),
)
HEALTH_EVERY = 1.0  # seconds between /api/health probes
PASSWORD = "soak-bench-password-1"


# -- /proc


def proc_status(pid: int) -> tuple[float, int]:
    """(VmRSS in MB, Threads) from /proc/<pid>/status."""
    rss = threads = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
        elif line.startswith("Threads:"):
            threads = int(line.split()[1])
    return rss / 1024, threads


def open_files(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def python_threads(pid: int) -> collections.Counter[str] | None:
    """The hub's Python threads by name (`py-spy dump`, without pausing it), or None without py-spy."""
    spy = Path(sys.executable).with_name("py-spy")
    if not spy.exists():
        return None
    try:
        out = subprocess.run(
            [str(spy), "dump", "--nonblocking", "--pid", str(pid)], capture_output=True, text=True, timeout=60
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    return collections.Counter(re.findall(r'^Thread \S+ \(\w+\): "([^"]*)"', out, re.MULTILINE))


# Started in the hub by `--tracemalloc DIR` (as sitecustomize, found through PYTHONPATH): it traces
# allocations from the start and dumps a snapshot every so often for `python -m tracemalloc`-style diffs.
TRACEMALLOC_HOOK = """
import os, sys
if os.environ.get("SOAK_TRACEMALLOC") and sys.executable == os.environ.get("SOAK_TRACEMALLOC_EXE"):
    import threading, time, tracemalloc
    tracemalloc.start()
    def _dump(folder=os.environ["SOAK_TRACEMALLOC"], every=float(os.environ["SOAK_TRACEMALLOC_EVERY"])):
        n = 0
        while True:
            time.sleep(every)
            n += 1
            tracemalloc.take_snapshot().dump(os.path.join(folder, "snapshot-%03d.tracemalloc" % n))
    threading.Thread(target=_dump, name="soak-tracemalloc", daemon=True).start()
"""


def start_hub(config: dict[str, Any], work: Path, tracemalloc_dir: str | None, every: float) -> HubProcess:
    """The hub as in bench/pipeline.py; with `tracemalloc_dir`, tracing allocations (only the hub: the
    environment is set just while it is spawned, so the RTSP servers restarted later do not inherit it)."""
    if tracemalloc_dir is None:
        return HubProcess(config, work)
    hook = work / "tracemalloc-hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(TRACEMALLOC_HOOK)
    Path(tracemalloc_dir).mkdir(parents=True, exist_ok=True)
    saved = dict(os.environ)
    os.environ.update(
        PYTHONPATH=str(hook),
        SOAK_TRACEMALLOC=str(Path(tracemalloc_dir).resolve()),
        SOAK_TRACEMALLOC_EXE=sys.executable,
        SOAK_TRACEMALLOC_EVERY=str(every),
    )
    try:
        return HubProcess(config, work)
    finally:
        os.environ.clear()
        os.environ.update(saved)


# -- clients of the hub


class Viewers:
    """Long-running live views, read and discarded; each reconnects when the hub ends its stream."""

    def __init__(self, session: aiohttp.ClientSession, base: str, paths: list[str]) -> None:
        self.session, self.base, self.paths = session, base, paths
        self.bytes = 0
        self.reconnects = 0
        self.errors: list[str] = []
        self.tasks = [asyncio.create_task(self._view(p)) for p in paths]

    async def _view(self, path: str) -> None:
        first = True
        while True:
            if not first:
                self.reconnects += 1
            first = False
            try:
                async with self.session.get(self.base + path, timeout=aiohttp.ClientTimeout(sock_read=30)) as r:
                    if r.status != 200:
                        self.errors.append(f"{path}: {r.status} {(await r.text())[:120]}")
                    else:
                        async for chunk in r.content.iter_any():
                            self.bytes += len(chunk)
            except (aiohttp.ClientError, TimeoutError) as exc:
                self.errors.append(f"{path}: {type(exc).__name__} {exc}"[:200])
            await asyncio.sleep(1.0)

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


class HealthProbe:
    """GET /api/health once a second; latencies (ms) since the last `take()`."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session, self.url = session, base + "/api/health"
        self.latencies: list[float] = []
        self.failures = 0
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            began = time.perf_counter()
            try:
                async with self.session.get(self.url, timeout=aiohttp.ClientTimeout(total=HEALTH_TIMEOUT)) as r:
                    await r.read()
                    ok = r.status == 200
            except (aiohttp.ClientError, TimeoutError):
                ok = False
            elapsed = time.perf_counter() - began
            self.latencies.append(elapsed * 1000 if ok else HEALTH_TIMEOUT * 1000)
            self.failures += not ok
            await asyncio.sleep(max(0.0, HEALTH_EVERY - elapsed))

    def take(self) -> list[float]:
        taken, self.latencies = self.latencies, []
        return taken

    async def close(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def owner_session(hub: HubProcess, base: str) -> aiohttp.ClientSession:
    """Log in as the first owner with the one-time password the hub printed, and set a real one."""
    deadline = time.monotonic() + 60
    password = None
    while password is None:
        found = [m for line in list(hub.lines) if (m := re.search(r"one-time password (\S+)", line))]
        if found:
            password = found[0].group(1)
        elif time.monotonic() > deadline:
            raise RuntimeError("the hub printed no one-time password for the first owner")
        else:
            await asyncio.sleep(0.5)
    # unsafe=True: aiohttp keeps no cookies from a bare IP address (127.0.0.1) otherwise.
    session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    try:
        async with session.post(base + "/api/auth/login", json={"username": "owner", "password": password}) as r:
            if r.status != 200:
                raise RuntimeError(f"login as owner failed: {r.status} {await r.text()}")
        body = {"current_password": password, "new_password": PASSWORD}
        async with session.post(base + "/api/auth/password", json=body) as r:
            if r.status != 200:
                raise RuntimeError(f"changing the owner's password failed: {r.status} {await r.text()}")
    except BaseException:
        await session.close()
        raise
    return session


async def cameras(session: aiohttp.ClientSession, base: str) -> list[dict[str, Any]]:
    try:
        async with session.get(base + "/api/cameras", timeout=aiohttp.ClientTimeout(total=10)) as r:
            return list(await r.json()) if r.status == 200 else []
    except (aiohttp.ClientError, TimeoutError):
        return []


# -- the run


async def soak(args: argparse.Namespace, work: Path) -> tuple[list[Sample], dict[str, Any]]:
    rendering = await asyncio.to_thread(render_scene, SCENE, args.cache)
    names = camera_names(args.cameras)
    steady_names, flaky_name = names[:-1], names[-1]
    steady = RtspServer(dict.fromkeys(steady_names, rendering))
    flaky = RtspServer({flaky_name: rendering}, loop_start=steady.loop_start)  # same moment of the scene
    await steady.start()
    await flaky.start()
    config = hub_config(args.cameras, steady, work / "data", free_port())
    config["cameras"][flaky_name]["inputs"][0]["url"] = flaky.url(flaky_name, "main")
    config["cameras"][flaky_name]["inputs"][1]["url"] = flaky.url(flaky_name, "sub")
    hub = start_hub(config, work, args.tracemalloc, args.interval * 30)
    base = f"http://127.0.0.1:{hub.port}"
    plain = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1))
    owner: aiohttp.ClientSession | None = None
    viewers: Viewers | None = None
    probe: HealthProbe | None = None
    notes: dict[str, Any] = {"drops": [], "reconnect_s": []}
    timers: list[asyncio.Task[None]] = []  # time_reconnect after each drop
    try:
        deadline = time.monotonic() + args.connect_timeout
        while not all_online(listed := await cameras(plain, base)) or not listed:
            if hub.proc.poll() is not None:
                raise RuntimeError(f"hub exited ({hub.proc.returncode}): " + " | ".join(list(hub.lines)[-10:]))
            if time.monotonic() > deadline:
                raise RuntimeError(f"cameras not all online after {args.connect_timeout:.0f} s")
            await asyncio.sleep(1.0)
        owner = await owner_session(hub, base)
        live = [names[0], flaky_name]
        paths = [f"/api/cameras/{n}/live.mp4" for n in live] + [f"/api/cameras/{n}/live.mjpeg" for n in live]
        viewers = Viewers(owner, base, paths)
        probe = HealthProbe(plain, base)
        print(f"{args.cameras} cameras online; soaking for {args.minutes:g} min", flush=True)

        samples: list[Sample] = []
        start = time.monotonic()
        end = start + args.minutes * 60
        next_drop = start + args.drop_every * 60
        down_until: float | None = None
        ticks0, at0 = cpu_ticks(hub.pid), time.monotonic()
        next_sample = start + args.interval
        while time.monotonic() < end:
            now = time.monotonic()
            if down_until is None and now >= next_drop and next_drop + args.drop_seconds < end:
                await flaky.stop()
                down_until = now + args.drop_seconds
                notes["drops"].append(round(now - start))
                print(f"{now - start:6.0f} s: {flaky_name} dropped for {args.drop_seconds:g} s", flush=True)
            elif down_until is not None and now >= down_until:
                await flaky.start()
                down_until, next_drop = None, next_drop + args.drop_every * 60
                back = time.monotonic()
                timers.append(asyncio.create_task(time_reconnect(plain, base, flaky_name, back, notes)))
            if now >= next_sample:
                next_sample += args.interval
                if hub.proc.poll() is not None:
                    raise RuntimeError(f"hub exited ({hub.proc.returncode}): " + " | ".join(list(hub.lines)[-10:]))
                rss, threads = proc_status(hub.pid)
                ticks, at = cpu_ticks(hub.pid), time.monotonic()
                lat = probe.take() or [HEALTH_TIMEOUT * 1000]
                listed = await cameras(plain, base)
                sample = Sample(
                    t=round(now - start, 1),
                    rss_mb=round(rss, 2),
                    fds=open_files(hub.pid),
                    threads=threads,
                    lag_p50_ms=round(statistics.median(lat), 2),
                    lag_max_ms=round(max(lat), 2),
                    cpu_pct=round((ticks - ticks0) / HZ / (at - at0) * 100, 1),
                    online=sum(c["state"] == "online" for c in listed),
                    dropped=int(down_until is not None),
                    live_bytes=viewers.bytes,
                    live_reconnects=viewers.reconnects,
                )
                ticks0, at0 = ticks, at
                samples.append(sample)
                if "threads_warm" not in notes and sample.t >= args.minutes * 60 * args.warmup:
                    notes["threads_warm"] = await asyncio.to_thread(python_threads, hub.pid)
                if len(samples) % max(1, round(60 / args.interval)) == 0:
                    print(
                        f"{sample.t:6.0f} s: RSS {sample.rss_mb:.1f} MB, {sample.fds} fds, {sample.threads} threads, "
                        f"health p50 {sample.lag_p50_ms:.1f} ms, CPU {sample.cpu_pct:.0f}%, {sample.online} online",
                        flush=True,
                    )
            await asyncio.sleep(0.2)
        notes["threads_end"] = await asyncio.to_thread(python_threads, hub.pid)
        notes["threads_total_end"] = proc_status(hub.pid)[1]
        notes["health_failures"] = probe.failures
        notes["viewer_errors"] = viewers.errors[:20]
        notes["viewer_error_count"] = len(viewers.errors)
        notes["warnings"] = [line for line in hub.lines if " WARNING " in line or " ERROR " in line][:20]
        notes["clips"] = await clip_count(owner, base)
        return samples, notes
    finally:
        for timer in timers:
            timer.cancel()
        for closing in (viewers, probe):
            if closing is not None:
                await closing.close()
        if owner is not None:
            await owner.close()
        await plain.close()
        await asyncio.to_thread(hub.stop, 60.0)
        await flaky.stop()
        await steady.stop()


async def time_reconnect(
    session: aiohttp.ClientSession, base: str, name: str, back: float, notes: dict[str, Any]
) -> None:
    """Seconds from the server's return until the hub says the camera is online again."""
    while time.monotonic() - back < 120:
        listed = [c for c in await cameras(session, base) if c["name"] == name]
        if listed and listed[0]["state"] == "online":
            notes["reconnect_s"].append(round(time.monotonic() - back, 1))
            return
        await asyncio.sleep(0.5)
    notes["reconnect_s"].append(None)


async def clip_count(session: aiohttp.ClientSession, base: str) -> int | None:
    try:
        async with session.get(base + "/api/storage", timeout=aiohttp.ClientTimeout(total=30)) as r:
            body = await r.json()
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return None
    return sum(int(c["clips"]) for c in body["cameras"]) if isinstance(body, dict) and "cameras" in body else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="length of the soak")
    parser.add_argument("--cameras", type=int, default=16)
    parser.add_argument("--drop-every", type=float, default=5.0, help="minutes between camera drops")
    parser.add_argument("--drop-seconds", type=float, default=20.0, help="how long a drop lasts")
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--warmup", type=float, default=0.2, help="fraction of the run not judged")
    parser.add_argument("--connect-timeout", type=float, default=120.0)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "soak.md"))
    add_cache_argument(parser)
    parser.add_argument("--dir", help="where the hub's data folder goes (default: a temp folder)")
    parser.add_argument(
        "--tracemalloc",
        metavar="DIR",
        help="trace the hub's allocations and dump a snapshot into DIR every 30 intervals (slows the hub)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="camhub-soak-", dir=args.dir) as tmp:
        samples, notes = asyncio.run(soak(args, Path(tmp)))
    if len(samples) < 6:
        sys.exit(f"only {len(samples)} samples; run longer")
    results = verdicts(samples, args.warmup, args.cameras)
    text = report(samples, results, notes, args, SCENE)
    print(text)
    out = Path(args.out)
    out.write_text(text)
    write_csv(samples, out.with_suffix(".csv"))
    if not all(v.flat for v in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
