"""The index schema, as named migrations applied in order at start-up.

Each column carries a comment with its unit; SQLite keeps the comments in
`sqlite_master`, so `sqlite3 index.db .schema` shows them. Never edit an
applied migration: add a new one.
"""

from __future__ import annotations

import sqlite_utils
from sqlite_utils.migrations import Migrations

migrations = Migrations("camhub.index")

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
