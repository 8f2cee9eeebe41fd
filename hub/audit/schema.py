"""The audit log's schema, as named migrations applied in order when the log opens.

Each column carries a comment with its unit; SQLite keeps the comments in
`sqlite_master`, so `sqlite3 log.db .schema` shows them. Never edit an
applied migration: add a new one.

Logs written before the migrations were recorded (camhub up to issue 10)
have exactly the tables of the first migration, created the same way, and
`user_version` 1: the first migration finds them there and only records
itself, so such a log opens, extends and verifies unchanged.
"""

from __future__ import annotations

import sqlite_utils
from sqlite_utils.migrations import Migrations

migrations = Migrations("camhub.audit")

ENTRIES = """
CREATE TABLE IF NOT EXISTS entries (
    idx       INTEGER PRIMARY KEY,  -- leaf index, from 0, no gaps
    entry     BLOB NOT NULL,        -- canonical JSON (RFC 8785): the Merkle leaf data
    leaf_hash BLOB NOT NULL         -- SHA-256(0x00 || entry), 32 bytes
)"""

SUBTREES = """
CREATE TABLE IF NOT EXISTS subtrees (
    level INTEGER NOT NULL,         -- height: the subtree covers 2**level leaves
    idx   INTEGER NOT NULL,         -- position among subtrees of that level
    hash  BLOB NOT NULL,            -- RFC 6962 node hash, 32 bytes
    PRIMARY KEY (level, idx)
) WITHOUT ROWID"""

CHECKPOINTS = """
CREATE TABLE IF NOT EXISTS checkpoints (
    id      INTEGER PRIMARY KEY,
    size    INTEGER NOT NULL,       -- tree size (entries) it commits to
    time_s  INTEGER NOT NULL,       -- Unix seconds when signed
    note    TEXT NOT NULL           -- the C2SP signed note, exactly as served
)"""

STATE = """
CREATE TABLE IF NOT EXISTS state (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    origin  TEXT NOT NULL,          -- camhub/<hub id>: checkpoint origin and key name
    size    INTEGER NOT NULL,       -- entries committed
    compact BLOB NOT NULL,          -- right edge of the tree (merkle.CompactRange), 32 bytes per hash
    vkey    TEXT NOT NULL           -- verifier key of the active signing key
)"""


@migrations(name="0001_entries_subtrees_checkpoints_state")
def _entries_subtrees_checkpoints_state(db: sqlite_utils.Database) -> None:
    # IF NOT EXISTS: a log from before recorded migrations already has these tables, as written here.
    for table in (ENTRIES, SUBTREES, CHECKPOINTS, STATE):
        db.execute(table)
    # The camhub before recorded migrations refuses a log whose user_version is not 1, as one it
    # never created; a log created here stays one it opens.
    db.execute("PRAGMA user_version = 1")
