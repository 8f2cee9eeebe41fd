"""A clip's motion zones in the index: stored, filtered, deleted with the clip, migrated, recovered.

Real SQLite files throughout; the migration test opens a file written by the
schema before zones (the migrations up to 0002, and rows inserted as the
hub of that version inserted them).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from camhub.store.db import connect
from camhub.store.files import clip_id_of, clip_path, sha256_of
from camhub.store.index import (
    INDEX_FILE,
    ClipRecord,
    delete_rows,
    get_clip,
    insert_clip,
    open_index,
    query_clips,
    reading_index,
)
from camhub.store.recovery import recover
from camhub.store.schema import migrations

T0 = 1_790_000_000.0


def record(camera: str, start: float, zones: tuple[str, ...] = ()) -> ClipRecord:
    path = f"clips/{camera}/2026-09-21/{camera}-{int(start)}.mp4"
    return ClipRecord(camera, start, start + 2, 2.0, 1000, "h264", 320, 240, "0" * 64, path, zones=zones)


def zone_rows(data: Path) -> list[tuple[int, str]]:
    db = connect(data / INDEX_FILE, readonly=True)
    try:
        return [(int(r[0]), str(r[1])) for r in db.execute("SELECT clip_id, zone FROM clip_zones ORDER BY 1, 2")]
    finally:
        db.close()


def test_zones_are_stored_sorted_and_filter_clips_touching_any_of_them(tmp_path: Path) -> None:
    db = open_index(tmp_path)
    try:
        made = [
            record("yard", T0, ("gate", "drive", "gate")),  # a repeated name is one row
            record("yard", T0 + 60, ("lawn",)),
            record("porch", T0 + 120, ("drive",)),
            record("porch", T0 + 180),
        ]
        ids = [db.write_blocking(lambda d, r=r: insert_clip(d, r)) for r in made]
        with reading_index(tmp_path) as read:
            assert [c.zones for c in query_clips(read, oldest_first=True)] == [
                ("drive", "gate"),
                ("lawn",),
                ("drive",),
                (),
            ]
            assert get_clip(read, ids[0]) is not None and get_clip(read, ids[0]).zones == ("drive", "gate")  # type: ignore[union-attr]
            assert [c.id for c in query_clips(read, zones=["drive"])] == [ids[2], ids[0]]
            assert [c.id for c in query_clips(read, zones=["lawn", "gate"], oldest_first=True)] == ids[:2]
            assert [c.id for c in query_clips(read, camera="yard", zones=["drive"])] == [ids[0]]
            assert [c.id for c in query_clips(read, zones=["drive"], start=T0 + 100)] == [ids[2]]
            assert query_clips(read, zones=["nowhere"]) == []
            assert query_clips(read, zones=[]) == []
            # Names are data: bound parameters, never SQL.
            assert query_clips(read, zones=["x') OR 1=1 --", "%", "*"]) == []
            assert len(query_clips(read)) == 4
    finally:
        db.close()


def test_a_zone_name_is_data_even_when_it_looks_like_sql(tmp_path: Path) -> None:
    hostile = "drive'); DROP TABLE clips; --"
    db = open_index(tmp_path)
    try:
        clip_id = db.write_blocking(lambda d: insert_clip(d, record("yard", T0, (hostile,))))
        with reading_index(tmp_path) as read:
            assert [c.id for c in query_clips(read, zones=[hostile])] == [clip_id]
            assert query_clips(read)[0].zones == (hostile,)
    finally:
        db.close()


def test_deleting_a_clip_deletes_its_zone_rows(tmp_path: Path) -> None:
    db = open_index(tmp_path)
    try:
        a, b, c = (
            db.write_blocking(lambda d, n=n: insert_clip(d, record("yard", T0 + n, ("gate",)))) for n in range(3)
        )
        db.write_blocking(lambda d: delete_rows(d, [a]))
        assert zone_rows(tmp_path) == sorted([(b, "gate"), (c, "gate")])
        # Any deletion of a row, not only delete_rows: the foreign key cascades.
        db.write_blocking(lambda d: d.execute("DELETE FROM clips WHERE id = ?", [b]))
        assert zone_rows(tmp_path) == [(c, "gate")]
    finally:
        db.close()


def old_index(data: Path, clips: list[ClipRecord]) -> None:
    """An index.db as the hub before zones wrote it: migrations up to 0002, rows without zones."""
    data.mkdir(parents=True, exist_ok=True)
    db = connect(data / INDEX_FILE)
    try:
        migrations.apply(db, stop_before="0003_clip_zones")
        for n, clip in enumerate(clips):
            db.execute("INSERT INTO cameras (name, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING", [clip.camera, 0])
            db.execute(
                "INSERT INTO clips (id, camera_id, start_time, end_time, duration, bytes, codec, width, height,"
                " sha256, path, state, created_at)"
                " SELECT ?, id, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'ok', ? FROM cameras WHERE name = ?",
                [
                    n + 1 if n == 0 else clip_id_of(Path(clip.path).name),  # the first numbered by an older hub
                    clip.start_time,
                    clip.end_time,
                    clip.duration,
                    clip.bytes,
                    clip.codec,
                    clip.width,
                    clip.height,
                    clip.sha256,
                    clip.path,
                    T0,
                    clip.camera,
                ],
            )
    finally:
        db.close()


def test_an_index_of_the_previous_version_opens_and_migrates(tmp_path: Path) -> None:
    data = tmp_path / "data"
    old_index(data, [record("yard", T0), record("porch", T0 + 60)])
    # Read-only, as `camhub clips` and `camhub check` read it, before any hub migrated it: no zones, no error.
    with reading_index(data) as read:
        before = query_clips(read, oldest_first=True)
        assert [(c.id, c.camera, c.zones) for c in before] == [
            (1, "yard", ()),
            (clip_id_of("porch-1790000060.mp4"), "porch", ()),
        ]
        assert query_clips(read, zones=["drive"]) == []
    db = open_index(data)
    try:
        applied = [m.name for m in migrations.applied(db.write_blocking(lambda d: d))]
        assert applied[2:4] == ["0003_clip_zones", "0004_recovery_reads_only_what_changed"]
        new = db.write_blocking(lambda d: insert_clip(d, record("yard", T0 + 120, ("drive",))))
        with reading_index(data) as read:
            assert query_clips(read, oldest_first=True)[:2] == before  # the old rows, ids and all, untouched
            assert [c.id for c in query_clips(read, zones=["drive"])] == [new]
        db.write_blocking(lambda d: delete_rows(d, [1]))  # an old clip deletes like any other
    finally:
        db.close()
    assert zone_rows(data) == [(new, "drive")]


def test_recovery_indexes_a_clip_file_without_its_row_with_unknown_zones(
    tmp_path: Path, clip_mp4: Path, make_clips: Any
) -> None:
    data = tmp_path / "data"
    (made,) = make_clips(data, [("yard", T0, ("drive",))])
    assert made.zones == ("drive",)
    orphan = clip_path(data, "yard", T0 + 60)  # renamed, then the crash came before the insert
    shutil.copy(clip_mp4, data / orphan)
    db = open_index(data)
    try:
        report = db.write_blocking(lambda d: recover(data, d))
        assert report.indexed == [str(orphan)]
        assert "indexed clip file that had no row: " + str(orphan) + " (its motion zones are unknown)" in report.lines()
        with reading_index(data) as read:
            clips = query_clips(read, oldest_first=True)
        assert [(c.path, c.zones) for c in clips] == [(made.path, ("drive",)), (str(orphan), ())]
        assert clips[1].sha256 == sha256_of(data / orphan)
    finally:
        db.close()
