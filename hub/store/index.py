"""The clip index: what clips exist, for which camera, over which time.

All SQL about clips lives here. Queries for a camera and a time range are a
range scan on `clips_camera_start`: a clip overlaps [t1, t2) when it starts
before t2 and ends after t1, and since no clip is longer than
`MAX_CLIP_SECONDS`, it also starts after t1 - MAX_CLIP_SECONDS.

A page of several cameras (a member's) is each camera's page, merged: a
range of `clips_camera_start` per camera, merged from the index alone, and
only the page's clips read from the table. Garbage clips are left out by
id (a set from `clips_garbage`), not by their `state` column, so a scan
reads from the table only the clips the index puts on the page. Rows marked
garbage are found through the partial index `clips_garbage`, and the clips of one day folder
through the path index (`paths_in_folder`), so start-up recovery reads
neither every row nor every file.

A clip's zones (the motion zones its event touched) are rows of
`clip_zones`, one per zone, carrying the clip's camera and start (migration
0007), so a zone's clips of a camera in time order are a range of
`clip_zones_time`, and a page of them is merged per (zone, camera) as a
member's page is per camera; deleting a clip deletes them (ON DELETE
CASCADE, and `delete_rows` says so explicitly too). A clip indexed from its file alone
(recovery, repair) or before the zones existed has none: its zones are
unknown, and it matches no zone filter.

A snapshot or thumbnail beside its clip (`camhub.store.files.sidecars`) is
stored as SIDECAR ('') and read back as the clip's path with its suffix: a
third of a row, at a million clips (migration 0005). Other paths are stored
whole, so rows an older hub wrote read the same.

A clip's id is a hash of its file name (`camhub.store.files.clip_id_of`), so
rebuilding the index from the files gives every clip its old id. Clips an
older hub numbered 1, 2, 3... keep those numbers: the first open copies them
into `clip-ids.json` beside the index, and re-indexing reads them from there.

A damaged index (not a database, a malformed page) is named with its path
and the fix, never a traceback: `open_index` and `reading_index` check it.
`created_at` is read from the clock `open_index` was given (the hub's).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Collection, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

import sqlite_utils

from camhub.clock import Clock
from camhub.store.db import Connection, Database, StoreError, connect, rows
from camhub.store.files import DERIVED_ID_BASE, clip_id_of
from camhub.store.legacy_ids import keep_legacy_ids
from camhub.store.schema import migrations, postponed

INDEX_FILE = "index.db"
# Page cache of each of the index's connections. At a million clips the b-tree pages above the leaves
# are about 2 MB, SQLite's default cache: with room for them and the newest clips, a row is one read.
CACHE_KIB = 16 * 1024
# No clip may be longer than this (seconds); the recorder splits longer events.
MAX_CLIP_SECONDS = 3600.0
# A zone page merges one range of clip_zones_time per (zone, camera); beyond this many (SQLite allows 500
# in one compound SELECT, and each costs a search and a sort of a page) it tries each clip of the cameras.
MAX_ZONE_ARMS = 64


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
    zones: tuple[str, ...] = ()  # sorted names of the motion zones its event touched; () when unknown or none

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


# A snapshot or thumbnail beside its clip, under the sidecar's name (`camhub.store.files.sidecars`), is
# stored as this instead of its path (migration 0005): the path is the clip's with another suffix.
SIDECAR = ""
SNAPSHOT_SUFFIX, THUMBNAIL_SUFFIX = ".jpg", ".thumb.jpg"


def _sidecar_column(column: str, suffix: str) -> str:
    """SQL giving the path in `column`, read back from SIDECAR (rows an older hub wrote hold the path itself)."""
    return (
        f"CASE clips.{column} WHEN '{SIDECAR}' THEN substr(path, 1, length(path) - 4) || '{suffix}' "
        f"ELSE clips.{column} END AS {column}"
    )


def _sidecar_value(clip_path: str, path: str | None, suffix: str) -> str | None:
    """What insert_clip stores for a snapshot or thumbnail `path`: SIDECAR when it is the clip's own sidecar."""
    if path is not None and clip_path.endswith(".mp4") and path == clip_path.removesuffix(".mp4") + suffix:
        return SIDECAR
    return path


# In ClipRecord's field order, so a row is a ClipRecord's positional arguments.
COLUMNS = (
    "cameras.name AS camera, start_time, end_time, duration, bytes, codec, width, height, sha256, path, "
    f"{_sidecar_column('snapshot_path', SNAPSHOT_SUFFIX)}, {_sidecar_column('thumbnail_path', THUMBNAIL_SUFFIX)}, "
    "peak_motion, clips.id, state"
)
SELECT = f"SELECT {COLUMNS} FROM clips JOIN cameras ON cameras.id = clips.camera_id"
_Row = tuple[str, float, float, float, int, str, int, int, str, str, str | None, str | None, float | None, int, str]


def _records(db: sqlite_utils.Database, sql: str, params: Sequence[Any] = ()) -> list[ClipRecord]:
    """The clips a query of `SELECT` finds, with their zones from one search of clip_zones for them all.

    Rows are read as tuples and the zones in one query, not a subquery per row: a page of clips is most
    of the cost of /api/clips, and this is what keeps it a fraction of a millisecond per hundred clips.
    """
    found = db.execute(sql, params).fetchall()
    zones: dict[int, list[str]] = {}
    if found and db["clip_zones"].exists():  # an index not yet migrated (read-only, by the CLI) has none
        ids = json.dumps([row[13] for row in found])
        search = "SELECT clip_id, zone FROM clip_zones WHERE clip_id IN (SELECT value FROM json_each(?)) ORDER BY 1, 2"
        for clip_id, zone in db.execute(search, [ids]):
            zones.setdefault(clip_id, []).append(zone)
    return [ClipRecord(*cast(_Row, row), zones=tuple(zones.get(row[13], ()))) for row in found]


def camera_id(db: Connection, name: str) -> int:
    row = db.execute("SELECT id FROM cameras WHERE name = ?", [name]).fetchone()
    if row:
        return int(row[0])
    return int(db.execute("INSERT INTO cameras (name, created_at) VALUES (?, ?)", [name, db.clock()]).lastrowid or 0)


def insert_clip(db: Connection, clip: ClipRecord) -> int:
    """Insert a row; its id is `clip.id` when given (a kept legacy id), else derived from the file name."""
    values = asdict(clip)
    values.pop("camera")
    zones = sorted(set(values.pop("zones")))
    values["id"] = clip.id if clip.id is not None else clip_id_of(Path(clip.path).name)
    values["snapshot_path"] = _sidecar_value(clip.path, clip.snapshot_path, SNAPSHOT_SUFFIX)
    values["thumbnail_path"] = _sidecar_value(clip.path, clip.thumbnail_path, THUMBNAIL_SUFFIX)
    values["camera_id"] = camera_id(db, clip.camera)
    values["created_at"] = db.clock()
    names = ", ".join(values)
    marks = ", ".join("?" for _ in values)
    clip_id = int(db.execute(f"INSERT INTO clips ({names}) VALUES ({marks})", list(values.values())).lastrowid or 0)
    if zones and "start_time" not in db["clip_zones"].columns_dict:  # 0007 postponed with 0005 (no room)
        db.conn.executemany("INSERT INTO clip_zones (clip_id, zone) VALUES (?, ?)", [[clip_id, z] for z in zones])
    elif zones:
        db.conn.executemany(
            "INSERT INTO clip_zones (clip_id, zone, camera_id, start_time) VALUES (?, ?, ?, ?)",
            [[clip_id, z, values["camera_id"], clip.start_time] for z in zones],
        )
    return clip_id


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
    zones: Collection[str] | None = None,
) -> list[ClipRecord]:
    """Clips overlapping [start, end), newest first unless `oldest_first`; of one camera, or of `cameras`.

    `after` is a keyset cursor: the (start_time, id) of the last clip of the
    previous page; the page continues after it in the chosen order. `zones`:
    only clips that touched at least one of these zones.
    """
    names = cameras
    if camera is not None:
        names = {camera} & set(cameras) if cameras is not None else {camera}
    ids = None if names is None else camera_ids(db, names)
    if ids == []:
        return []
    order = "ASC" if oldest_first else "DESC"
    tail = f" ORDER BY start_time {order}, clips.id {order}" + (f" LIMIT {int(limit)}" if limit is not None else "")
    if zones is not None:
        if not zones:
            return []
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE name LIKE 'clip_zones%'")}
        if "clip_zones" not in tables:  # an index not yet migrated (read-only, by the CLI) knows no zones
            return []
        of = ids if ids is not None else [int(r[0]) for r in db.execute("SELECT id FROM cameras ORDER BY id")]
        if "clip_zones_time" in tables and len(zones) * len(of) <= MAX_ZONE_ARMS:
            return _zone_page(db, of, sorted(zones), start, end, limit, after, include_garbage, oldest_first)
    where, params = _conditions("clips.id", "end_time", start, end, after, include_garbage, oldest_first)
    if zones is not None:
        # Before migration 0007 (postponed for want of disk, with 0005), or for more (zone, camera) pairs
        # than MAX_ZONE_ARMS: each clip the scan meets is tried against clip_zones' primary key, so a page
        # stops once it is full.
        marks = ", ".join("?" for _ in zones)
        where.append(f"EXISTS (SELECT 1 FROM clip_zones WHERE clip_id = clips.id AND zone IN ({marks}))")
        params += sorted(zones)
    if ids is None:
        return _records(db, _where(SELECT, where) + tail, params)
    if len(ids) == 1 or limit is None:
        marks = ", ".join("?" for _ in ids)
        return _records(db, _where(SELECT, [*where, f"clips.camera_id IN ({marks})"]) + tail, [*params, *ids])
    # A page of several cameras (a member's): each camera's page is a range of clips_camera_start, and
    # the pages are merged. One walk of clips_start would pass over every clip of the other cameras, and
    # `camera_id IN (...)` sorts every clip of these cameras before the cursor. The pages are merged as
    # (start_time, id) from the index, and only the clips that make the merged page are read from the
    # table: a page of 4 cameras reads 100 rows, not 400.
    keys = "SELECT start_time, clips.id AS id FROM clips"
    arms = [(_where(keys, [*where, "clips.camera_id = ?"]) + tail, [*params, i]) for i in ids]
    return _merged(db, arms, "UNION ALL", order, tail, limit)


def _conditions(
    clip_id: str,
    end_time: str,
    start: float | None,
    end: float | None,
    after: tuple[float, int] | None,
    include_garbage: bool,
    oldest_first: bool,
) -> tuple[list[str], list[str | float]]:
    """query_clips' conditions on a scan whose rows have `start_time` and the clip's id as `clip_id`."""
    where: list[str] = []
    params: list[str | float] = []
    if not include_garbage:
        # Not `state = 'ok'`: that is a column of the table, so every clip the scan met would be read from
        # its (random) page of the table before its other terms were tried. The few garbage clips are a
        # set made once from the partial index clips_garbage, and the id is in every index: a clip is read
        # from the table only once the index says it belongs on the page (SQLite defers the seek until a
        # column of the table is needed).
        where.append(f"{clip_id} NOT IN (SELECT id FROM clips WHERE state = 'garbage')")
    if end is not None:
        where.append("start_time < ?")
        params.append(end)
    if start is not None:
        where += ["start_time > ?", f"{end_time} > ?"]
        params += [start - MAX_CLIP_SECONDS, start]
    if after is not None:
        where.append(f"(start_time, {clip_id}) {'>' if oldest_first else '<'} (?, ?)")
        params += [after[0], after[1]]
    return where, params


def _zone_page(
    db: sqlite_utils.Database,
    ids: list[int],
    zones: list[str],
    start: float | None,
    end: float | None,
    limit: int | None,
    after: tuple[float, int] | None,
    include_garbage: bool,
    oldest_first: bool,
) -> list[ClipRecord]:
    """The clips of cameras `ids` that touched one of `zones`: each (zone, camera)'s page a range of
    clip_zones_time (migration 0007), merged, and only the merged page read from clips."""
    end_time = "(SELECT end_time FROM clips WHERE clips.id = clip_zones.clip_id)"
    where, params = _conditions("clip_zones.clip_id", end_time, start, end, after, include_garbage, oldest_first)
    order = "ASC" if oldest_first else "DESC"
    keys = "SELECT start_time, clip_id AS id FROM clip_zones"
    inner = f" ORDER BY start_time {order}, clip_id {order}" + (f" LIMIT {int(limit)}" if limit is not None else "")
    arms = [
        (_where(keys, ["zone = ?", "camera_id = ?", *where]) + inner, [zone, i, *params]) for zone in zones for i in ids
    ]
    if not arms:
        return []
    tail = f" ORDER BY start_time {order}, clips.id {order}" + (f" LIMIT {int(limit)}" if limit is not None else "")
    # A clip in two of the zones is in two arms: UNION, not UNION ALL, keeps it once.
    return _merged(db, arms, "UNION" if len(zones) > 1 else "UNION ALL", order, tail, limit)


def _merged(
    db: sqlite_utils.Database,
    arms: list[tuple[str, list[Any]]],
    union: str,
    order: str,
    tail: str,
    limit: int | None,
) -> list[ClipRecord]:
    """The clips whose (start_time, id) the `arms` give, merged in `order`; each arm ordered (and limited) so."""
    merged = f" {union} ".join(f"SELECT * FROM ({sql})" for sql, _ in arms)
    merged += f" ORDER BY start_time {order}, id {order}" + (f" LIMIT {int(limit)}" if limit is not None else "")
    sql = f"{SELECT} WHERE clips.id IN (SELECT id FROM ({merged})){tail}"
    return _records(db, sql, [p for _, ps in arms for p in ps])


def _where(select: str, conditions: list[str]) -> str:
    return f"{select} WHERE {' AND '.join(conditions)}" if conditions else select


def camera_ids(db: sqlite_utils.Database, names: Collection[str]) -> list[int]:
    """The ids of the cameras of these names that have ever been seen, in id order."""
    marks = ", ".join("?" for _ in names)
    return [int(r[0]) for r in db.execute(f"SELECT id FROM cameras WHERE name IN ({marks}) ORDER BY id", sorted(names))]


def clip_cameras(db: sqlite_utils.Database, cameras: Collection[str] | None = None) -> list[dict[str, Any]]:
    """Each camera that has clips (of `cameras`, when given), by name: {camera, clips, bytes, oldest,
    newest, newest_end}.

    `oldest` and `newest` are start times, `newest_end` the latest end; a camera removed from the config
    keeps its clips, so it is here.
    """
    where, params = "state = 'ok'", []
    if cameras is not None:
        where += f" AND cameras.name IN ({', '.join('?' for _ in cameras)})" if cameras else " AND 0"
        params = sorted(cameras)
    sql = (
        "SELECT cameras.name AS camera, COUNT(*) AS clips, COALESCE(SUM(bytes), 0) AS bytes, "
        "MIN(start_time) AS oldest, MAX(start_time) AS newest, MAX(end_time) AS newest_end "
        f"FROM clips JOIN cameras ON cameras.id = clips.camera_id WHERE {where} GROUP BY cameras.name ORDER BY 1"
    )
    return [dict(r) for r in db.query(sql, params)]


def camera_names(db: sqlite_utils.Database) -> list[str]:
    """Every camera ever seen, with clips or not, by name."""
    return [row[0] for row in db.execute("SELECT name FROM cameras ORDER BY name")]


def clip_bytes(db: sqlite_utils.Database) -> int:
    """The bytes of every clip (not garbage)."""
    return int(db.execute("SELECT COALESCE(SUM(bytes), 0) FROM clips WHERE state = 'ok'").fetchone()[0])


def oldest_clips(db: sqlite_utils.Database, page: int = 1000) -> Iterator[ClipRecord]:
    """Every clip (not garbage), oldest first, read a page at a time as the caller goes on."""
    after: tuple[float, int] | None = None
    while found := query_clips(db, oldest_first=True, limit=page, after=after):
        yield from found
        after = (found[-1].start_time, found[-1].id or 0)


def oldest_clip(db: sqlite_utils.Database, camera: str) -> dict[str, Any] | None:
    """The camera's oldest clip: {id, camera, start_time, end_time, bytes}, or None."""
    sql = (
        "SELECT clips.id, cameras.name AS camera, start_time, end_time, bytes "
        "FROM clips JOIN cameras ON cameras.id = clips.camera_id WHERE state = 'ok' AND cameras.name = ? "
        "ORDER BY start_time, clips.id LIMIT 1"
    )
    return next((dict(r) for r in db.query(sql, [camera])), None)


def clips_overlapping(db: sqlite_utils.Database, camera: str, start: float, end: float) -> tuple[int, int]:
    """How many of the camera's clips overlap [start, end), and their bytes."""
    sql = (
        "SELECT COUNT(*) AS clips, COALESCE(SUM(bytes), 0) AS bytes "
        "FROM clips JOIN cameras ON cameras.id = clips.camera_id "
        "WHERE state = 'ok' AND cameras.name = ? AND start_time < ? AND end_time > ?"
    )
    row = next(iter(db.query(sql, [camera, end, start])))
    return int(row["clips"]), int(row["bytes"])


def get_clip(db: sqlite_utils.Database, clip_id: int) -> ClipRecord | None:
    found = _records(db, f"{SELECT} WHERE clips.id = ?", [clip_id])
    return found[0] if found else None


def garbage_clips(db: sqlite_utils.Database) -> list[ClipRecord]:
    """Clips whose deletion was started (a search of the partial index clips_garbage, not of every row)."""
    return _records(db, f"{SELECT} WHERE state = 'garbage' ORDER BY clips.id")


def paths_in_folder(db: sqlite_utils.Database, folder: str) -> set[str]:
    """The paths of the clips indexed in `folder` (relative to the data folder): a range of the path index."""
    # Every path in the folder, and only those, sorts between "<folder>/" and "<folder>0" ('0' follows '/').
    found = db.execute("SELECT path FROM clips WHERE path > ? AND path < ?", [folder + "/", folder + "0"])
    return {row[0] for row in found}


def scanned_folders(db: sqlite_utils.Database) -> dict[str, int]:
    """{day folder: its mtime in ns when recovery last read it whole}; empty before migration 0004."""
    if not db["scanned_folders"].exists():
        return {}
    return {row[0]: int(row[1]) for row in db.execute("SELECT path, mtime_ns FROM scanned_folders")}


def set_scanned_folders(db: sqlite_utils.Database, read: dict[str, int], gone: Collection[str]) -> None:
    """Record the folders recovery read whole, at the mtime they had; forget folders no longer there."""
    db.conn.executemany(
        "INSERT INTO scanned_folders (path, mtime_ns) VALUES (?, ?) "
        "ON CONFLICT (path) DO UPDATE SET mtime_ns = excluded.mtime_ns",
        list(read.items()),
    )
    db.conn.executemany("DELETE FROM scanned_folders WHERE path = ?", [[f] for f in gone])


def mark_garbage(db: sqlite_utils.Database, ids: list[int]) -> None:
    db.conn.executemany("UPDATE clips SET state = 'garbage' WHERE id = ?", [[i] for i in ids])


def mark_ok(db: sqlite_utils.Database, ids: list[int]) -> None:
    db.conn.executemany("UPDATE clips SET state = 'ok' WHERE id = ?", [[i] for i in ids])


def delete_rows(db: sqlite_utils.Database, ids: list[int]) -> None:
    # ON DELETE CASCADE would drop the zone rows too, but only on a connection with foreign keys on.
    db.conn.executemany("DELETE FROM clip_zones WHERE clip_id = ?", [[i] for i in ids])
    db.conn.executemany("DELETE FROM clips WHERE id = ?", [[i] for i in ids])


class IndexDamaged(StoreError):
    """The index file is not a database, or a page of it is malformed."""

    key = "index_damaged"

    def __init__(self, path: Path, problem: object) -> None:
        self.problem = str(problem)
        super().__init__(
            f"{path}: the clip index is damaged ({problem}); the clip files themselves are not touched. "
            f"Stop the hub and run `camhub check --repair --data {path.parent}`: it moves the damaged index "
            f"aside as {path.name}.damaged-<time> and rebuilds it from the clip files"
        )


def _check_intact(db: sqlite_utils.Database, path: Path) -> None:
    found = [r[0] for r in db.execute("PRAGMA quick_check").fetchall()]
    if found != ["ok"]:
        raise IndexDamaged(path, "; ".join(str(f) for f in found[:3]))


@contextlib.contextmanager
def _naming_the_index(path: Path, doing: str) -> Iterator[None]:
    """SQLite's errors on the index as a StoreError (it cannot be `doing` now) or IndexDamaged, naming the file."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        raise StoreError(f"{path}: cannot {doing} the clip index: {exc}") from None
    except sqlite3.DatabaseError as exc:
        raise IndexDamaged(path, exc) from None


def open_index(data_dir: Path, clock: Clock = time.time) -> Database:
    """Open (or create) the index for writing, after checking it is intact; rows are stamped by `clock`."""
    path = data_dir / INDEX_FILE
    with _naming_the_index(path, "open"):
        stop_before = None
        if path.exists() and path.stat().st_size:
            probe = connect(path, readonly=True)
            try:
                _check_intact(probe, path)
                stop_before = postponed(probe, path)
            finally:
                probe.close()
        db = Database(path, migrations, clock, cache_kib=CACHE_KIB, stop_before=stop_before)
    try:
        keep_legacy_ids(
            data_dir, db.write_blocking(lambda d: rows(d, "SELECT id, path FROM clips WHERE id < ?", [DERIVED_ID_BASE]))
        )
    except BaseException:
        db.close()
        raise
    return db


@contextlib.contextmanager
def reading_index(data_dir: Path) -> Iterator[Connection]:
    """A read-only connection to an intact index; a damage found while reading is named too."""
    path = data_dir / INDEX_FILE
    with _naming_the_index(path, "read"):
        db = connect(path, readonly=True, cache_kib=CACHE_KIB)
        try:
            _check_intact(db, path)
            yield db
        finally:
            db.close()
