"""Pages of clips (/api/clips): the same clips in the same order as a filter of every clip, by index searches.

Real SQLite index; the expected page is computed in Python from every row.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from camhub.store import index
from camhub.store.db import connect
from camhub.store.files import clip_id_of
from camhub.store.index import INDEX_FILE, SELECT, ClipRecord, insert_clip, mark_garbage, open_index, query_clips

T0 = 1_790_000_000.0
CAMERAS = ("a", "b", "c", "d", "e")


def fill(data: Path, n: int) -> list[ClipRecord]:
    rng = random.Random(7)
    made = []
    db = open_index(data)
    try:
        for i in range(n):
            camera = rng.choice(CAMERAS)
            start = T0 + rng.randrange(0, 5000) * 10.0  # equal start times too: the id breaks the tie
            zones = tuple(sorted(rng.sample(["drive", "gate", "path"], rng.randrange(0, 3))))
            path = f"clips/{camera}/2026-09-21/{camera}-{i}.mp4"
            record = ClipRecord(camera, start, start + 5, 5.0, 100, "h264", 1, 1, "0" * 64, path, zones=zones)
            db.write_blocking(lambda d, r=record: insert_clip(d, r))
            made.append(ClipRecord(**{**record.as_json(), "id": clip_id_of(Path(path).name)}))
        # Some clips whose deletion has begun: no page lists them.
        garbage = [c.id or 0 for c in made[::7]]
        db.write_blocking(lambda d: mark_garbage(d, garbage))
    finally:
        db.close()
    return [replace(c, state="garbage") if c.id in garbage else c for c in made]


@dataclass(frozen=True)
class Asked:
    cameras: set[str]
    camera: str | None
    zones: set[str] | None
    start: float | None
    end: float | None
    after: tuple[float, int] | None
    oldest_first: bool

    def wants(self, c: ClipRecord) -> bool:
        key = (c.start_time, c.id or 0)
        return (
            c.state == "ok"
            and c.camera in self.cameras
            and (self.camera is None or c.camera == self.camera)
            and (self.zones is None or bool(self.zones & set(c.zones)))
            and (self.start is None or (c.end_time > self.start and c.start_time > self.start - 3600))
            and (self.end is None or c.start_time < self.end)
            and (self.after is None or (key > self.after if self.oldest_first else key < self.after))
        )


@pytest.mark.parametrize("zone_arms", [index.MAX_ZONE_ARMS, 1])  # 1: zones tried clip by clip instead
def test_pages_of_several_cameras_zones_and_ranges_match_a_filter_of_every_clip(
    tmp_path: Path, monkeypatch: Any, zone_arms: int
) -> None:
    monkeypatch.setattr(index, "MAX_ZONE_ARMS", zone_arms)
    made = fill(tmp_path, 400)
    rng = random.Random(11)
    db = connect(tmp_path / INDEX_FILE, readonly=True)
    try:
        for _ in range(60):
            cameras = set(rng.sample(CAMERAS, rng.randrange(1, 4)))
            camera = rng.choice([None, *CAMERAS])
            zones = rng.choice([None, {"gate"}, {"drive", "path"}])
            oldest_first = rng.random() < 0.5
            pivot = rng.choice(made)
            after = (pivot.start_time, pivot.id or 0) if rng.random() < 0.7 else None
            start, end = (T0 + 10_000, T0 + 30_000) if rng.random() < 0.3 else (None, None)
            limit = rng.choice([1, 7, 30])

            asked = Asked(cameras, camera, zones, start, end, after, oldest_first)
            expected = sorted(
                filter(asked.wants, made), key=lambda c: (c.start_time, c.id or 0), reverse=not oldest_first
            )
            got = query_clips(
                db,
                camera=camera,
                cameras=cameras,
                zones=zones,
                start=start,
                end=end,
                after=after,
                limit=limit,
                oldest_first=oldest_first,
            )
            assert got == expected[:limit], (cameras, camera, zones, after, oldest_first, start, end, limit)
    finally:
        db.close()


def test_a_page_of_several_cameras_sorts_no_more_than_the_page(tmp_path: Path) -> None:
    """Each camera's page is a range of clips_camera_start, merged from the index alone: no sort of every
    clip of the cameras, and only the merged page's clips read from the table, by id."""
    open_index(tmp_path).close()
    writer = connect(tmp_path / INDEX_FILE)
    writer.execute("INSERT INTO cameras (name, created_at) VALUES ('a', 0), ('b', 0)")
    writer.close()
    db = connect(tmp_path / INDEX_FILE, readonly=True)
    found: list[str] = []
    real_execute = db.execute

    def explained(sql: str, params: Any = ()) -> Any:
        if "UNION ALL" in sql:
            found.extend(r[-1] for r in real_execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall())
        return real_execute(sql, params)

    db.execute = explained  # type: ignore[method-assign]
    try:
        query_clips(db, cameras={"a", "b"}, after=(T0, 2**53), limit=100)
    finally:
        db.close()
    details = " | ".join(found)
    assert details.count("SEARCH clips USING COVERING INDEX clips_camera_start (camera_id=? AND start_time<?)") == 2
    assert details.startswith("SEARCH clips USING INTEGER PRIMARY KEY (rowid=?)"), details
    # The only scan of clips is of the partial index of the few garbage rows.
    assert details.count("SCAN clips") == details.count("SCAN clips USING INDEX clips_garbage") == 2, details


def test_a_zone_page_is_a_range_of_the_zone_index_per_zone_and_camera(tmp_path: Path) -> None:
    """Migration 0007: a zone's clips of one camera in time order are a range of clip_zones_time, so a page
    tries no clip outside the zone and reads from the table only the page's clips, by id."""
    open_index(tmp_path).close()
    writer = connect(tmp_path / INDEX_FILE)
    writer.execute("INSERT INTO cameras (name, created_at) VALUES ('a', 0), ('b', 0)")
    writer.close()
    db = connect(tmp_path / INDEX_FILE, readonly=True)
    found: list[str] = []
    real_execute = db.execute

    def explained(sql: str, params: Any = ()) -> Any:
        if "clip_zones" in sql and sql.startswith(SELECT):
            found.extend(r[-1] for r in real_execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall())
        return real_execute(sql, params)

    db.execute = explained  # type: ignore[method-assign]
    try:
        query_clips(db, camera="a", after=(T0, 2**53), limit=100, zones={"gate"})
        query_clips(db, cameras={"a", "b"}, start=T0, end=T0 + 3600, limit=100, zones={"gate", "drive"})
    finally:
        db.close()
    details = " | ".join(found)
    search = "SEARCH clip_zones USING COVERING INDEX clip_zones_time (zone=? AND camera_id=? AND "
    assert details.count(search + "(start_time,clip_id)<(?,?))") == 1, details
    assert details.count(search + "start_time>? AND start_time<?)") == 4, details  # 2 zones x 2 cameras
    assert details.count("SCAN clips") == details.count("SCAN clips USING INDEX clips_garbage"), details
    assert "SCAN clip_zones" not in details, details
