"""The clip index schema: migrations, units on every column, and range scans."""

from __future__ import annotations

import re
from pathlib import Path

from camhub.store.db import connect
from camhub.store.index import INDEX_FILE, open_index
from camhub.store.schema import migrations


def test_migrations_are_named_recorded_and_rerunnable(tmp_path: Path) -> None:
    open_index(tmp_path).close()
    open_index(tmp_path).close()  # a second start applies nothing twice
    db = connect(tmp_path / INDEX_FILE, readonly=True)
    applied = [m.name for m in migrations.applied(db)]
    assert applied == [
        "0001_cameras_and_clips",
        "0002_clip_ids_from_file_names",
        "0003_clip_zones",
        "0004_recovery_reads_only_what_changed",
        "0005_sidecars_beside_their_clip",
        "0006_return_free_pages",
        "0007_zone_pages_in_time_order",
    ]
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def test_every_column_has_a_comment(tmp_path: Path) -> None:
    open_index(tmp_path).close()
    db = connect(tmp_path / INDEX_FILE, readonly=True)
    for table in ("cameras", "clips", "clip_zones"):
        sql = db.execute("SELECT sql FROM sqlite_master WHERE name = ?", [table]).fetchone()[0]
        for column in db[table].columns:
            line = next(s for s in sql.splitlines() if re.match(rf"\s*{column.name}\s", s))
            if column.name in ("camera_id", "clip_id"):
                continue  # a reference, its meaning is the referenced row
            assert "--" in line, f"{table}.{column.name} has no comment with its unit or meaning"
    db.close()


def test_clips_of_a_camera_between_two_times_is_a_range_scan(tmp_path: Path) -> None:
    open_index(tmp_path).close()
    db = connect(tmp_path / INDEX_FILE, readonly=True)
    from camhub.store.index import COLUMNS

    plan = db.execute(
        f"EXPLAIN QUERY PLAN SELECT {COLUMNS} FROM clips JOIN cameras ON cameras.id = clips.camera_id "
        "WHERE state = 'ok' AND cameras.name = ? AND start_time < ? AND start_time > ? AND end_time > ? "
        "ORDER BY start_time DESC",
        ["a", 2.0, -3600.0, 1.0],
    ).fetchall()
    details = " | ".join(row[-1] for row in plan)
    assert "SEARCH clips USING INDEX clips_camera_start (camera_id=? AND start_time>? AND start_time<?)" in details, (
        details
    )
    db.close()
