"""The clip index: what clips exist, for which camera, over which time.

All SQL about clips lives here. Queries for a camera and a time range are a
range scan on `clips_camera_start`: a clip overlaps [t1, t2) when it starts
before t2 and ends after t1, and since no clip is longer than
`MAX_CLIP_SECONDS`, it also starts after t1 - MAX_CLIP_SECONDS.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from hub.store.db import Database
from hub.store.schema import migrations

INDEX_FILE = "index.db"
# No clip may be longer than this (seconds); the recorder splits longer events.
MAX_CLIP_SECONDS = 3600.0


@dataclass(frozen=True)
class ClipRecord:
    camera: str
    start_time: float  # Unix seconds, UTC
    end_time: float  # Unix seconds, UTC
    duration: float  # seconds
    bytes: int
    codec: str
    width: int
    height: int
    sha256: str
    path: str  # relative to the data folder
    snapshot_path: str | None = None
    thumbnail_path: str | None = None
    peak_motion: float | None = None
    id: int | None = None
    state: str = "ok"

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


COLUMNS = (
    "clips.id, cameras.name AS camera, start_time, end_time, duration, bytes, codec, width, height, sha256, "
    "path, snapshot_path, thumbnail_path, peak_motion, state"
)


def _record(row: dict[str, Any]) -> ClipRecord:
    return ClipRecord(**row)


def camera_id(db: sqlite_utils.Database, name: str) -> int:
    row = db.execute("SELECT id FROM cameras WHERE name = ?", [name]).fetchone()
    if row:
        return int(row[0])
    return int(db.execute("INSERT INTO cameras (name, created_at) VALUES (?, ?)", [name, time.time()]).lastrowid or 0)


def insert_clip(db: sqlite_utils.Database, clip: ClipRecord) -> int:
    values = asdict(clip)
    values.pop("camera")
    values.pop("id")
    values["camera_id"] = camera_id(db, clip.camera)
    values["created_at"] = time.time()
    names = ", ".join(values)
    marks = ", ".join("?" for _ in values)
    return int(db.execute(f"INSERT INTO clips ({names}) VALUES ({marks})", list(values.values())).lastrowid or 0)


def query_clips(
    db: sqlite_utils.Database,
    camera: str | None = None,
    cameras: Collection[str] | None = None,
    start: float | None = None,
    end: float | None = None,
    limit: int | None = None,
    after: tuple[float, int] | None = None,
    include_garbage: bool = False,
    oldest_first: bool = False,
) -> list[ClipRecord]:
    """Clips overlapping [start, end), newest first unless `oldest_first`; of one camera, or of `cameras`.

    `after` is a keyset cursor: the (start_time, id) of the last clip of the
    previous page; the page continues after it in the chosen order.
    """
    where, params = [], []
    if not include_garbage:
        where.append("state = 'ok'")
    if camera is not None:
        where.append("cameras.name = ?")
        params.append(camera)
    if cameras is not None:
        where.append(f"cameras.name IN ({', '.join('?' for _ in cameras)})" if cameras else "0")
        params += sorted(cameras)
    if end is not None:
        where.append("start_time < ?")
        params.append(end)
    if start is not None:
        where += ["start_time > ?", "end_time > ?"]
        params += [start - MAX_CLIP_SECONDS, start]
    if after is not None:
        where.append("(start_time, clips.id) > (?, ?)" if oldest_first else "(start_time, clips.id) < (?, ?)")
        params += [after[0], after[1]]
    sql = f"SELECT {COLUMNS} FROM clips JOIN cameras ON cameras.id = clips.camera_id"
    if where:
        sql += " WHERE " + " AND ".join(where)
    order = "ASC" if oldest_first else "DESC"
    sql += f" ORDER BY start_time {order}, clips.id {order}"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return [_record(dict(r)) for r in db.query(sql, params)]


def get_clip(db: sqlite_utils.Database, clip_id: int) -> ClipRecord | None:
    sql = f"SELECT {COLUMNS} FROM clips JOIN cameras ON cameras.id = clips.camera_id WHERE clips.id = ?"
    rows = list(db.query(sql, [clip_id]))
    return _record(rows[0]) if rows else None


def mark_garbage(db: sqlite_utils.Database, ids: list[int]) -> None:
    db.conn.executemany("UPDATE clips SET state = 'garbage' WHERE id = ?", [[i] for i in ids])


def delete_rows(db: sqlite_utils.Database, ids: list[int]) -> None:
    db.conn.executemany("DELETE FROM clips WHERE id = ?", [[i] for i in ids])


def open_index(data_dir: Path) -> Database:
    return Database(data_dir / INDEX_FILE, migrations)
