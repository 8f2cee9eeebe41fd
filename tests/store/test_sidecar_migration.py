"""Migration 0005: snapshot and thumbnail paths beside their clip stored as a mark, the table copied anew.

Real SQLite files: an index as the hub before 0005 wrote it (the migrations up
to 0004, rows with full sidecar paths, zones, a clip numbered by an older
hub), opened by `open_index`. The clips read back must be the same records;
an interrupted copy must leave the old index whole.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from camhub.store import schema
from camhub.store.db import Connection, connect
from camhub.store.files import clip_id_of
from camhub.store.index import (
    INDEX_FILE,
    SIDECAR,
    ClipRecord,
    delete_rows,
    get_clip,
    insert_clip,
    open_index,
    query_clips,
    reading_index,
)
from camhub.store.schema import migrations

T0 = 1_790_000_000.0


def record(camera: str, n: int, pictures: str = "beside", zones: tuple[str, ...] = ()) -> ClipRecord:
    """A clip of `camera`, the n-th; `pictures`: 'beside' its sidecars, 'elsewhere' other paths, 'none'."""
    start = T0 + 60 * n
    stem = f"clips/{camera}/2026-09-21/{camera}_{n:06d}"
    snapshot, thumbnail = {
        "beside": (f"{stem}.jpg", f"{stem}.thumb.jpg"),
        "elsewhere": ("pictures/a.jpg", f"{stem}.jpg"),  # a thumbnail that is the snapshot's file
        "none": (None, None),
    }[pictures]
    return ClipRecord(
        camera, start, start + 2, 2.0, 1000 + n, "h264", 320, 240, f"{n:064x}", f"{stem}.mp4",
        snapshot, thumbnail, 0.25, zones=zones,
    )  # fmt: skip


def clips_before_0005() -> list[ClipRecord]:
    made = [record("yard", n, zones=("gate",) if n % 3 == 0 else ()) for n in range(40)]
    made += [record("porch", 100, "elsewhere", ("drive", "gate")), record("porch", 101, "none")]
    return made


def old_index(data: Path, clips: list[ClipRecord]) -> None:
    """An index.db as the hub before 0005 wrote it: full sidecar paths; the first clip numbered 1."""
    data.mkdir(parents=True, exist_ok=True)
    db = connect(data / INDEX_FILE)
    try:
        migrations.apply(db, stop_before="0005_sidecars_beside_their_clip")
        for n, clip in enumerate(clips):
            db.execute("INSERT INTO cameras (name, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING", [clip.camera, 0])
            clip_id = 1 if n == 0 else clip_id_of(Path(clip.path).name)
            db.execute(
                "INSERT INTO clips SELECT ?, id, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'ok', ? "
                "FROM cameras WHERE name = ?",
                [
                    *(clip_id, clip.start_time, clip.end_time, clip.duration, clip.bytes, clip.codec, clip.width),
                    *(clip.height, clip.sha256, clip.path, clip.snapshot_path, clip.thumbnail_path, clip.peak_motion),
                    *(T0, clip.camera),
                ],
            )
            db.conn.executemany("INSERT INTO clip_zones VALUES (?, ?)", [[clip_id, z] for z in clip.zones])
    finally:
        db.close()


def everything(data: Path) -> list[ClipRecord]:
    with reading_index(data) as read:
        return query_clips(read, oldest_first=True, include_garbage=True)


def stored_pictures(data: Path) -> list[tuple[str | None, str | None]]:
    db = connect(data / INDEX_FILE, readonly=True)
    try:
        return [(r[0], r[1]) for r in db.execute("SELECT snapshot_path, thumbnail_path FROM clips ORDER BY start_time")]
    finally:
        db.close()


def test_the_migration_keeps_every_clip_as_it_was_and_stores_sidecars_as_a_mark(tmp_path: Path) -> None:
    old_index(tmp_path, clips_before_0005())
    before = everything(tmp_path)  # read as `camhub clips` reads an index no hub migrated yet
    assert before[0].id == 1 and before[0].snapshot_path == "clips/yard/2026-09-21/yard_000000.jpg"
    assert [c.zones for c in before[-2:]] == [("drive", "gate"), ()]
    open_index(tmp_path).close()
    assert everything(tmp_path) == before
    assert stored_pictures(tmp_path) == [(SIDECAR, SIDECAR)] * 40 + [
        ("pictures/a.jpg", "clips/porch/2026-09-21/porch_000100.jpg"),  # not the sidecars: kept whole
        (None, None),
    ]
    with reading_index(tmp_path) as read:
        assert [c.id for c in query_clips(read, zones=["drive"])] == [before[-2].id]
        assert len(query_clips(read, camera="yard", start=T0 + 600, end=T0 + 1200)) == 10


def test_the_migrated_index_keeps_its_constraints_and_indexes(tmp_path: Path) -> None:
    old_index(tmp_path, clips_before_0005())
    db = open_index(tmp_path)
    try:
        first = db.write_blocking(lambda d: get_clip(d, 1))
        assert first is not None
        twin = ClipRecord(**{**first.as_json(), "id": None})
        with pytest.raises(sqlite3.IntegrityError, match=r"UNIQUE constraint failed: clips\.path"):
            db.write_blocking(lambda d: insert_clip(d, twin))
        new = db.write_blocking(lambda d: insert_clip(d, record("yard", 500, zones=("gate",))))
        db.write_blocking(lambda d: d.execute("DELETE FROM clips WHERE id = ?", [new]))  # the cascade still holds
        db.write_blocking(lambda d: delete_rows(d, [1]))
        zones = db.write_blocking(lambda d: d.execute("SELECT COUNT(*) FROM clip_zones WHERE clip_id = ?", [new]))
        assert zones.fetchone()[0] == 0
        names = db.write_blocking(lambda d: {r[0] for r in d.execute("SELECT name FROM sqlite_master")})
        assert {"clips_path", "clips_camera_start", "clips_start", "clips_garbage", "clip_zones_time"} <= names
        assert not {n for n in names if n.endswith("_new")}
        problems = db.write_blocking(lambda d: d.execute("PRAGMA foreign_key_check").fetchall())
        assert problems == []
    finally:
        db.close()


def test_new_clips_store_their_sidecars_as_the_mark_and_read_back_whole(tmp_path: Path) -> None:
    db = open_index(tmp_path)
    try:
        made = [record("yard", 1), record("yard", 2, "elsewhere"), record("yard", 3, "none")]
        for clip in made:
            db.write_blocking(lambda d, c=clip: insert_clip(d, c))
    finally:
        db.close()
    assert [(c.snapshot_path, c.thumbnail_path) for c in everything(tmp_path)] == [
        (c.snapshot_path, c.thumbnail_path) for c in made
    ]
    assert stored_pictures(tmp_path)[0] == (SIDECAR, SIDECAR)


def test_the_copy_returns_the_old_tables_pages_to_the_disk(tmp_path: Path, monkeypatch: Any) -> None:
    clips = [record(f"cam{n % 4}", n) for n in range(3000)]
    old_index(tmp_path, clips)
    monkeypatch.setattr(schema, "COPY_BATCH", 700)  # several batches, as at a million clips
    monkeypatch.setattr(schema, "FREE_BYTES_TO_RETURN", 0)  # a small index's freed pages too
    open_index(tmp_path).close()
    db = connect(tmp_path / INDEX_FILE, readonly=True)
    try:
        free, pages = (int(db.execute(f"PRAGMA {p}").fetchone()[0]) for p in ("freelist_count", "page_count"))
        assert free / pages < schema.FREE_SHARE_TO_RETURN
        assert db.execute("SELECT COUNT(*) FROM clips").fetchone()[0] == 3000
    finally:
        db.close()


class _Interrupted(Exception):
    pass


def test_an_interrupted_migration_leaves_the_old_index_whole_and_runs_again(tmp_path: Path, monkeypatch: Any) -> None:
    clips = [record(f"cam{n % 4}", n, zones=("gate",)) for n in range(2000)]
    old_index(tmp_path, clips)
    before = everything(tmp_path)
    monkeypatch.setattr(schema, "COPY_BATCH", 500)
    copies = 0

    def stop_at_the_third_batch(self: Connection, sql: str, parameters: Any = None) -> Any:
        nonlocal copies
        if sql.startswith("INSERT INTO clips_new"):
            copies += 1
            if copies == 3:
                raise _Interrupted  # as a power cut would, mid-copy
        return sqlite3.Connection.execute(self.conn, sql, parameters or [])

    with monkeypatch.context() as patched:
        patched.setattr(Connection, "execute", stop_at_the_third_batch)
        with pytest.raises(_Interrupted):
            open_index(tmp_path)
    db = connect(tmp_path / INDEX_FILE, readonly=True)
    try:
        applied = [m.name for m in migrations.applied(db)]
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        db.close()
    assert applied[-1] == "0004_recovery_reads_only_what_changed" and "clips_new" not in tables
    assert everything(tmp_path) == before
    open_index(tmp_path).close()
    assert everything(tmp_path) == before
    assert set(stored_pictures(tmp_path)) == {(SIDECAR, SIDECAR)}


def test_a_long_copy_says_in_the_log_what_it_does(tmp_path: Path, monkeypatch: Any, caplog: Any) -> None:
    old_index(tmp_path, [record(f"cam{n % 4}", n) for n in range(1200)])
    monkeypatch.setattr(schema, "COPY_BATCH", 500)  # "long": more clips than one batch
    monkeypatch.setattr(schema, "FREE_BYTES_TO_RETURN", 0)
    caplog.set_level("INFO", logger="camhub.store.schema")
    open_index(tmp_path).close()
    said = [r.getMessage() for r in caplog.records]
    assert said[0] == "clip index: copying 1200 clips into a smaller table (once, after an upgrade)", said
    assert any(s.startswith("clip index: 1200 clips copied in ") for s in said), said
    assert any(s.startswith("clip index: returning ") for s in said), said


def test_a_new_index_starts_without_a_vacuum_or_a_line_in_the_log(tmp_path: Path, caplog: Any) -> None:
    caplog.set_level("INFO", logger="camhub.store.schema")
    open_index(tmp_path).close()
    assert [r.getMessage() for r in caplog.records] == []


def test_without_room_on_the_disk_the_rewrite_waits_and_the_index_works(
    tmp_path: Path, monkeypatch: Any, caplog: Any
) -> None:
    old_index(tmp_path, clips_before_0005())
    before = everything(tmp_path)
    full = shutil.disk_usage(tmp_path)._replace(free=100_000)  # a disk kept full of clips
    with monkeypatch.context() as patched:
        patched.setattr(schema.shutil, "disk_usage", lambda _: full)
        db = open_index(tmp_path)
        try:
            applied = [m.name for m in migrations.applied(db.write_blocking(lambda d: d))]
            assert applied[-1] == "0004_recovery_reads_only_what_changed"
            new = record("yard", 900, zones=("gate",))
            new_id = db.write_blocking(lambda d: insert_clip(d, new))  # recording goes on meanwhile
            with reading_index(tmp_path) as read:  # so do zone pages, from the zone rows as they were
                gate = [c.id for c in query_clips(read, camera="yard", zones=["gate"], limit=5)]
                assert gate == [new_id, *[c.id for c in before if c.camera == "yard" and "gate" in c.zones][::-1][:4]]
        finally:
            db.close()
    assert any("0005_sidecars_beside_their_clip postponed" in r.getMessage() for r in caplog.records)
    assert everything(tmp_path) == [*before, ClipRecord(**{**new.as_json(), "id": everything(tmp_path)[-1].id})]
    open_index(tmp_path).close()  # a start with room
    db_after = connect(tmp_path / INDEX_FILE, readonly=True)
    try:
        assert not migrations.pending(db_after)
    finally:
        db_after.close()
    assert everything(tmp_path)[:-1] == before
    assert set(stored_pictures(tmp_path)) == {
        (SIDECAR, SIDECAR),
        ("pictures/a.jpg", "clips/porch/2026-09-21/porch_000100.jpg"),
        (None, None),
    }
