"""Power-cut safety: the hub is killed with SIGKILL while recording, again and again.

After each kill the hub is started again (start-up recovery runs) and stopped,
then `camhub check` must pass, every clip indexed before the kill must be
unchanged, and whatever the killed hub was writing is either a playable,
indexed clip or gone. The camera is Debian's GStreamer RTSP server with a
scene in constant motion, so a clip is nearly always open when the kill comes.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest

from camhub.store.db import connect
from camhub.store.index import query_clips

from ..conftest import free_port

KILLS = 20
DEADLINE = 90.0  # seconds a started hub gets to record; generous, since the machine is shared


def indexed(data: Path) -> dict[int, tuple[str, str, int]]:
    if not (data / "index.db").exists():
        return {}
    db = connect(data / "index.db", readonly=True)
    try:
        return {c.id or 0: (c.path, c.sha256, c.bytes) for c in query_clips(db)}
    finally:
        db.close()


def playable(path: Path) -> bool:
    result = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-count_packets",
            "-show_entries",
            "stream=codec_name,nb_read_packets",
            "-of",
            "json",
            str(path),
        ],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0 or result.stderr.strip():
        return False
    stream = json.loads(result.stdout)["streams"][0]
    return bool(stream["codec_name"] == "h264" and int(stream["nb_read_packets"]) > 0)


def partials(data: Path) -> set[Path]:
    return set(data.glob("clips/*/*/*.partial"))


def finished(data: Path) -> set[Path]:
    return set(data.glob("clips/*/*/*.mp4"))


def saved_and_writing(data: Path, files_before: set[Path], proc: subprocess.Popen[bytes]) -> bool:
    """A clip was saved since `files_before` and the next is being written (or the hub exited)."""
    return bool(finished(data) - files_before and partials(data)) or proc.poll() is not None


def wait_for(condition: Callable[[], object], what: str) -> None:
    end = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > end:
            pytest.fail(f"waited {DEADLINE:g} s for {what}")
        time.sleep(0.1)


def hub(config: Path, port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "camhub.cli.main", "run", "-c", str(config), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_sigkill_while_recording_loses_nothing_already_saved(
    busy_config: Callable[[Path], Path], tmp_path: Path
) -> None:
    config = busy_config(tmp_path)
    data = tmp_path / "data"
    rng = random.Random(20261129)
    seen_partial = 0
    for kill in range(KILLS):
        before = indexed(data)
        hashes_before = {i: (data / p).read_bytes() for i, (p, _, _) in before.items()}
        files_before = finished(data)
        proc = hub(config, free_port())
        # Each run saves a clip and is writing the next before it is killed: a fixed sleep
        # killed a slow start (a busy machine) before it had recorded anything.
        wait_for(partial(saved_and_writing, data, files_before, proc), f"run {kill} to save a clip and start the next")
        assert proc.poll() is None, f"run {kill}: the hub exited with {proc.returncode}"
        time.sleep(rng.uniform(0.0, 3.0))  # a random point in the clip being written (up to 3 s long), not a wait
        seen_partial += bool(partials(data))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

        # Restart: recovery runs at start-up; then a clean stop.
        restart = subprocess.run(
            [
                sys.executable,
                "-m",
                "camhub.cli.main",
                "run",
                "-c",
                str(config),
                "--port",
                str(free_port()),
                "--seconds",
                "0.5",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert restart.returncode == 0, restart.stderr
        check = subprocess.run(
            [sys.executable, "-m", "camhub.cli.main", "check", "--data", str(data)], capture_output=True, text=True
        )
        assert check.returncode == 0, f"kill {kill}: {check.stdout}{check.stderr}"

        after = indexed(data)
        for clip_id, (path, digest, size) in before.items():
            assert after.get(clip_id) == (path, digest, size), f"kill {kill}: clip {clip_id} changed in the index"
            assert (data / path).read_bytes() == hashes_before[clip_id], f"kill {kill}: clip {clip_id} changed on disk"
        for clip_id, (path, _, _) in after.items():
            if clip_id not in before:
                assert playable(data / path), f"kill {kill}: new clip {path} is not playable"
        assert not list(data.glob("clips/*/*/*.partial")), f"kill {kill}: a partial file survived recovery"
    clips = indexed(data)
    assert len(clips) >= KILLS // 4, "the hub recorded too little for the test to mean much"
    assert seen_partial >= KILLS // 2, "most kills should have come while a clip was being written"
