"""A measurement probe, not a feature: would N cameras keep up as K hub processes of N/K cameras each?

    .venv/bin/python bench/shard_probe.py [--n 64] [--hubs 1,2] [--rounds 2] [--seconds 30] [--batch 0]
                                          [--out bench/results/shard_probe.md]

bench/results/pipeline.md found one hub at 64 cameras held at about one core, with its reader threads
waiting for the GIL hundreds of times a second. The hub cannot split itself over processes; this probe
imitates it. For each K, in rounds that alternate the Ks: pipeline.py's simulated cameras (1080p15 main
recorded, 5 fps 640x360 sub decoded and analysed) from one GStreamer RTSP server, and K hub processes
(`python -m camhub.cli.main run`), each with its own share of the cameras, data folder and port. After
all cameras are online and a warm-up, each hub's CPU (utime + stime) and each input's frames are counted
over the window as pipeline.py counts them (each input over its own window, a frame of slack at the
edges). What a sharded hub would also pay (passing events, status and live video between its processes)
is not in it.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from machine import cpu_ticks  # bench/machine.py: run as python bench/<name>.py
from pipeline import (  # bench/pipeline.py
    HZ,
    HubProcess,
    add_cache_argument,
    all_online,
    bench_rendering,
    by_role,
    camera_names,
    frames_short,
    free_port,
    hub_config,
    machine,
    machine_ticks,
    own_span,
)

from camhub.sim.rtsp import RtspServer

ROOT = Path(__file__).resolve().parent.parent
INPUTS = (("record", "last_packet_time", 15, "packets_received"), ("detect", "last_frame_time", 5, "frames_analysed"))


@dataclass
class Round:
    hubs: int
    cpu: list[float]  # % of one core, per hub process
    cameras: int
    expected: int
    dropped: int
    stalest: float  # seconds since the newest packet, worst input, at the window's end
    busy: float  # % of all cores

    @property
    def per_camera(self) -> float:
        return sum(self.cpu) / self.cameras


def dropped(before: list[dict[str, Any]], after: list[dict[str, Any]], window: float) -> tuple[int, int]:
    """(expected, dropped) frames over each input's own window, as bench/pipeline.py counts them."""
    expected = short = 0
    for a, b in zip(before, after, strict=True):
        for role, key, fps, field in INPUTS:
            was, now = by_role(a, role), by_role(b, role)
            due, missing = frames_short(fps, own_span(was, now, key, window), now[field] - was[field])
            expected, short = expected + due, short + missing
    return expected, short


async def measure(n: int, hubs: int, seconds: float, warmup: float, batch: float, cache: Path) -> Round:
    names = camera_names(n)
    server = RtspServer(dict.fromkeys(names, bench_rendering(cache, 5)))
    await server.start()
    processes: list[HubProcess] = []
    try:
        with tempfile.TemporaryDirectory(prefix="camhub-shard-") as tmp:
            share = -(-n // hubs)
            for i in range(hubs):
                folder = Path(tmp) / f"hub{i}"
                folder.mkdir()
                config = hub_config(n, server, folder, free_port(), batch)
                mine = set(names[i * share : (i + 1) * share])
                config["cameras"] = {name: c for name, c in config["cameras"].items() if name in mine}
                processes.append(HubProcess(config, folder))
            deadline = time.monotonic() + 120
            while not await asyncio.to_thread(lambda: all(online(p) for p in processes)):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{n} cameras in {hubs} hubs: not all online after 120 s")
                await asyncio.sleep(1.0)
            await asyncio.sleep(warmup)
            before = [await asyncio.to_thread(p.cameras) for p in processes]
            cpu0, machine0 = [cpu_ticks(p.pid) for p in processes], machine_ticks()
            await asyncio.sleep(seconds)
            after = [await asyncio.to_thread(p.cameras) for p in processes]
            cpu1, machine1 = [cpu_ticks(p.pid) for p in processes], machine_ticks()
            expected = short = 0
            stalest = 0.0
            cpu = []
            for (t0, a), (t1, b), x0, x1 in zip(before, after, cpu0, cpu1, strict=True):
                e, s = dropped(a, b, t1 - t0)
                expected, short = expected + e, short + s
                cpu.append((x1 - x0) / HZ / (t1 - t0) * 100)
                stalest = max([stalest, *(t1 - (i["last_packet_time"] or 0.0) for c in b for i in c["inputs"])])
            busy = (machine1[0] - machine0[0]) / max(1, machine1[1] - machine0[1]) * 100
            for p in processes:
                await asyncio.to_thread(p.stop, 30.0)
            return Round(hubs, cpu, n, expected, short, stalest, busy)
    finally:
        for p in processes:
            p.kill()
        await server.stop()


def online(process: HubProcess) -> bool:
    try:
        cameras = process.cameras()[1]
    except OSError:
        return False
    return bool(cameras) and all_online(cameras)


def report(rounds: list[Round], args: argparse.Namespace) -> str:
    lines = [
        "# Shard probe: N cameras as K hub processes",
        "",
        f"Date: {datetime.date.today()}  ",
        f"Machine: {machine()}  ",
        f"Command: `.venv/bin/python bench/shard_probe.py --n {args.n} --hubs {args.hubs} --rounds {args.rounds} "
        f"--seconds {args.seconds:g} --batch {args.batch:g}`",
        "",
        "A probe, not a feature (the module's docstring): the hub runs its cameras in one process. pipeline.py's "
        "cameras (1080p15 main recorded by stream copy, 5 fps 640x360 sub analysed), one RTSP server, the cameras "
        f"split evenly over K hubs; {args.seconds:g} s windows after a {args.warmup:g} s warm-up; rounds alternate "
        "the Ks. Dropped: frames short of 15/s recorded and 5/s analysed per camera, over each input's own window.",
        "",
        "| round | hubs | hub CPU, % of one core, each | per camera | frames expected | dropped | newest packet age, "
        "worst input | machine busy |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for i, r in enumerate(rounds):
        lines.append(
            f"| {i // len(hub_counts(args.hubs)) + 1} | {r.hubs} | {', '.join(f'{c:.1f}' for c in r.cpu)} "
            f"| {r.per_camera:.2f}% | {r.expected:,} | {r.dropped:,} ({r.dropped / max(1, r.expected):.1%}) "
            f"| {r.stalest:.2f} s | {r.busy:.0f}% |"
        )
    return "\n".join(lines) + "\n"


def hub_counts(text: str) -> list[int]:
    try:
        counts = [int(v) for v in text.split(",")]
    except ValueError:
        raise SystemExit(f"--hubs {text!r}: expected whole numbers, comma-separated, e.g. 1,2") from None
    if not counts or any(c < 1 for c in counts):
        raise SystemExit(f"--hubs {text!r}: each count must be 1 or more")
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--n", type=int, default=64, help="cameras in all")
    parser.add_argument("--hubs", default="1,2", help="hub process counts to compare, comma-separated")
    parser.add_argument("--rounds", type=int, default=2, help="times each count runs, alternating")
    parser.add_argument("--seconds", type=float, default=30.0, help="measured window")
    parser.add_argument("--warmup", type=float, default=8.0, help="seconds after all cameras are online")
    parser.add_argument("--batch", type=float, default=0.0, help="motion.batch of every camera, seconds")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "shard_probe.md"))
    add_cache_argument(parser)
    args = parser.parse_args()
    counts = hub_counts(args.hubs)
    rounds = []
    for round_no in range(args.rounds):
        for hubs in counts:
            print(f"round {round_no + 1}: {args.n} cameras in {hubs} hub(s) ...", flush=True)
            r = asyncio.run(measure(args.n, hubs, args.seconds, args.warmup, args.batch, Path(args.cache)))
            print(f"  {r.per_camera:.2f}%/camera, dropped {r.dropped}/{r.expected}, busy {r.busy:.0f}%", flush=True)
            rounds.append(r)
    text = report(rounds, args)
    print(text)
    Path(args.out).write_text(text)


if __name__ == "__main__":
    sys.exit(main())
