"""Migration 0007: zone rows carry their clip's camera and start, so a zone page is a range of clip_zones_time.

Real SQLite files: an index as the hub before 0007 wrote it (the migrations up
to 0006, zone rows of (clip, zone) alone), opened by `open_index`.
"""

from __future__ import annotations

from pathlib import Path

from camhub.store.db import connect
from camhub.store.index import INDEX_FILE, ClipRecord, delete_rows, insert_clip, open_index, query_clips, reading_index
from camhub.store.schema import migrations

T0 = 1_790_000_000.0


def record(camera: str, n: int, zones: tuple[str, ...]) -> ClipRecord:
    start = T0 + 60 * n
    path = f"clips/{camera}/2026-09-21/{camera}_{n:06d}.mp4"
    return ClipRecord(camera, start, start + 30, 30.0, 1000, "h264", 320, 240, "0" * 64, path, zones=zones)


def index_before_0007(data: Path) -> list[ClipRecord]:
    data.mkdir(parents=True, exist_ok=True)
    db = connect(data / INDEX_FILE)
    try:
        migrations.apply(db, stop_before="0007_zone_pages_in_time_order")
        for n in range(60):
            camera = ("yard", "porch", "drive")[n % 3]
            zones = (("drive",), ("gate",), ("drive", "gate"), ())[n % 4]
            insert_clip(db, record(camera, n, zones))  # zone rows of the shape before 0007
    finally:
        db.close()
    with reading_index(data) as read:
        return query_clips(read, oldest_first=True)


def test_zone_rows_take_their_clips_camera_and_start_and_pages_read_the_same(tmp_path: Path) -> None:
    before = index_before_0007(tmp_path)
    asked = [
        {"zones": ["gate"]},
        {"zones": ["gate", "drive"], "oldest_first": True},
        {"zones": ["drive"], "camera": "yard", "limit": 4, "after": (before[30].start_time, before[30].id)},
        {"zones": ["gate"], "cameras": {"yard", "porch"}, "start": T0 + 600, "end": T0 + 2400, "limit": 7},
    ]
    with reading_index(tmp_path) as read:
        pages = [query_clips(read, **kw) for kw in asked]  # type: ignore[arg-type]
    assert all(pages)
    open_index(tmp_path).close()
    db = connect(tmp_path / INDEX_FILE, readonly=True)
    try:
        assert [m.name for m in migrations.applied(db)][-1] == "0007_zone_pages_in_time_order"
        names = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
        assert "clip_zones_time" in names and "clip_zones_zone" not in names and "clip_zones_new" not in names
        copied = db.execute(
            "SELECT COUNT(*) FROM clip_zones JOIN clips ON clips.id = clip_zones.clip_id "
            "WHERE clip_zones.camera_id = clips.camera_id AND clip_zones.start_time = clips.start_time"
        ).fetchone()[0]
        rows = db.execute("SELECT COUNT(*) FROM clip_zones").fetchone()[0]
        assert copied == rows == sum(len(c.zones) for c in before) == 60
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        assert query_clips(db, oldest_first=True) == before
        assert [query_clips(db, **kw) for kw in asked] == pages  # type: ignore[arg-type]
    finally:
        db.close()


def test_after_0007_new_clips_and_deletions_keep_the_zone_rows(tmp_path: Path) -> None:
    before = index_before_0007(tmp_path)
    db = open_index(tmp_path)
    try:
        new = db.write_blocking(lambda d: insert_clip(d, record("yard", 500, ("gate",))))
        db.write_blocking(lambda d: delete_rows(d, [before[-1].id or 0]))
        db.write_blocking(lambda d: d.execute("DELETE FROM clips WHERE id = ?", [before[-2].id]))  # the cascade
    finally:
        db.close()
    with reading_index(tmp_path) as read:
        assert query_clips(read, camera="yard", zones=["gate"], limit=1)[0].id == new
        left = read.execute("SELECT COUNT(*) FROM clip_zones WHERE clip_id IN (?, ?)", [before[-1].id, before[-2].id])
        assert left.fetchone()[0] == 0
