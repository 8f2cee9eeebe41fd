"""Start-up recovery reads only what may be unfinished: garbage rows, and day folders that changed.

Real clip files and a real index; what recovery opens and lists is counted
with a Python audit hook (`open`, `os.listdir`, `os.scandir` events).
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from camhub.store.db import connect
from camhub.store.files import PARTIAL, clip_path
from camhub.store.index import INDEX_FILE, SELECT, open_index, query_clips
from camhub.store.recovery import recover

T0 = 1_790_000_000.0
DAY = 86400.0
_seen: list[tuple[str, str]] | None = None


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if _seen is not None and event in ("open", "os.listdir", "os.scandir") and args and args[0] is not None:
        _seen.append((event, os.fsdecode(args[0]) if isinstance(args[0], str | bytes) else str(args[0])))


sys.addaudithook(_hook)


@contextmanager
def watching() -> Iterator[list[tuple[str, str]]]:
    """The (event, path) of every file opened and folder listed inside the block."""
    global _seen
    _seen = []
    try:
        yield _seen
    finally:
        _seen = None


def settle(data: Path) -> None:
    """Date every folder under clips/ an hour back, as folders last written before the hub stopped are."""
    hour_ago = time.time() - 3600
    for folder in [data / "clips", *(data / "clips").glob("*"), *(data / "clips").glob("*/*")]:
        os.utime(folder, (hour_ago, hour_ago))


def recover_now(data: Path, every_folder: bool = False) -> list[str]:
    db = open_index(data)
    try:
        return db.write_blocking(lambda d: recover(data, d, every_folder=every_folder)).lines()
    finally:
        db.close()


def test_a_start_after_a_crash_reads_only_the_folder_the_crash_touched(
    tmp_path: Path, clip_mp4: Path, make_clips: Any
) -> None:
    data = tmp_path / "data"
    made = make_clips(data, [(cam, T0 + day * DAY) for cam in ("yard", "porch") for day in range(3)])
    settle(data)
    assert recover_now(data) == []  # the first start reads every folder, and records them
    # The crash: today's yard clip was renamed into place but has no row, and the next was cut short.
    today = data / clip_path(data, "yard", T0 + 2 * DAY).parent
    renamed = today / "yard_20260921T180000.000Z_aaaaaa.mp4"
    shutil.copy(clip_mp4, renamed)
    shutil.copy(clip_mp4, today / f"yard_20260921T180100.000Z_bbbbbb.mp4{PARTIAL}")

    with watching() as seen:
        lines = recover_now(data)

    assert f"indexed clip file that had no row: {renamed.relative_to(data)} (its motion zones are unknown)" in lines
    assert any(line.startswith("kept interrupted clip") for line in lines), lines
    listed = {Path(p) for e, p in seen if e in ("os.listdir", "os.scandir")}
    day_folders = {(data / c.path).parent for c in made}
    assert listed & day_folders == {today}, f"listed day folders other than the one the crash touched: {listed}"
    opened = {Path(p) for e, p in seen if e == "open"}
    assert not opened & {data / c.path for c in made}, "recovery opened a finished clip's file"
    db = connect(data / INDEX_FILE, readonly=True)
    try:
        assert len(query_clips(db)) == len(made) + 2
    finally:
        db.close()


def test_a_folder_changed_within_the_mtime_granularity_is_not_recorded_so_is_read_again(
    tmp_path: Path, make_clips: Any
) -> None:
    data = tmp_path / "data"
    make_clips(data, [("yard", T0), ("yard", T0 + DAY)])
    old = data / clip_path(data, "yard", T0).parent
    os.utime(old, (time.time() - 3600, time.time() - 3600))  # the other folder was written just now
    recover_now(data)
    db = connect(data / INDEX_FILE, readonly=True)
    try:
        recorded = [r[0] for r in db.execute("SELECT path FROM scanned_folders")]
    finally:
        db.close()
    assert recorded == [str(old.relative_to(data))]


def test_check_repair_reads_every_folder_even_unchanged_ones(tmp_path: Path, clip_mp4: Path, make_clips: Any) -> None:
    """A file put in a folder with its mtime set back is not seen by a start; `check --repair` reads all."""
    data = tmp_path / "data"
    (made,) = make_clips(data, [("yard", T0)])
    folder = (data / made.path).parent
    settle(data)
    recover_now(data)
    before = folder.stat()
    stray = folder / "yard_20260921T100000.000Z_cccccc.mp4"
    shutil.copy(clip_mp4, stray)
    os.utime(folder, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert recover_now(data) == []
    assert recover_now(data, every_folder=True) == [
        f"indexed clip file that had no row: {stray.relative_to(data)} (its motion zones are unknown)"
    ]


def test_garbage_rows_are_found_by_their_partial_index(tmp_path: Path) -> None:
    open_index(tmp_path).close()
    db = connect(tmp_path / INDEX_FILE, readonly=True)
    try:
        plan = db.execute(f"EXPLAIN QUERY PLAN {SELECT} WHERE state = 'garbage' ORDER BY clips.id").fetchall()
    finally:
        db.close()
    details = " | ".join(row[-1] for row in plan)
    assert "clips USING INDEX clips_garbage" in details, details


def test_a_camera_folder_on_another_disk_by_symlink_is_read(tmp_path: Path, clip_mp4: Path) -> None:
    data, elsewhere = tmp_path / "data", tmp_path / "other-disk" / "yard"
    (elsewhere / "2026-09-21").mkdir(parents=True)
    (data / "clips").mkdir(parents=True)
    (data / "clips" / "yard").symlink_to(elsewhere)
    shutil.copy(clip_mp4, elsewhere / "2026-09-21" / "yard_20260921T100000.000Z_dddddd.mp4")
    assert recover_now(data) == [
        "indexed clip file that had no row: clips/yard/2026-09-21/yard_20260921T100000.000Z_dddddd.mp4"
        " (its motion zones are unknown)"
    ]
