"""What a benchmark ran on, for the header of its results file, and the /proc readings the benchmarks share
(run benchmarks as `python bench/<name>.py`)."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def describe() -> str:
    """CPU model, CPU count, kernel and Python version."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return f"{cpu}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def cpu_ticks(pid: int) -> int:
    """utime + stime of a whole process (all threads), in clock ticks."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5)


def rss_bytes(pid: int) -> int:
    """VmRSS of a process, in bytes (0 when /proc does not say)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def folder_bytes(folder: Path) -> int:
    """The sizes of every file under `folder`."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
