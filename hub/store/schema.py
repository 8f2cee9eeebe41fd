"""The index schema, as named migrations applied in order at start-up.

Each column carries a comment with its unit; SQLite keeps the comments in
`sqlite_master`, so `sqlite3 index.db .schema` shows them. Never edit an
applied migration: add a new one.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

import sqlite_utils
from sqlite_utils.migrations import Migrations

migrations = Migrations("camhub.index")
log = logging.getLogger(__name__)

CLIPS = """
CREATE TABLE clips (
  id INTEGER PRIMARY KEY,                 -- clip number, never reused
  camera_id INTEGER NOT NULL REFERENCES cameras(id),
  start_time REAL NOT NULL,               -- Unix seconds, UTC: capture time of the first packet
  end_time REAL NOT NULL,                 -- Unix seconds, UTC: start_time + duration
  duration REAL NOT NULL,                 -- seconds, from the media timestamps
  bytes INTEGER NOT NULL,                 -- bytes: size of the clip file
  codec TEXT NOT NULL,                    -- FFmpeg codec name of the video: h264, hevc
  width INTEGER NOT NULL,                 -- pixels
  height INTEGER NOT NULL,                -- pixels
  sha256 TEXT NOT NULL,                   -- hex SHA-256 of the clip file's bytes
  path TEXT NOT NULL UNIQUE,              -- clip file, relative to the data folder
  snapshot_path TEXT,                     -- JPEG of the frame with the most motion, relative to the data folder
  thumbnail_path TEXT,                    -- small JPEG of the same frame, relative to the data folder
  peak_motion REAL,                       -- fraction of the frame (0..1) that changed at the peak
  state TEXT NOT NULL DEFAULT 'ok'        -- 'ok', or 'garbage' while its files are being deleted
    CHECK (state IN ('ok', 'garbage')),
  created_at REAL NOT NULL                -- Unix seconds, UTC: when the row was inserted
)
"""

CAMERAS = """
CREATE TABLE cameras (
  id INTEGER PRIMARY KEY,                 -- camera number, never reused
  name TEXT NOT NULL UNIQUE,              -- the camera's name in the config
  created_at REAL NOT NULL                -- Unix seconds, UTC: first seen
)
"""


@migrations(name="0001_cameras_and_clips")
def _cameras_and_clips(db: sqlite_utils.Database) -> None:
    db.execute(CAMERAS)
    db.execute(CLIPS)
    # "Clips of camera X between T1 and T2" is a range scan on this index.
    db.execute("CREATE INDEX clips_camera_start ON clips (camera_id, start_time)")
    db.execute("CREATE INDEX clips_start ON clips (start_time)")


CLIPS_WITH_DERIVED_IDS = CLIPS.replace(
    "id INTEGER PRIMARY KEY,                 -- clip number, never reused",
    "id INTEGER PRIMARY KEY,                 -- clip id: 2**52 + 52 bits of SHA-256 of the file name "
    "(camhub.store.files.clip_id_of); ids below 2**52 were numbered by an older hub and are kept",
)


@migrations(name="0002_clip_ids_from_file_names")
def _clip_ids_from_file_names(db: sqlite_utils.Database) -> None:
    # New clips take their id from their file name, so a rebuilt index gives the same ids; rows keep
    # theirs. Only the column's comment changes, and SQLite changes a comment by rebuilding the table.
    db.execute(CLIPS_WITH_DERIVED_IDS.replace("CREATE TABLE clips", "CREATE TABLE clips_new"))
    db.execute("INSERT INTO clips_new SELECT * FROM clips")
    db.execute("DROP TABLE clips")
    db.execute("ALTER TABLE clips_new RENAME TO clips")
    db.execute("CREATE INDEX clips_camera_start ON clips (camera_id, start_time)")
    db.execute("CREATE INDEX clips_start ON clips (start_time)")


CLIP_ZONES = """
CREATE TABLE clip_zones (
  clip_id INTEGER NOT NULL REFERENCES clips(id) ON DELETE CASCADE,
  zone TEXT NOT NULL,                     -- name of a motion zone of the clip's camera that the clip's event touched
  PRIMARY KEY (clip_id, zone)
) WITHOUT ROWID
"""


@migrations(name="0003_clip_zones")
def _clip_zones(db: sqlite_utils.Database) -> None:
    # One row per (clip, zone), not a list in a column of clips: "clips that touched zone Z" is then a
    # search of clip_zones_zone, and a clip's zones a search of the primary key. Clips indexed before
    # this migration have no rows: their zones are unknown, and they match no zone filter.
    # A later migration that rebuilds `clips` as 0002 did must copy clip_zones aside first: with foreign
    # keys on, DROP TABLE clips deletes every row, and ON DELETE CASCADE every zone row with it.
    db.execute(CLIP_ZONES)
    db.execute("CREATE INDEX clip_zones_zone ON clip_zones (zone, clip_id)")


SCANNED_FOLDERS = """
CREATE TABLE scanned_folders (
  path TEXT PRIMARY KEY,                  -- a day folder, clips/<camera>/<YYYY-MM-DD>, relative to the data folder
  mtime_ns INTEGER NOT NULL               -- ns since the Unix epoch: its mtime when recovery last read it whole
) WITHOUT ROWID
"""


@migrations(name="0004_recovery_reads_only_what_changed")
def _recovery_reads_only_what_changed(db: sqlite_utils.Database) -> None:
    # At start-up, recovery finishes interrupted deletions (rows marked garbage: a handful among a million,
    # found by this partial index without reading the others) and looks for files without a finished row
    # only in day folders whose mtime changed since it last read them whole (scanned_folders): a clip
    # renamed into place, a `.partial` left by a crash, a file deleted, each changes its folder's mtime.
    # An index without rows here (new, rebuilt, or from before this migration) has every folder read once.
    db.execute("CREATE INDEX clips_garbage ON clips (id) WHERE state = 'garbage'")
    db.execute(SCANNED_FOLDERS)


# 0005: the same columns in the same order, but a snapshot or thumbnail beside its clip (the sidecars'
# names, `camhub.store.files.sidecars`) is stored as '' (see `camhub.store.index.SIDECAR`), and the path
# index is made after the copy instead of being declared on the column.
CLIPS_WITH_SIDECAR_MARKS = """
CREATE TABLE clips_new (
  id INTEGER PRIMARY KEY,                 -- clip id: 2**52 + 52 bits of SHA-256 of the file name
                                          -- (store.files.clip_id_of); ids below 2**52 were numbered by an older hub
  camera_id INTEGER NOT NULL REFERENCES cameras(id),
  start_time REAL NOT NULL,               -- Unix seconds, UTC: capture time of the first packet
  end_time REAL NOT NULL,                 -- Unix seconds, UTC: start_time + duration
  duration REAL NOT NULL,                 -- seconds, from the media timestamps
  bytes INTEGER NOT NULL,                 -- bytes: size of the clip file
  codec TEXT NOT NULL,                    -- FFmpeg codec name of the video: h264, hevc
  width INTEGER NOT NULL,                 -- pixels
  height INTEGER NOT NULL,                -- pixels
  sha256 TEXT NOT NULL,                   -- hex SHA-256 of the clip file's bytes
  path TEXT NOT NULL,                     -- clip file, relative to the data folder; unique (index clips_path)
  snapshot_path TEXT,                     -- JPEG of the frame with the most motion, relative to the data folder;
                                          -- '' for the one beside the clip (its path, .jpg for .mp4), NULL for none
  thumbnail_path TEXT,                    -- small JPEG of the same frame, relative to the data folder;
                                          -- '' for the one beside the clip (its path, .thumb.jpg for .mp4), NULL: none
  peak_motion REAL,                       -- fraction of the frame (0..1) that changed at the peak
  state TEXT NOT NULL DEFAULT 'ok'        -- 'ok', or 'garbage' while its files are being deleted
    CHECK (state IN ('ok', 'garbage')),
  created_at REAL NOT NULL                -- Unix seconds, UTC: when the row was inserted
)
"""

CLIP_ZONES_OF_NEW = CLIP_ZONES.replace("CREATE TABLE clip_zones (", "CREATE TABLE clip_zones_new (").replace(
    "REFERENCES clips(id)", "REFERENCES clips_new(id)"
)
# Rows copied per statement by 0005, so it can say how far it is.
COPY_BATCH = 50_000


def _beside(column: str, suffix: str) -> str:
    """SQL: '' where `column` is the clip's own sidecar (its path with `suffix` for `.mp4`), else the column."""
    own = f"substr(path, 1, length(path) - 4) || '{suffix}'"
    return f"CASE WHEN substr(path, -4) = '.mp4' AND {column} = {own} THEN '' ELSE {column} END"


@migrations(name="0005_sidecars_beside_their_clip")
def _sidecars_beside_their_clip(db: sqlite_utils.Database) -> None:
    # The snapshot and thumbnail paths were about 130 of a row's 320 bytes, yet always the clip path with
    # another suffix. A new table filled in id order (appends: full pages) and renamed, its indexes built
    # after the copy (a sort each, full pages too), is much faster than UPDATEs in place and leaves the old
    # table's pages free at the end of the file for 0006 to return. One transaction: an interrupted
    # start leaves the index as it was, and the next start does it again.
    total = int(db.execute("SELECT COUNT(*) FROM clips").fetchone()[0])
    began = time.monotonic()
    if total > COPY_BATCH:
        log.info("clip index: copying %d clips into a smaller table (once, after an upgrade)", total)
    db.execute(CLIPS_WITH_SIDECAR_MARKS)
    columns = (
        "id, camera_id, start_time, end_time, duration, bytes, codec, width, height, sha256, path, "
        f"{_beside('snapshot_path', '.jpg')}, {_beside('thumbnail_path', '.thumb.jpg')}, peak_motion, state, created_at"
    )
    copied, after, told = 0, -(2**63), began
    while True:
        added = db.execute(
            f"INSERT INTO clips_new SELECT {columns} FROM clips WHERE id > ? ORDER BY id LIMIT {COPY_BATCH}", [after]
        ).rowcount
        if added <= 0:
            break
        copied += added
        after = int(db.execute("SELECT MAX(id) FROM clips_new").fetchone()[0])
        if time.monotonic() - told > 5:
            told = time.monotonic()
            log.info("clip index: %d of %d clips copied (%.0f%%)", copied, total, 100 * copied / total)
    # With foreign keys on, DROP TABLE clips would first delete every row, and ON DELETE CASCADE every
    # zone row: the zones move to a table that references the new one, and the old zone table goes first.
    db.execute(CLIP_ZONES_OF_NEW)
    db.execute("INSERT INTO clip_zones_new SELECT clip_id, zone FROM clip_zones ORDER BY clip_id, zone")
    db.execute("DROP TABLE clip_zones")
    db.execute("DROP TABLE clips")
    db.execute("ALTER TABLE clips_new RENAME TO clips")  # clip_zones_new's reference follows the rename
    db.execute("ALTER TABLE clip_zones_new RENAME TO clip_zones")
    if total > COPY_BATCH:
        log.info("clip index: building its indexes (%.0f s so far)", time.monotonic() - began)
    db.execute("CREATE UNIQUE INDEX clips_path ON clips (path)")
    db.execute("CREATE INDEX clips_camera_start ON clips (camera_id, start_time)")
    db.execute("CREATE INDEX clips_start ON clips (start_time)")
    db.execute("CREATE INDEX clips_garbage ON clips (id) WHERE state = 'garbage'")
    db.execute("CREATE INDEX clip_zones_zone ON clip_zones (zone, clip_id)")
    if total > COPY_BATCH:
        log.info("clip index: %d clips copied in %.0f s", total, time.monotonic() - began)


# 0006 returns free pages to the disk when they are more than this share of the file and this many bytes
# (a new index has a few pages freed by 0005: not worth a VACUUM, nor a line in the log).
FREE_SHARE_TO_RETURN = 0.1
FREE_BYTES_TO_RETURN = 1 << 20


@migrations(name="0006_return_free_pages", transactional=False)
def _return_free_pages(db: sqlite_utils.Database) -> None:
    # 0005 leaves the old table's pages free inside the file (about as many as the new table and indexes
    # hold). VACUUM writes the file anew without them; it cannot run inside a transaction, so this migration
    # is not in one: VACUUM is atomic itself, and a start interrupted before this migration is recorded
    # runs it again.
    free, pages = (int(db.execute(f"PRAGMA {p}").fetchone()[0]) for p in ("freelist_count", "page_count"))
    page_size = int(db.execute("PRAGMA page_size").fetchone()[0])
    if not pages or free / pages <= FREE_SHARE_TO_RETURN or free * page_size <= FREE_BYTES_TO_RETURN:
        return
    began = time.monotonic()
    # 0005's pages went through the WAL, which keeps its size after they are folded into the file: emptied
    # first, the VACUUM's own WAL takes its place instead of adding to it (1.4 GB beside a 552 MB index).
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    log.info("clip index: returning %.0f MB of free pages to the disk (once, after an upgrade)", free * page_size / 1e6)
    db.execute("VACUUM")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the file shrinks when the WAL is folded in
    log.info("clip index: %.0f MB returned in %.0f s", free * page_size / 1e6, time.monotonic() - began)


# 0007: each zone row carries its clip's camera and start, copied, so a zone's clips of one camera in time
# order are a range of clip_zones_time, as a camera's clips are of clips_camera_start.
CLIP_ZONES_IN_TIME_ORDER = """
CREATE TABLE clip_zones_new (
  clip_id INTEGER NOT NULL REFERENCES clips(id) ON DELETE CASCADE,
  zone TEXT NOT NULL,                     -- name of a motion zone of the clip's camera that the clip's event touched
  camera_id INTEGER NOT NULL,             -- the clip's camera_id, copied from its row (it never changes)
  start_time REAL NOT NULL,               -- Unix seconds, UTC: the clip's start_time, copied from its row (it never
                                          -- changes)
  PRIMARY KEY (clip_id, zone)
) WITHOUT ROWID
"""


@migrations(name="0007_zone_pages_in_time_order")
def _zone_pages_in_time_order(db: sqlite_utils.Database) -> None:
    # A page of one camera's clips in a zone tried each of the camera's clips in turn against clip_zones'
    # primary key: ten searches for each clip of the page when one clip in ten touched the zone (18 ms of
    # CPU at a million clips). With the clip's camera and start in its zone rows, the page is a range of
    # clip_zones_time. The rows are copied into a new table in primary-key order (full pages; its index
    # built after, by a sort) and the old table, with clip_zones_zone, dropped: clip_zones_time leads
    # with the zone too, so "clips that touched zone Z" is still an index search. One transaction; it
    # rewrites the zone rows only (about 25 MB at a million clips), not the clips. A zone row without
    # its clip (none, with foreign keys on) is not copied.
    total = int(db.execute("SELECT COUNT(*) FROM clip_zones").fetchone()[0])
    began = time.monotonic()
    if total > COPY_BATCH:
        log.info("clip index: copying %d zone rows with their clips' times (once, after an upgrade)", total)
    db.execute(CLIP_ZONES_IN_TIME_ORDER)
    db.execute(
        "INSERT INTO clip_zones_new (clip_id, zone, camera_id, start_time) "
        "SELECT clip_zones.clip_id, clip_zones.zone, clips.camera_id, clips.start_time "
        "FROM clip_zones JOIN clips ON clips.id = clip_zones.clip_id ORDER BY clip_zones.clip_id, clip_zones.zone"
    )
    db.execute("DROP TABLE clip_zones")  # a child of clips: dropping it deletes nothing else
    db.execute("ALTER TABLE clip_zones_new RENAME TO clip_zones")
    if total > COPY_BATCH:
        log.info("clip index: building the zone index (%.0f s so far)", time.monotonic() - began)
    db.execute("CREATE INDEX clip_zones_time ON clip_zones (zone, camera_id, start_time, clip_id)")
    if total > COPY_BATCH:
        log.info("clip index: %d zone rows copied in %.0f s", total, time.monotonic() - began)


# Migrations that rewrite the whole index, and the free disk they need, as a multiple of the index's files:
# at a million clips 0005 and 0006 took up to 2.6 times the old index beyond it (WAL, sorts, VACUUM's copy).
REWRITES = ("0005_sidecars_beside_their_clip", "0006_return_free_pages")
ROOM_FOR_A_REWRITE = 3


def postponed(db: sqlite_utils.Database, path: Path) -> str | None:
    """The first pending rewrite (REWRITES) the disk has no room for now, or None; logged when there is one.

    A hub keeps its disk nearly full of clips, and a start that fails for want of room would stop it
    recording: the rewrite waits for a start with room (retention makes some as it runs), and the index
    works as it is meanwhile.
    """
    pending = [m.name for m in migrations.pending(db) if m.name in REWRITES]
    if not pending:
        return None
    size = sum(p.stat().st_size for p in (path, path.with_name(path.name + "-wal")) if p.exists())
    free = shutil.disk_usage(path.parent).free
    if free >= ROOM_FOR_A_REWRITE * size:
        return None
    log.warning(
        "clip index: %s postponed: it rewrites the index, which needs about %.0f MB free beside %s and the disk "
        "has %.0f MB; the index works as it is, and a later start with room does it",
        pending[0],
        ROOM_FOR_A_REWRITE * size / 1e6,
        path,
        free / 1e6,
    )
    return pending[0]
