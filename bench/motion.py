"""Benchmark: microseconds per frame of `MotionDetector.analyse` on luma planes.

Frames are synthetic (blocky texture, a moving square, gaussian noise) so the
numbers do not depend on a render. Prints a table and writes it, with the
machine and date, to bench/results/motion.md.

    .venv/bin/python bench/motion.py
"""

from __future__ import annotations

import datetime
import os
import platform
import time
from pathlib import Path

import numpy as np

from camhub.config import MotionConfig
from camhub.motion.detector import MotionDetector

FRAMES = 200  # distinct frames, cycled
ROUNDS = 5  # the best round is reported, to keep scheduler noise out


def frames(width: int, height: int) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    coarse = rng.integers(40, 200, (height // 40 + 1, width // 40 + 1), dtype=np.uint8)
    base = np.kron(coarse, np.ones((40, 40), np.uint8))[:height, :width]
    out = []
    for n in range(FRAMES):
        frame = base.copy()
        x = (n * 7) % (width - height // 6)
        frame[height // 3 : height // 2, x : x + height // 6] = 250
        noise = rng.normal(0, 3, frame.shape)
        out.append(np.clip(frame + noise, 0, 255).astype(np.uint8))
    return out


def per_frame_us(width: int, height: int, frame_height: int) -> float:
    detector = MotionDetector(MotionConfig(frame_height=frame_height))
    planes = frames(width, height)
    best = float("inf")
    for r in range(ROUNDS):
        start = time.perf_counter()
        for n, plane in enumerate(planes):
            detector.analyse(plane, (r * FRAMES + n) * 0.2)
        best = min(best, (time.perf_counter() - start) / len(planes))
    return best * 1e6


def main() -> None:
    rows = [(w, h, fh, per_frame_us(w, h, fh)) for w, h in ((640, 360), (1280, 720)) for fh in (90, 120)]
    table = ["| luma plane | frame_height | µs per frame |", "|---|---|---|"]
    table += [f"| {w}x{h} | {fh} | {us:.0f} |" for w, h, fh, us in rows]
    machine = f"{platform.platform()}, {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"
    report = "\n".join(
        [
            "# Motion detector: time per frame",
            "",
            f"Machine: {machine}; Python {platform.python_version()}.",
            f"Date: {datetime.date.today().isoformat()}. Best of {ROUNDS} rounds of {FRAMES} frames,"
            " one thread calling `MotionDetector.analyse` (OpenCV may use its own threads).",
            "",
            *table,
            "",
        ]
    )
    print(report)
    out = Path(__file__).resolve().parent / "results" / "motion.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(report)


if __name__ == "__main__":
    main()
