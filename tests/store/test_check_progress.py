"""`camhub check` says how far it is: a percent rewritten in place on a terminal, one line otherwise."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path
from typing import Any

T0 = 1_790_000_000.0
CHECK = [sys.executable, "-m", "camhub.cli.main", "check", "--data"]


def test_check_shows_a_percent_on_a_terminal(tmp_path: Path, make_clips: Any) -> None:
    data = tmp_path / "data"
    make_clips(data, [("yard", T0 + 60 * i) for i in range(3)])
    terminal, stderr = pty.openpty()
    with subprocess.Popen([*CHECK, str(data)], stdout=subprocess.PIPE, stderr=stderr, text=True) as check:
        os.close(stderr)
        assert check.stdout is not None
        out = check.stdout.read()
        assert check.wait(timeout=60) == 0, out
    shown = b""
    while True:
        try:
            chunk = os.read(terminal, 4096)
        except OSError:  # EIO: the other end is closed and everything was read
            break
        if not chunk:
            break
        shown += chunk
    os.close(terminal)
    text = shown.decode()
    assert "\rchecking clips: 33% (1/3)" in text and "\rchecking clips: 100% (3/3)" in text, text
    assert "index and disk agree" in out


def test_check_writes_one_line_of_progress_when_not_on_a_terminal(tmp_path: Path, make_clips: Any) -> None:
    data = tmp_path / "data"
    make_clips(data, [("yard", T0), ("porch", T0)])
    check = subprocess.run([*CHECK, str(data)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout
    assert check.stderr == f"checking 2 clip(s) in {data}\n"
