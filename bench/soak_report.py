"""The soak benchmark's verdict and report: is each series flat after warm-up, and the results files.

bench/soak.py samples the hub; this judges the samples (see its docstring for the rules) and
writes bench/results/soak.md and soak.csv.
"""

from __future__ import annotations

import argparse
import collections
import csv
import datetime
import re
import statistics
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from pipeline import machine  # bench/pipeline.py: run as python bench/soak.py

from camhub.sim.scene import Scene

RSS_TOLERANCE_MB = 10.0
RSS_TOLERANCE_FRACTION = 0.05
LAG_TOLERANCE_MS = 10.0
HEALTH_TIMEOUT = 10.0  # seconds; a probe that fails counts as this long


@dataclass
class Sample:
    t: float  # seconds since the cameras came online
    rss_mb: float
    fds: int
    threads: int
    lag_p50_ms: float
    lag_max_ms: float
    cpu_pct: float  # % of one core over the interval
    online: int
    dropped: int  # 1 while the dropping camera's server is stopped
    live_bytes: int  # read by all live viewers so far
    live_reconnects: int


@dataclass
class Verdict:
    series: str
    warm: float  # median of the first three measured samples
    end: float  # median of the last three
    growth: float  # least-squares slope times the measured span
    rule: str
    flat: bool


def slope(ts: list[float], ys: list[float]) -> float:
    """Least-squares slope of ys over ts (per second)."""
    mt, my = statistics.fmean(ts), statistics.fmean(ys)
    den = sum((t - mt) ** 2 for t in ts)
    return sum((t - mt) * (y - my) for t, y in zip(ts, ys, strict=True)) / den if den else 0.0


def verdicts(samples: list[Sample], warmup: float, cameras: int) -> list[Verdict]:
    cut = samples[-1].t * warmup
    measured = [s for s in samples if s.t >= cut]
    ts = [s.t for s in measured]
    span = ts[-1] - ts[0]
    out = []
    for name, unit in (("rss_mb", "MB"), ("fds", ""), ("threads", ""), ("lag_p50_ms", "ms")):
        ys = [float(getattr(s, name)) for s in measured]
        warm, end = statistics.median(ys[:3]), statistics.median(ys[-3:])
        growth = slope(ts, ys) * span
        if name == "rss_mb":
            tolerance = min(RSS_TOLERANCE_MB, RSS_TOLERANCE_FRACTION * warm)
            flat = growth <= tolerance
            rule = f"slope x span <= {tolerance:.1f} MB (min of {RSS_TOLERANCE_MB:g} MB, {RSS_TOLERANCE_FRACTION:.0%})"
        elif name == "lag_p50_ms":
            flat = growth <= LAG_TOLERANCE_MS
            rule = f"slope x span <= {LAG_TOLERANCE_MS:g} ms"
        else:
            # Only samples with every camera connected: a dropped camera's closed sockets lower the floor.
            steady = [y for s, y in zip(measured, ys, strict=True) if s.online == cameras and not s.dropped]
            third = max(1, len(steady) // 3)
            first, last = min(steady[:third]), min(steady[-third:])
            flat = last <= first
            rule = f"floor of last third ({last:.0f}) <= floor of first third ({first:.0f}), all cameras online"
        out.append(Verdict(name + (f" ({unit})" if unit else ""), warm, end, growth, rule, flat))
    return out


def table(results: list[Verdict]) -> str:
    rows = [
        "| series | warm | end | growth over the measured part (slope x span) | rule | verdict |",
        "|---|---|---|---|---|---|",
    ]
    for v in results:
        rows.append(
            f"| {v.series} | {v.warm:.1f} | {v.end:.1f} | {v.growth:+.2f} | {v.rule} "
            f"| {'flat' if v.flat else 'RISING'} |"
        )
    return "\n".join(rows) + "\n"


def report(
    samples: list[Sample], results: list[Verdict], notes: dict[str, Any], args: argparse.Namespace, scene: Scene
) -> str:
    measured = [s for s in samples if s.t >= samples[-1].t * args.warmup]
    lag_max = max(s.lag_max_ms for s in measured)
    cpu = statistics.fmean(s.cpu_pct for s in measured)
    verdict = (
        "FLAT" if all(v.flat for v in results) else "RISING: " + ", ".join(v.series for v in results if not v.flat)
    )
    reconnects = ", ".join("never" if r is None else f"{r:g} s" for r in notes["reconnect_s"]) or "none"
    lines = [
        "# Soak benchmark: RSS, open files, threads and event-loop lag over a long run",
        "",
        f"Date: {datetime.date.today()}  ",
        f"Machine: {machine()} (shared: other engineers ran tests and CPU benchmarks on it during the run)  ",
        f"Command: `.venv/bin/python bench/soak.py --minutes {args.minutes:g} --cameras {args.cameras} "
        f"--drop-every {args.drop_every:g} --drop-seconds {args.drop_seconds:g} --interval {args.interval:g}`",
        "",
        f"**Verdict: {verdict}** ({len(samples)} samples every {args.interval:g} s; the first "
        f"{args.warmup:.0%} of the run is warm-up and not judged).",
        "",
        table(results),
        "## What ran",
        "",
        f"- {args.cameras} simulated cameras from the GStreamer RTSP server on 127.0.0.1, all showing one rendering "
        f"in lockstep: main {scene.width}x{scene.height} H.264 at {scene.fps} fps recorded by stream copy, sub-stream "
        "640x360 analysed at 5 fps (modest resolutions: the 2-core machine was shared). The scene loops every "
        f"{scene.duration:g} s with one object crossing for {scene.objects[0].t1 - scene.objects[0].t0:g} s: one "
        f"motion event and one clip per camera a minute ({notes.get('clips')} clips indexed at the end).",
        f"- Camera drops: the last camera has its own RTSP server, stopped for {args.drop_seconds:g} s every "
        f"{args.drop_every:g} min and restarted on the same port, at {', '.join(f'{d} s' for d in notes['drops'])}. "
        f"Back online after the server returned: {reconnects}.",
        f"- Live views open the whole run (logged in as the owner, read and discarded, reconnecting whenever the hub "
        f"ends a stream): live.mp4 and live.mjpeg of a steady camera and of the dropping one. "
        f"{samples[-1].live_bytes / 1e6:,.0f} MB read, {samples[-1].live_reconnects} reconnects, "
        f"{notes['viewer_error_count']} refused or failed attempts.",
        "- RSS is VmRSS and threads is Threads of /proc/<pid>/status, open files are the entries of /proc/<pid>/fd, "
        "all of the hub process. Event-loop lag is measured from outside: GET /api/health once a second on a "
        "kept-alive connection (it does next to nothing, so its latency is the time it waited for the loop); the "
        f"series is the median per interval; the worst single probe after warm-up took {lag_max:.0f} ms, "
        f"{notes['health_failures']} probes failed or timed out ({HEALTH_TIMEOUT:g} s). Hub CPU after warm-up: "
        f"{cpu:.0f}% of one core on average.",
        "- Rules: RSS and health latency are judged by the least-squares slope over the measured samples, "
        "projected over the measured span. Open files and threads rise for a moment whenever a camera reconnects, "
        "a clip is open or a viewer reconnects, and fall while a camera is away; a leak raises their floor, so "
        "over the measured samples taken with every camera online, the floor (minimum) of the last third must not "
        "exceed that of the first third.",
        "- The whole series is in soak.csv beside this file (t is seconds since all cameras were online; "
        "`dropped` is 1 while the dropping camera's server was stopped).",
    ]
    lines += threads_section(notes)
    if notes["warnings"]:
        lines += ["", "Hub warnings (first few):", ""] + [f"- `{w[:200]}`" for w in notes["warnings"][:10]]
    if notes["viewer_errors"]:
        lines += ["", "Live-view attempts refused or failed (first few):", ""]
        lines += [f"- `{e}`" for e in notes["viewer_errors"][:8]]
    return "\n".join(lines) + "\n"


def threads_section(notes: dict[str, Any]) -> list[str]:
    warm, end = notes.get("threads_warm"), notes.get("threads_end")
    if warm is None or end is None:
        return []

    def pool(name: str) -> str:  # "asyncio_2" -> "asyncio_*": a pool's workers are told apart by number only
        return re.sub(r"_\d+$", "_*", name)

    warm_pools, end_pools = (
        collections.Counter(map(pool, warm.elements())),
        collections.Counter(map(pool, end.elements())),
    )
    changes = [
        f"{name}: {warm_pools[name]} -> {end_pools[name]}"
        for name in sorted(set(warm_pools) | set(end_pools))
        if warm_pools[name] != end_pools[name]
    ]
    return [
        "",
        f"Python threads by name (py-spy dump): {sum(warm.values())} at the end of warm-up, {sum(end.values())} at "
        f"the end, of {notes['threads_total_end']} threads in all (the rest run no Python code: native threads such "
        "as FFmpeg's). "
        f"Changed: {'; '.join(changes) or 'none'}.",
    ]


def write_csv(samples: list[Sample], path: Path) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=[fl.name for fl in fields(Sample)])
        writer.writeheader()
        writer.writerows(asdict(s) for s in samples)
