"""`LogWriter`: the audit log's one writer. It opens or creates the log,
commits batches of entries with a checkpoint over each, and signs the
periodic checkpoints.

It writes through the shared SQLite layer (`camhub.store.db.Database`):
each batch is one `BEGIN IMMEDIATE` transaction on the database's writer
thread, in WAL mode with synchronous=FULL, so it is on disk when the write
returns; receipts exist only then. The writer's picture of the tree (its
right edge and the latest checkpoint) changes only once a commit succeeded
(`after_commit`, on that same thread). A batch that fails is rolled back
whole, and its checkpoint, signed in memory, is never stored, so no
checkpoint covers an entry that is not durable; the writer then re-reads the
stored tree before the next write, since SQLite may have kept a commit that
reported an error.

An existing log is checked read-only first (its state, the key file, the
stored tree against its last signed checkpoint) and only then opened for
writing, so a damaged log is refused without a byte written to it. A new
log's key becomes `signing.key` only once its entry 0 is durable.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path
from typing import NamedTuple

from camhub.audit.canonical import entry_parts
from camhub.audit.errors import AuditDamaged, AuditError, restore_advice
from camhub.audit.events import AuditEvent, LogCreated, own_fields
from camhub.audit.merkle import CompactRange, root_of
from camhub.audit.note import (
    Checkpoint,
    SigningKey,
    VerifierKey,
    load_signing_key,
    sign_checkpoint,
    verify_checkpoint,
    write_private,
)
from camhub.audit.schema import migrations
from camhub.audit.store import (
    BUSY_TIMEOUT_S,
    DB_NAME,
    KEY_NAME,
    NEXT_KEY_NAME,
    SUBTREE_LEVEL,
    connect,
    storage,
)
from camhub.durable import fsync_dir
from camhub.store.db import Connection, Database

HUB_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


@dataclass(frozen=True, slots=True)
class Receipt:
    """What `AuditLog.append` returns: the entry is durable and covered by `checkpoint`."""

    index: int
    leaf_hash: bytes
    checkpoint: Checkpoint


class PreparedEntry(NamedTuple):
    """An event already in canonical JSON, all but its index: entry = head + index + tail.

    Appends canonicalise on the caller's side, before the commit lock, so the
    writer thread only numbers, hashes and inserts. (A tuple: one is made per append.)
    """

    head: bytes
    tail: bytes

    @classmethod
    def of(cls, event: AuditEvent) -> PreparedEntry:
        """Raises AuditError naming the field when the event holds something the log cannot."""
        # The fields as they are, not `event.fields()`: the encoders write tuples as lists already.
        fields = {name: getattr(event, name) for name in own_fields(type(event))}
        return cls(*entry_parts(round(event.time * 1000), event.actor, event.name, fields))


@dataclass(frozen=True)
class _Written:
    """A write's outcome, which becomes the writer's picture of the tree once it committed."""

    tree: CompactRange
    checkpoint: Checkpoint
    receipts: list[Receipt]


@dataclass(frozen=True)
class _StoredLog:
    """A log found on disk, checked against its key file and its last signed checkpoint."""

    origin: str
    key: SigningKey
    tree: CompactRange
    latest: Checkpoint


class LogWriter:
    """The one writer: appends batches and signs checkpoints, on `db`'s writer thread."""

    def __init__(
        self, folder: Path, db: Database, key: SigningKey, origin: str, tree: CompactRange, latest: Checkpoint
    ) -> None:
        self.folder = folder
        self.path = folder / DB_NAME
        self.db = db
        self.key = key
        self.origin = origin
        self.tree = tree
        self.latest = latest
        self._suspect = False  # a write failed: re-read the tree before the next one

    @classmethod
    def open(cls, folder: Path, hub_id: str | None, now: int) -> LogWriter:
        """Open or create the log in `folder`; blocking, so call it from a worker thread."""
        if hub_id is not None and not HUB_ID.fullmatch(hub_id):
            raise AuditError(f"hub id {hub_id!r}: use 1 to 64 letters, digits, '.', '_' or '-'")
        with storage(folder, writing=True):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = folder / DB_NAME
        with storage(path, writing=True):
            stored = _stored_log(folder, hub_id)
            db = Database(path, migrations, busy_timeout_s=BUSY_TIMEOUT_S, read_only_reader=True)
            try:
                if stored is None:
                    return cls._create(folder, db, hub_id, now)
                return cls(folder, db, stored.key, stored.origin, stored.tree, stored.latest)
            except BaseException:
                db.close()
                raise

    @classmethod
    def _create(cls, folder: Path, db: Database, hub_id: str | None, now: int) -> LogWriter:
        origin = f"camhub/{hub_id or secrets.token_hex(6)}"
        key_path, next_path = folder / KEY_NAME, folder / NEXT_KEY_NAME
        _refuse_second_log(folder)
        # The key becomes signing.key only once the genesis entry is durable, so a
        # crash in between leaves no key that could sign a second, unrelated tree.
        key = SigningKey.generate(origin)
        with storage(next_path, writing=True):
            write_private(next_path, key.to_text())
        empty = sign_checkpoint(origin, 0, root_of([]), now, [key])
        writer = cls(folder, db, key, origin, CompactRange(), empty)
        genesis = LogCreated(time=now, actor="hub", origin=origin, key=str(key.verifier))
        db.write_blocking(writer._append([PreparedEntry.of(genesis)], now, new_state=True), writer._committed)
        with storage(key_path, writing=True):
            next_path.replace(key_path)
            fsync_dir(folder)
        return writer

    async def commit(self, events: list[PreparedEntry], now: int) -> list[Receipt]:
        """Append entries and a checkpoint over them in one durable transaction.

        Raises AuditUnavailable (the whole batch rolled back) when it cannot be written.
        """
        with storage(self.path, writing=True, public=True):
            written = await self.db.write(self._append(events, now), self._committed)
        return written.receipts

    async def sign_now(self, now: int) -> Checkpoint:
        """A fresh checkpoint of the unchanged tree (the periodic one, and the probe of a log that failed)."""
        with storage(self.path, writing=True, public=True):
            written = await self.db.write(self._sign(now), self._committed)
        return written.checkpoint

    def _append(
        self, events: list[PreparedEntry], now: int, new_state: bool = False
    ) -> Callable[[Connection], _Written]:
        def append(db: Connection) -> _Written:
            self._resync(db.conn)
            self._suspect = True  # until `_committed` says otherwise
            tree = CompactRange(self.tree.size, self.tree.hashes)
            first = tree.size
            indexes = range(first, first + len(events))
            sha256 = hashlib.sha256
            # Per entry: lists and zips, no tuple kept per row: fewer objects for the garbage
            # collector to track (its collections cost about a sixth of an append).
            datas = [b"%s%d%s" % (head, index, tail) for index, (head, tail) in zip(indexes, events, strict=True)]
            leaves = [sha256(b"\x00" + data).digest() for data in datas]  # merkle.leaf_hash, inlined
            subtrees = tree.extend(leaves, min_level=SUBTREE_LEVEL)
            checkpoint = sign_checkpoint(self.origin, tree.size, tree.root(), now, [self.key])
            db.conn.executemany(
                "INSERT INTO entries (idx, entry, leaf_hash) VALUES (?, ?, ?)", zip(indexes, datas, leaves, strict=True)
            )
            db.conn.executemany("INSERT INTO subtrees (level, idx, hash) VALUES (?, ?, ?)", subtrees)
            self._store_checkpoint(db.conn, checkpoint, tree, new_state)
            return _Written(tree, checkpoint, list(map(Receipt, indexes, leaves, repeat(checkpoint, len(leaves)))))

        return append

    def _sign(self, now: int) -> Callable[[Connection], _Written]:
        def sign(db: Connection) -> _Written:
            self._resync(db.conn)
            self._suspect = True  # until `_committed` says otherwise
            checkpoint = sign_checkpoint(self.origin, self.tree.size, self.tree.root(), now, [self.key])
            self._store_checkpoint(db.conn, checkpoint, self.tree, new_state=False)
            return _Written(self.tree, checkpoint, [])

        return sign

    def _committed(self, written: _Written) -> None:
        """On the writer thread, once the write's transaction committed: what is on disk, the writer now knows."""
        self.tree, self.latest = written.tree, written.checkpoint
        self._suspect = False

    def _store_checkpoint(
        self, conn: sqlite3.Connection, checkpoint: Checkpoint, tree: CompactRange, new_state: bool
    ) -> None:
        conn.execute(
            "INSERT INTO checkpoints (size, time_s, note) VALUES (?, ?, ?)",
            (checkpoint.size, checkpoint.time, checkpoint.note),
        )
        if new_state:
            conn.execute(
                "INSERT INTO state (id, origin, size, compact, vkey) VALUES (1, ?, ?, ?, ?)",
                (self.origin, tree.size, tree.to_bytes(), str(self.key.verifier)),
            )
        else:
            conn.execute(
                "UPDATE state SET size = ?, compact = ?, vkey = ? WHERE id = 1",
                (tree.size, tree.to_bytes(), str(self.key.verifier)),
            )

    def _resync(self, conn: sqlite3.Connection) -> None:
        """After a failed write, take the tree from the file: SQLite may have kept a commit that reported an error."""
        if not self._suspect:
            return
        row = conn.execute("SELECT size, compact, vkey FROM state").fetchone()
        if row is None or row[2] != str(self.key.verifier):
            raise AuditDamaged(f"{self.path}: the log's state changed under the hub; {restore_advice(self.folder)}")
        self.tree, self.latest = _stored_tree(self.folder, conn, self.key.verifier, row[0], row[1])
        self._suspect = False

    def close(self) -> None:
        """Close the database after the writes already queued; blocking."""
        self.db.close()


def _refuse_second_log(folder: Path) -> None:
    """A key without a log is a log that was lost: never start another under its key (nor touch the file)."""
    if (folder / KEY_NAME).exists():
        raise AuditDamaged(
            f"{folder / KEY_NAME}: a signing key exists but {folder / DB_NAME} holds no log; refusing "
            f"to start a second log under an old key; {restore_advice(folder)}"
        )


def _stored_log(folder: Path, hub_id: str | None) -> _StoredLog | None:
    """The log in `folder`, checked read-only; None when there is none yet (and no key says there was)."""
    path = folder / DB_NAME
    if not path.exists() or path.stat().st_size == 0:
        _refuse_second_log(folder)  # before SQLite writes a header into what is left
        return None
    conn = connect(path, readonly=True)
    try:
        has_state = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'state'").fetchone()
        row = conn.execute("SELECT origin, size, compact, vkey FROM state").fetchone() if has_state else None
        if row is None:
            _refuse_second_log(folder)
            return None
        return _resume(folder, conn, hub_id, row)
    finally:
        conn.close()


def _resume(folder: Path, conn: sqlite3.Connection, hub_id: str | None, row: tuple[str, int, bytes, str]) -> _StoredLog:
    origin, size, compact, vkey_text = row
    if hub_id is not None and origin != f"camhub/{hub_id}":
        raise AuditError(f"{folder / DB_NAME}: the log belongs to {origin}, not camhub/{hub_id}")
    key_path, next_path = folder / KEY_NAME, folder / NEXT_KEY_NAME
    if next_path.exists():  # a creation stopped between its commit and the rename: finish or undo it
        pending = load_signing_key(next_path)
        if str(pending.verifier) == vkey_text:
            next_path.replace(key_path)
            fsync_dir(folder)
        else:
            next_path.unlink()
    if not key_path.exists():
        raise AuditError(
            f"{key_path}: the signing key is missing, so the log cannot be extended; the hub does "
            f"not make a new one for an old log. Restore signing.key from a backup of {folder} "
            f"(`camhub audit verify --data {folder.parent}` checks the log without it)"
        )
    key = load_signing_key(key_path)
    if str(key.verifier) != vkey_text:
        raise AuditError(
            f"{key_path}: holds key {key.verifier.id.hex()} but the log is signed by "
            f"{VerifierKey.parse(vkey_text).id.hex()}; the key file was swapped"
        )
    tree, latest = _stored_tree(folder, conn, key.verifier, size, compact)
    return _StoredLog(origin, key, tree, latest)


def _stored_tree(
    folder: Path, conn: sqlite3.Connection, key: VerifierKey, size: int, compact: bytes
) -> tuple[CompactRange, Checkpoint]:
    """The stored tree's right edge and its last checkpoint, checked against each other."""
    db = folder / DB_NAME
    last = conn.execute("SELECT max(idx) FROM entries").fetchone()[0]
    stored = 0 if last is None else last + 1
    if stored != size:
        raise AuditDamaged(
            f"{db}: the log's state says {size} entries but {stored} are stored; {restore_advice(folder)}"
        )
    try:
        tree = CompactRange.from_bytes(size, compact)
    except ValueError as exc:
        raise AuditDamaged(f"{db}: the stored tree edge is wrong ({exc}); {restore_advice(folder)}") from None
    note = conn.execute("SELECT note FROM checkpoints ORDER BY id DESC LIMIT 1").fetchone()
    if note is None:
        raise AuditDamaged(f"{db}: no checkpoint stored; {restore_advice(folder)}")
    latest = verify_checkpoint(note[0], key, f"{db}: latest checkpoint")
    # Never sign anything that does not extend the last signed tree.
    if latest.size != size or latest.root != tree.root():
        raise AuditDamaged(
            f"{db}: the stored tree (size {size}) does not match the last signed checkpoint "
            f"(size {latest.size}); {restore_advice(folder)}"
        )
    return tree, latest
