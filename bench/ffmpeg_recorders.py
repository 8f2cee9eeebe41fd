"""Frigate's record path as a yardstick: one `ffmpeg -c copy -f segment` process per camera.

bench/pipeline.py runs these on the same RTSP streams, in the same run, after
the hub's window, and reports their CPU and memory per camera beside the
hub's. The arguments are those of Frigate's record preset (RTSP over TCP,
stream copy, 10 s MP4 segments, no audio); Frigate runs this process for
every camera, beside its detect process, which is not counted here.
"""

from __future__ import annotations

import asyncio
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from machine import cpu_ticks, folder_bytes, rss_bytes  # bench/machine.py

FFMPEG = "ffmpeg"
SEGMENT_SECONDS = 10


def recorder_command(url: str, folder: Path) -> list[str]:
    return [
        FFMPEG,
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        "-rtsp_transport",
        "tcp",
        "-i",
        url,
        "-c",
        "copy",
        "-an",
        "-f",
        "segment",
        "-segment_time",
        str(SEGMENT_SECONDS),
        "-segment_format",
        "mp4",
        "-reset_timestamps",
        "1",
        str(folder / "%05d.mp4"),
    ]


@dataclass
class RecorderResult:
    n: int
    seconds: float
    cpu: float  # % of one core, all N processes together
    rss_bytes: int  # VmRSS summed over the N processes at the window's end
    bytes_recorded: int  # segment bytes written by the whole run

    @property
    def cpu_per_camera(self) -> float:
        return self.cpu / self.n

    @property
    def rss_per_camera(self) -> float:
        return self.rss_bytes / self.n


async def measure_recorders(
    urls: list[str], seconds: float, warmup: float, work: Path, hz: int, connect_timeout: float = 60.0
) -> RecorderResult:
    """Start one recorder per URL, wait until each has written, warm up, then measure a window."""
    with tempfile.TemporaryDirectory(prefix="ffmpeg-rec-", dir=work) as tmp:
        folders = [Path(tmp) / f"cam{i:02d}" for i in range(len(urls))]
        procs: list[subprocess.Popen[bytes]] = []
        try:
            for url, folder in zip(urls, folders, strict=True):
                folder.mkdir()
                procs.append(
                    subprocess.Popen(
                        recorder_command(url, folder),
                        stdin=subprocess.DEVNULL,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.PIPE,
                    )
                )
            deadline = time.monotonic() + connect_timeout
            while not all(any(f.iterdir()) for f in folders):
                dead = [p for p in procs if p.poll() is not None]
                if dead:
                    err = dead[0].stderr.read().decode(errors="replace") if dead[0].stderr else ""
                    raise RuntimeError(f"ffmpeg recorder exited ({dead[0].returncode}): {err[-300:]}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"ffmpeg recorders: not all {len(urls)} wrote within {connect_timeout:.0f} s")
                await asyncio.sleep(0.5)
            await asyncio.sleep(warmup)
            t0 = time.monotonic()
            ticks0 = sum(cpu_ticks(p.pid) for p in procs)
            await asyncio.sleep(seconds)
            ticks1 = sum(cpu_ticks(p.pid) for p in procs)
            window = time.monotonic() - t0
            rss = sum(rss_bytes(p.pid) for p in procs)
            alive = sum(p.poll() is None for p in procs)
            if alive != len(procs):
                raise RuntimeError(f"ffmpeg recorders: {len(procs) - alive} exited during the window")
        finally:
            for p in procs:
                if p.poll() is None:
                    p.terminate()
            for p in procs:
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        written = folder_bytes(Path(tmp))
    return RecorderResult(
        n=len(urls), seconds=window, cpu=(ticks1 - ticks0) / hz / window * 100, rss_bytes=rss, bytes_recorded=written
    )
