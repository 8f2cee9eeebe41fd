"""Retention: oldest first, per-camera days, a byte budget, free space; time from an injected clock."""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

from camhub.privacy.scope import Scope
from camhub.recording import retention
from camhub.recording.retention import Limits, enforce, plan, plan_from_index
from camhub.store.db import connect
from camhub.store.index import INDEX_FILE, ClipRecord, insert_clip, open_index, query_clips

DAY = 86400.0
NOW = 1_800_000_000.0


def clip(n: int, camera: str, age_days: float, size: int = 100) -> ClipRecord:
    start = NOW - age_days * DAY
    return ClipRecord(camera, start, start + 10, 10, size, "h264", 1, 1, "x", f"c{n}.mp4", id=n)


def test_plan_by_age_with_per_camera_days() -> None:
    clips = [clip(1, "a", 20), clip(2, "b", 20), clip(3, "a", 5), clip(4, "b", 5), clip(5, "a", 1)]
    limits = Limits(days={"b": 3}, default_days=14, max_bytes=None, min_free_bytes=0)
    assert [c.id for c in plan(clips, NOW, limits, free_bytes=10**9)] == [1, 2, 4]


def test_plan_byte_budget_and_free_space_take_the_oldest_first() -> None:
    clips = [clip(n, "a", 10 - n, size=100) for n in range(1, 8)]  # 700 bytes, oldest first
    budget = Limits(days={}, default_days=30, max_bytes=450, min_free_bytes=0)
    assert [c.id for c in plan(clips, NOW, budget, free_bytes=10**9)] == [1, 2, 3]
    space = Limits(days={}, default_days=30, max_bytes=None, min_free_bytes=1000)
    assert [c.id for c in plan(clips, NOW, space, free_bytes=750)] == [1, 2, 3]
    assert plan(clips, NOW, space, free_bytes=1000) == []
    # Not enough clips to free the space: all go, and no more is promised.
    assert len(plan(clips, NOW, space, free_bytes=0)) == 7


async def test_enforce_deletes_files_then_rows_and_check_passes(tmp_path: Path, make_clips: Any) -> None:
    data = tmp_path / "data"
    made = make_clips(data, [("a", NOW - 30 * DAY), ("a", NOW - 20 * DAY), ("b", NOW - 2 * DAY), ("a", NOW - DAY)])
    db = open_index(data)
    try:
        limits = Limits(days={}, default_days=14, max_bytes=None, min_free_bytes=0)
        deleted = await enforce(db, data, limits, clock=lambda: NOW)
        left = await db.read(lambda d: query_clips(d, oldest_first=True, include_garbage=True))
    finally:
        db.close()
    assert [c.id for c in deleted] == [made[0].id, made[1].id]
    assert [c.id for c in left] == [made[2].id, made[3].id]
    assert not (data / made[0].path).exists() and (data / made[2].path).exists()
    check = subprocess.run(
        [sys.executable, "-m", "camhub.cli.main", "check", "--data", str(data)], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout


async def test_interrupted_deletion_is_finished_at_start_up(tmp_path: Path, make_clips: Any) -> None:
    """A crash between 'mark garbage' and 'drop the row': check names it, recovery finishes it."""
    data = tmp_path / "data"
    made = make_clips(data, [("a", NOW), ("a", NOW + 60)])
    db = open_index(data)
    await db.write(lambda d: d.execute("UPDATE clips SET state = 'garbage' WHERE id = ?", [made[0].id]))
    db.close()
    check = subprocess.run(
        [sys.executable, "-m", "camhub.cli.main", "check", "--data", str(data)], capture_output=True, text=True
    )
    assert check.returncode == 1 and "garbage: clip" in check.stdout
    repair = subprocess.run(
        [sys.executable, "-m", "camhub.cli.main", "check", "--data", str(data), "--repair"],
        capture_output=True,
        text=True,
    )
    assert repair.returncode == 0, repair.stdout
    assert f"finished deleting {made[0].path}" in repair.stdout
    assert not (data / made[0].path).exists() and (data / made[1].path).exists()


def test_check_names_each_disagreement_and_repair_mends_them(tmp_path: Path, make_clips: Any) -> None:
    data = tmp_path / "data"
    made = make_clips(data, [("a", NOW), ("a", NOW + 60), ("a", NOW + 120), ("b", NOW + 180)])
    (data / made[0].path).unlink()  # missing
    with open(data / made[1].path, "r+b") as f:  # one byte changed: same size, other hash
        f.seek(200)
        byte = f.read(1)
        f.seek(200)
        f.write(bytes([byte[0] ^ 0xFF]))
    stray = data / made[2].path
    unindexed = stray.with_name(stray.name.replace(stray.name[-10:-4], "ffffff"))
    unindexed.write_bytes(stray.read_bytes())  # a clip file with no row
    result = subprocess.run(
        [sys.executable, "-m", "camhub.cli.main", "check", "--data", str(data)], capture_output=True, text=True
    )
    assert result.returncode == 1
    assert f"missing: clip {made[0].id}: {made[0].path}" in result.stdout
    assert f"hash: clip {made[1].id}: {made[1].path}" in result.stdout
    assert "unindexed: " in result.stdout
    repair = subprocess.run(
        [sys.executable, "-m", "camhub.cli.main", "check", "--data", str(data), "--repair"],
        capture_output=True,
        text=True,
    )
    assert repair.returncode == 0, repair.stdout
    assert f"removed clip {made[1].id}" in repair.stdout and "indexed clip file that had no row" in repair.stdout
    assert asyncio.run(_count(data)) == 3  # made[2], made[3] and the re-indexed stray


async def _count(data: Path) -> int:
    db = open_index(data)
    try:
        return len(await db.read(lambda d: query_clips(d)))
    finally:
        db.close()


def test_plan_from_the_index_deletes_what_plan_over_every_clip_does(tmp_path: Path) -> None:
    """Reading only the clips it may delete changes nothing: per-camera days, holds, budget and free space."""
    rng = random.Random(5)
    clips = []
    db = open_index(tmp_path)
    try:
        for n in range(300):
            camera = rng.choice("abc")
            start = NOW - rng.uniform(0, 40) * DAY
            record = ClipRecord(camera, start, start + 30, 30, rng.randrange(1, 1000), "h264", 1, 1, "x", f"c{n}.mp4")
            clips.append(
                ClipRecord(**{**record.as_json(), "id": db.write_blocking(lambda d, r=record: insert_clip(d, r))})
            )
        clips.sort(key=lambda c: (c.start_time, c.id or 0))
        reader = connect(tmp_path / INDEX_FILE, readonly=True)
        total = sum(c.bytes for c in clips)
        held = [
            Scope(("b",), int(NOW - 35 * DAY), int(NOW - 25 * DAY)),
            Scope(("a", "c"), int(NOW - 3 * DAY), int(NOW)),
        ]
        for limits, free in [
            (Limits(days={"b": 10}, default_days=30, max_bytes=None, min_free_bytes=0), 10**9),
            (Limits(days={"a": 2}, default_days=20, max_bytes=total // 3, min_free_bytes=0), 10**9),
            (Limits(days={}, default_days=60, max_bytes=None, min_free_bytes=10**6), 10**6 - total // 2),
            (Limits(days={"c": 1}, default_days=5, max_bytes=1, min_free_bytes=0), 10**9),  # all but the held
        ]:
            for scopes in ([], held):
                expected = [c.id for c in plan(clips, NOW, limits, free, scopes)]
                got = plan_from_index(reader, NOW, limits, free, scopes)
                assert [c.id for c in got] == expected, (limits, scopes)
                assert expected  # each case deletes something
        reader.close()
    finally:
        db.close()


async def test_enforce_deletes_in_batches_and_leaves_no_garbage(
    tmp_path: Path, make_clips: Any, monkeypatch: Any
) -> None:
    data = tmp_path / "data"
    made = make_clips(data, [("a", NOW - (30 - n) * DAY) for n in range(5)] + [("a", NOW)])
    monkeypatch.setattr(retention, "DELETE_BATCH", 2)
    db = open_index(data)
    marked: list[int] = []
    real_mark = retention.mark_garbage
    monkeypatch.setattr(retention, "mark_garbage", lambda d, ids: (marked.append(len(ids)), real_mark(d, ids))[1])
    try:
        limits = Limits(days={}, default_days=14, max_bytes=None, min_free_bytes=0)
        deleted = await enforce(db, data, limits, clock=lambda: NOW)
        left = await db.read(lambda d: query_clips(d, include_garbage=True))
    finally:
        db.close()
    assert [c.id for c in deleted] == [c.id for c in made[:5]]
    assert marked == [2, 2, 1]
    assert [c.id for c in left] == [made[5].id]
    assert not any((data / c.path).exists() for c in made[:5])
