"""Egress benchmark: how fast the hub packages footage for an outside party, and how fast it is verified.

    .venv/bin/python bench/egress.py [--clips 60] [--out bench/results/egress.md]

Builds a data folder of real 720p H.264 clips (10 s each, ffmpeg), then
times, through the real egress path (audit entry, package, proof):
releasing every clip whole; releasing a window whose edges cut two clips
(stream copy from a keyframe); and `verify_package` on the result.
Prints a table and writes it, with machine and date, to the results file.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import functools
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from machine import describe  # bench/machine.py: run as python bench/<name>.py

from camhub.audit import AuditLog
from camhub.clock import ManualClock
from camhub.privacy.egress import Egress
from camhub.privacy.package.verifier import verify_package
from camhub.privacy.schema import migrations
from camhub.privacy.scope import Scope
from camhub.store.db import Database
from camhub.store.files import clip_path, sha256_of
from camhub.store.index import ClipRecord, insert_clip, open_index

T0 = 1_790_000_000
CLIP_S = 10


def make_clip(folder: Path) -> Path:
    path = folder / "clip.mp4"
    subprocess.run(
        [
            "ffmpeg",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=1280x720:rate=15",
            "-t",
            str(CLIP_S),
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-g",
            "15",
            "-b:v",
            "3M",
            "-pix_fmt",
            "yuv420p",
            "-movflags",
            "frag_keyframe+empty_moov",
            str(path),
        ],
        check=True,
    )
    return path


async def run(clips: int, tmp: Path) -> list[tuple[str, str]]:
    source = make_clip(tmp)
    data = tmp / "data"
    data.mkdir()
    index = open_index(data)
    digest = sha256_of(source)
    for i in range(clips):
        start = T0 + i * CLIP_S
        relative = clip_path(data, "yard", start)
        (data / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, data / relative)
        record = ClipRecord(
            "yard", start, start + CLIP_S, CLIP_S, source.stat().st_size, "h264", 1280, 720, digest, str(relative)
        )
        index.write_blocking(functools.partial(insert_clip, clip=record))
    clock = ManualClock(T0 + clips * CLIP_S + 3600)
    audit = await AuditLog.open(data, hub_id="bench", clock=clock)
    db = Database(data / "privacy.db", migrations)
    egress = Egress(data, db, index, audit, clock)
    total = clips * source.stat().st_size
    rows = [("clips", f"{clips} x {CLIP_S} s, 1280x720 H.264, {source.stat().st_size / 1e6:.1f} MB each")]
    try:
        began = time.perf_counter()
        whole = await egress.release(
            "request:bench",
            {"kind": "request", "id": "bench"},
            "bench",
            Scope(("yard",), T0, T0 + clips * CLIP_S),
            "owner",
        )
        took = time.perf_counter() - began
        rows.append(("release, every clip whole", f"{took:.2f} s, {total / 1e6 / took:.0f} MB/s of footage"))
        began = time.perf_counter()
        cut = await egress.release(
            "request:bench-cut",
            {"kind": "request", "id": "bench-cut"},
            "bench",
            Scope(("yard",), T0 + 3, T0 + clips * CLIP_S - 3),
            "owner",
        )
        took_cut = time.perf_counter() - began
        rows.append(("release, both end clips cut", f"{took_cut:.2f} s ({took_cut - took:+.2f} s against whole)"))
        began = time.perf_counter()
        result = await asyncio.to_thread(verify_package, whole.path)
        took = time.perf_counter() - began
        assert result.ok, result.problems
        rows.append(("verify_package", f"{took:.2f} s, {whole.package_bytes / 1e6 / took:.0f} MB/s"))
        rows.append(("package size / footage", f"{whole.package_bytes / whole.bytes:.4f}"))
        rows.append(("files in the cut package", f"{cut.files} ({cut.bytes / 1e6:.1f} MB)"))
    finally:
        await audit.close()
        db.close()
        index.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clips", type=int, default=60)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "egress.md"))
    parser.add_argument("--dir", help="where to build the data folder (default: a temp folder; the disk matters)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        rows = asyncio.run(run(args.clips, Path(tmp)))
    header = (
        f"# Egress benchmark\n\nDate: {datetime.date.today()}  \nMachine: {describe()}  \n"
        f"Command: `.venv/bin/python bench/egress.py --clips {args.clips}`\n\n"
    )
    table = "| measure | result |\n|---|---|\n" + "".join(f"| {a} | {b} |\n" for a, b in rows)
    print(header + table)
    Path(args.out).write_text(header + table)


if __name__ == "__main__":
    main()
