"""The log's file across the move onto the shared SQLite layer: a log the earlier camhub wrote opens and verifies.

`old_log` builds a log the way camhub did before its migrations were
recorded (raw sqlite3: `executescript` of the schema below, `user_version`
1, one transaction per batch with a checkpoint and the state row), so the
test does not depend on the code it checks.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from camhub.audit import AuditLog, HubStarted, LogCreated
from camhub.audit.canonical import encode_entry
from camhub.audit.events import AuditEvent
from camhub.audit.merkle import CompactRange, leaf_hash
from camhub.audit.note import SigningKey, sign_checkpoint, write_private
from camhub.audit.verify import verify_log
from camhub.cli.main import main

from ..conftest import FakeClock, sample_event

# The schema as the earlier camhub wrote it (camhub.audit.store.SCHEMA, SCHEMA_VERSION = 1), verbatim.
OLD_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    idx       INTEGER PRIMARY KEY,  -- leaf index, from 0, no gaps
    entry     BLOB NOT NULL,        -- canonical JSON (RFC 8785): the Merkle leaf data
    leaf_hash BLOB NOT NULL         -- SHA-256(0x00 || entry), 32 bytes
);
CREATE TABLE IF NOT EXISTS subtrees (
    level INTEGER NOT NULL,         -- height: the subtree covers 2**level leaves
    idx   INTEGER NOT NULL,         -- position among subtrees of that level
    hash  BLOB NOT NULL,            -- RFC 6962 node hash, 32 bytes
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoints (
    id      INTEGER PRIMARY KEY,
    size    INTEGER NOT NULL,       -- tree size (entries) it commits to
    time_s  INTEGER NOT NULL,       -- Unix seconds when signed
    note    TEXT NOT NULL           -- the C2SP signed note, exactly as served
);
CREATE TABLE IF NOT EXISTS state (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    origin  TEXT NOT NULL,          -- camhub/<hub id>: checkpoint origin and key name
    size    INTEGER NOT NULL,       -- entries committed
    compact BLOB NOT NULL,          -- right edge of the tree (merkle.CompactRange), 32 bytes per hash
    vkey    TEXT NOT NULL           -- verifier key of the active signing key
);
"""
OLD_TABLES = ("checkpoints", "entries", "state", "subtrees")


def old_log(data: Path, batches: list[list[AuditEvent]], now: int = 1_700_000_000) -> Path:
    """A log under `data/audit` written as the earlier camhub wrote it; returns its data folder."""
    folder = data / "audit"
    folder.mkdir(mode=0o700, parents=True)
    conn = sqlite3.connect(folder / "log.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.executescript(OLD_SCHEMA)
    conn.execute("PRAGMA user_version=1")
    origin = "camhub/home"
    key = SigningKey.generate(origin)
    write_private(folder / "signing.key", key.to_text())
    tree = CompactRange()
    genesis: list[AuditEvent] = [LogCreated(time=now, actor="hub", origin=origin, key=str(key.verifier))]
    for n, batch in enumerate([genesis, *batches]):
        entries, subtrees = [], []
        for event in batch:
            index = tree.size
            entry = encode_entry(index, round(event.time * 1000), event.actor, event.name, event.fields())
            entries.append((index, entry, leaf_hash(entry)))
            subtrees += [s for s in tree.append(leaf_hash(entry)) if s[0] >= 8]
        checkpoint = sign_checkpoint(origin, tree.size, tree.root(), now, [key])
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO entries (idx, entry, leaf_hash) VALUES (?, ?, ?)", entries)
        conn.executemany("INSERT INTO subtrees (level, idx, hash) VALUES (?, ?, ?)", subtrees)
        conn.execute(
            "INSERT INTO checkpoints (size, time_s, note) VALUES (?, ?, ?)",
            (checkpoint.size, checkpoint.time, checkpoint.note),
        )
        if n == 0:
            conn.execute(
                "INSERT INTO state (id, origin, size, compact, vkey) VALUES (1, ?, ?, ?, ?)",
                (origin, tree.size, tree.to_bytes(), str(key.verifier)),
            )
        else:
            conn.execute(
                "UPDATE state SET size = ?, compact = ?, vkey = ?", (tree.size, tree.to_bytes(), str(key.verifier))
            )
        conn.execute("COMMIT")
    conn.close()
    return data


def tables(db: Path) -> dict[str, str]:
    conn = sqlite3.connect(db)
    try:
        return dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY name").fetchall())
    finally:
        conn.close()


def migrations_applied(db: Path) -> list[tuple[str, str]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT migration_set, name FROM _sqlite_migrations ORDER BY id").fetchall()
    finally:
        conn.close()


async def test_a_log_written_before_migrations_were_recorded_opens_extends_and_verifies(
    tmp_path: Path, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    # 300 entries in batches of 50: subtrees of 256 leaves are stored too.
    data = old_log(tmp_path / "data", [[sample_event(i, clock()) for i in range(s, s + 50)] for s in range(0, 300, 50)])
    db = data / "audit" / "log.db"
    before = tables(db)
    assert sorted(before) == list(OLD_TABLES) and verify_log(data).size == 301

    log = await AuditLog.open(data, hub_id="home", clock=clock)
    try:
        assert log.size == 301 and log.origin == "camhub/home"
        receipt = await log.append(HubStarted(time=clock(), actor="hub", version="new"))
        assert receipt.index == 301
        assert len(await log.inclusion_proof(5)) > 0
    finally:
        await log.close()

    after = tables(db)
    assert {name: after[name] for name in OLD_TABLES} == before  # the log's own tables, unchanged
    assert migrations_applied(db) == [("camhub.audit", "0001_entries_subtrees_checkpoints_state")]
    assert main(["audit", "verify", "--data", str(data), "--deep"]) == 0
    assert capsys.readouterr().out.startswith("ok: camhub/home: 302 entries, 8 checkpoints verified")
    again = await AuditLog.open(data, clock=clock)  # a second open applies nothing twice
    await again.close()
    assert len(migrations_applied(db)) == 1


async def test_a_new_log_has_the_tables_and_version_the_earlier_camhub_wrote(tmp_path: Path, clock: FakeClock) -> None:
    """So a hub moved back to the earlier camhub still opens the log this one created."""
    old = old_log(tmp_path / "old", [])
    log = await AuditLog.open(tmp_path / "new", hub_id="home", clock=clock)
    await log.close()
    new_db, old_db = tmp_path / "new" / "audit" / "log.db", old / "audit" / "log.db"
    assert {name: sql for name, sql in tables(new_db).items() if name in OLD_TABLES} == tables(old_db)
    conn = sqlite3.connect(new_db)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    finally:
        conn.close()
