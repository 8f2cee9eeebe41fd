"""What a reader thread's wake-ups cost on this machine: the same frames read at different paces.

One simulated camera (bench/pipeline.py's rendering, served by the GStreamer RTSP server on 127.0.0.1)
is read by the hub's RTSP client (`RtspStream`) in a thread of this process, one configuration after the
other, each for `--seconds`, in `--rounds` rounds:

- the 5 fps sub-stream and the 15 fps main stream read only (depacketised into access units), at a pace
  of 0 (every read as data comes: the detect input's way), 0.5 s (the record input's) and 1 s;
- the sub-stream read, decoded and analysed by the motion engine at 5 fps, at a pace of 0 and 1 s
  (`motion.batch` 0 and 1).

For each it prints the thread's CPU (CLOCK_THREAD_CPUTIME_ID, in % of one core), how many times the
thread ran (the scheduler's count of its timeslices, /proc/thread-self/schedstat), and the CPU per frame.
**cost per extra run** compares a configuration with the same stream and work at the largest pace in the
same round: the CPU it spends beyond that one, over the runs it makes beyond that one. The frames and the
work are the same, so that is what a wake-up costs here: the switch, and the caches the work finds cold.

    .venv/bin/python bench/wakeups.py [--seconds 20] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import statistics
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from machine import describe  # noqa: E402
from pipeline import add_cache_argument, bench_rendering  # noqa: E402

from camhub.capture.media import luma_plane  # noqa: E402
from camhub.integrations.rtsp.client import RtspStream  # noqa: E402
from camhub.motion.engine import MotionEngine  # noqa: E402
from camhub.sim.rtsp import RtspServer  # noqa: E402

# (stream, pace in seconds, decode and analyse)
CONFIGS = [
    ("sub", 0.0, False),
    ("sub", 0.5, False),
    ("sub", 1.0, False),
    ("main", 0.0, False),
    ("main", 0.5, False),
    ("main", 1.0, False),
    ("sub", 0.0, True),
    ("sub", 1.0, True),
]


@dataclass
class Reading:
    stream: str
    pace: float
    analysed: bool
    cpu: float  # % of one core
    runs: float  # a second
    frames: float  # a second

    @property
    def label(self) -> str:
        return f"{self.stream}, {'read, decoded, analysed' if self.analysed else 'read only'}, pace {self.pace:g} s"


def schedstat_runs() -> int:
    """How many timeslices the calling thread has had (proc(5), /proc/<pid>/task/<tid>/schedstat)."""
    return int(Path("/proc/thread-self/schedstat").read_text().split()[2])


def read_for(url: str, pace: float, analysed: bool, seconds: float) -> tuple[float, float, int]:
    """(CPU seconds, runs, frames) of this thread reading `url` for `seconds`, after its first keyframe."""
    stream = RtspStream(url, pace=pace)
    engine = MotionEngine()
    try:
        packets = stream.packets()
        next(packets)  # connected and at a keyframe: the set-up is not counted
        cpu, runs, began, frames = time.thread_time(), schedstat_runs(), time.monotonic(), 0
        for packet in packets:
            if analysed:
                for image in stream.decode(packet):
                    engine.analyse(luma_plane(image))
            frames += 1
            if time.monotonic() - began >= seconds:
                break
        return time.thread_time() - cpu, schedstat_runs() - runs, frames
    finally:
        stream.close()


def read_into(url: str, pace: float, analysed: bool, seconds: float, done: list[tuple[float, float, int]]) -> None:
    done.append(read_for(url, pace, analysed, seconds))


async def measure(server: RtspServer, seconds: float) -> list[Reading]:
    readings = []
    for stream, pace, analysed in CONFIGS:
        done: list[tuple[float, float, int]] = []
        args = (server.url("cam", stream), pace, analysed, seconds, done)
        thread = threading.Thread(target=read_into, args=args)  # a thread of its own, as the hub's readers are
        thread.start()
        await asyncio.to_thread(thread.join)
        if not done:
            raise RuntimeError(f"reading {stream} at a pace of {pace:g} s failed (see above)")
        cpu, runs, frames = done[0]
        readings.append(Reading(stream, pace, analysed, cpu / seconds * 100, runs / seconds, frames / seconds))
        print(f"  {readings[-1].label}: {readings[-1].cpu:.3f}% of a core, {readings[-1].runs:.1f} runs/s", flush=True)
    return readings


def extra_run_cost(reading: Reading, readings: list[Reading]) -> float | None:
    """Microseconds of CPU per run beyond the same work read at the largest pace in `readings`; None for
    that one, or one that ran no more often."""
    same = [r for r in readings if (r.stream, r.analysed) == (reading.stream, reading.analysed)]
    slowest = max(same, key=lambda r: r.pace)
    if reading is slowest or reading.runs <= slowest.runs:
        return None
    return (reading.cpu - slowest.cpu) / 100 / (reading.runs - slowest.runs) * 1e6


def table(rounds: list[list[Reading]]) -> str:
    lines = [
        "| round | configuration | CPU, % of one core | runs a second | frames a second | CPU per frame "
        "| cost per extra run |",
        "|---|---|---|---|---|---|---|",
    ]
    for i, readings in enumerate(rounds, 1):
        for r in readings:
            per_frame = r.cpu / 100 / r.frames * 1e6 if r.frames else 0.0
            cost = extra_run_cost(r, readings)
            lines.append(
                f"| {i} | {r.label} | {r.cpu:.3f} | {r.runs:.1f} | {r.frames:.1f} | {per_frame:,.0f} us "
                f"| {'-' if cost is None else f'{cost:,.0f} us'} |"
            )
    return "\n".join(lines)


def summary(rounds: list[list[Reading]]) -> str:
    costs = [c for readings in rounds for r in readings if (c := extra_run_cost(r, readings)) is not None]
    if not costs:
        return "No configuration ran more often than its slowest pace; nothing to compare."
    return (
        f"Cost per extra run, every comparison of every round: median {statistics.median(costs):,.0f} us, "
        f"from {min(costs):,.0f} to {max(costs):,.0f} us."
    )


async def run(args: argparse.Namespace) -> list[list[Reading]]:
    print(f"rendering the scene (cached in {args.cache}) ...", flush=True)
    rendering = await asyncio.to_thread(bench_rendering, Path(args.cache), 5)
    rounds = []
    async with RtspServer({"cam": rendering}) as server:
        for i in range(args.rounds):
            print(f"round {i + 1} of {args.rounds}:", flush=True)
            rounds.append(await measure(server, args.seconds))
    return rounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="reading time per configuration")
    parser.add_argument("--rounds", type=int, default=2, help="times every configuration is read")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "wakeups.md"))
    add_cache_argument(parser)
    args = parser.parse_args()
    if args.seconds <= 0 or args.rounds < 1:
        sys.exit("--seconds must be above 0 and --rounds at least 1")
    rounds = asyncio.run(run(args))
    text = "\n".join(
        [
            "# What a reader thread's wake-ups cost",
            "",
            f"Date: {datetime.date.today()}  ",
            f"Machine: {describe()}  ",
            f"Command: `.venv/bin/python bench/wakeups.py --seconds {args.seconds:g} --rounds {args.rounds}`",
            "",
            "One simulated camera of bench/pipeline.py (main 1920x1080 H.264 at 15 fps, sub-stream 640x360 at "
            "5 fps), read by the hub's RTSP client in one thread; see the script's docstring for the columns.",
            "",
            table(rounds),
            "",
            summary(rounds),
            "",
        ]
    )
    print(text)
    Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
