"""The audit log's SQLite file: schema, the writer's batch commit, proof reads.

Files under `<data_dir>/audit/`: `log.db` (this schema, WAL,
synchronous=FULL, so a commit is on disk when it returns) and `signing.key`
(mode 0600, outside the database so a copy of the database never carries
the key). `LogWriter` lives on one writer thread and `LogReader` on one
reader thread; neither is thread-safe and neither touches the event loop.

Every SQLite or OS error leaves here as an `AuditError` naming the file:
`AuditUnavailable` when the log cannot be written now (a batch that fails is
rolled back whole, and its checkpoint, signed in memory, is never stored, so
no checkpoint covers an entry that is not durable), `AuditDamaged` when a
file is not what the hub wrote. After a failed write the writer re-reads the
stored tree before the next one, so it always extends what is on disk.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from camhub.audit.canonical import encode_entry
from camhub.audit.errors import (
    AuditDamaged,
    AuditError,
    restore_advice,
    storage_error,
)
from camhub.audit.events import AuditEvent, KeyRotated, LogCreated
from camhub.audit.merkle import (
    CompactRange,
    leaf_hash,
    node_hash,
    root_of,
    split_point,
)
from camhub.audit.note import (
    Checkpoint,
    SigningKey,
    VerifierKey,
    load_signing_key,
    sign_checkpoint,
    verify_checkpoint,
    write_private,
)
from camhub.durable import fsync_dir

DB_NAME = "log.db"
KEY_NAME = "signing.key"
NEXT_KEY_NAME = "signing.key.next"
# Complete subtrees of 2**8 leaves and up are stored, so a proof reads at
# most a few hundred leaf hashes per hash it contains.
SUBTREE_LEVEL = 8
SCHEMA_VERSION = 1

SCHEMA = """
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


@contextmanager
def storage(path: Path, writing: bool, public: bool = False) -> Iterator[None]:
    """Turn SQLite's and the OS's errors on `path` into AuditErrors that name it."""
    try:
        yield
    except (sqlite3.Error, OSError) as exc:
        raise storage_error(path, exc, writing, public) from exc


def connect(path: Path, readonly: bool = False) -> sqlite3.Connection:
    if readonly and not path.exists():
        raise AuditError(f"{path}: no audit log here")
    with storage(path, writing=not readonly):
        if readonly:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
        else:
            conn = sqlite3.connect(path, isolation_level=None)
        try:
            conn.execute("PRAGMA busy_timeout=5000")
            if not readonly:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")  # in WAL: fsync the log on every commit
            conn.execute(
                "SELECT count(*) FROM sqlite_master"
            ).fetchone()  # reads the header: a damaged file says so here
        except BaseException:
            conn.close()
            raise
    return conn


def _rollback(conn: sqlite3.Connection) -> None:
    # SQLite may already have rolled back (disk full, I/O error); a second ROLLBACK
    # would then raise and hide the error that matters.
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass


def _refuse_second_log(folder: Path) -> None:
    """A key without a log is a log that was lost: never start another under its key (nor touch the file)."""
    if (folder / KEY_NAME).exists():
        raise AuditDamaged(
            f"{folder / KEY_NAME}: a signing key exists but {folder / DB_NAME} holds no log; refusing "
            f"to start a second log under an old key; {restore_advice(folder)}"
        )


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


@dataclass(frozen=True)
class Receipt:
    """What `AuditLog.append` returns: the entry is durable and covered by `checkpoint`."""

    index: int
    leaf_hash: bytes
    checkpoint: Checkpoint


class LogWriter:
    """The one writer: appends batches, signs checkpoints, rotates the key."""

    def __init__(
        self,
        folder: Path,
        conn: sqlite3.Connection,
        key: SigningKey,
        origin: str,
        tree: CompactRange,
        latest: Checkpoint,
    ) -> None:
        self.folder = folder
        self.conn = conn
        self.key = key
        self.origin = origin
        self.tree = tree
        self.latest = latest
        self._suspect = False  # a write failed: re-read the tree before the next one

    @classmethod
    def open(cls, folder: Path, hub_id: str | None, now: int) -> LogWriter:
        with storage(folder, writing=True):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not (folder / DB_NAME).exists() or (folder / DB_NAME).stat().st_size == 0:
                _refuse_second_log(folder)  # before SQLite writes a header into what is left
        conn = connect(folder / DB_NAME)
        try:
            with storage(folder / DB_NAME, writing=True):
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                if version > SCHEMA_VERSION:
                    raise AuditError(f"{folder / DB_NAME}: schema version {version} is newer than this camhub knows")
                if version < SCHEMA_VERSION:  # a write; an existing log needs none to be opened
                    _refuse_second_log(folder)
                    conn.executescript(SCHEMA)
                    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                row = conn.execute("SELECT origin, size, compact, vkey FROM state").fetchone()
                if row is None:
                    return cls._create(folder, conn, hub_id, now)
                return cls._resume(folder, conn, hub_id, row)
        except BaseException:
            conn.close()
            raise

    @classmethod
    def _create(cls, folder: Path, conn: sqlite3.Connection, hub_id: str | None, now: int) -> LogWriter:
        import re
        import secrets

        if hub_id is not None and not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", hub_id):
            raise AuditError(f"hub id {hub_id!r}: use 1 to 64 letters, digits, '.', '_' or '-'")
        origin = f"camhub/{hub_id or secrets.token_hex(6)}"
        key_path = folder / KEY_NAME
        _refuse_second_log(folder)
        # The key becomes signing.key only once the genesis entry is durable, so a
        # crash in between leaves no key that could sign a second, unrelated tree.
        next_path = folder / NEXT_KEY_NAME
        key = SigningKey.generate(origin)
        with storage(next_path, writing=True):
            write_private(next_path, key.to_text())
        empty = sign_checkpoint(origin, 0, root_of([]), now, [key])
        writer = cls(folder, conn, key, origin, CompactRange(), empty)
        genesis = LogCreated(time=now, actor="hub", origin=origin, key=str(key.verifier))
        writer.commit([genesis], now, new_state=True)
        with storage(key_path, writing=True):
            next_path.replace(key_path)
            fsync_dir(folder)
        return writer

    @classmethod
    def _resume(
        cls, folder: Path, conn: sqlite3.Connection, hub_id: str | None, row: tuple[str, int, bytes, str]
    ) -> LogWriter:
        origin, size, compact, vkey_text = row
        if hub_id is not None and origin != f"camhub/{hub_id}":
            raise AuditError(f"{folder / DB_NAME}: the log belongs to {origin}, not camhub/{hub_id}")
        key_path, next_path = folder / KEY_NAME, folder / NEXT_KEY_NAME
        if next_path.exists():  # a rotation stopped between commit and rename: finish or undo it
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
        return cls(folder, conn, key, origin, tree, latest)

    def commit(
        self, events: list[AuditEvent], now: int, new_state: bool = False, extra_signers: tuple[SigningKey, ...] = ()
    ) -> list[Receipt]:
        """Append events and a checkpoint over them in one durable transaction.

        Raises AuditUnavailable (the whole batch rolled back) when it cannot be written.
        """
        with storage(self.folder / DB_NAME, writing=True, public=True):
            self._resync()
            return self._commit(events, now, new_state, extra_signers)

    def _commit(
        self, events: list[AuditEvent], now: int, new_state: bool, extra_signers: tuple[SigningKey, ...]
    ) -> list[Receipt]:
        saved = CompactRange(self.tree.size, self.tree.hashes)
        entries, subtrees = [], []
        try:
            for event in events:
                index = self.tree.size
                data = encode_entry(index, round(event.time * 1000), event.actor, event.name, event.fields())
                h = leaf_hash(data)
                entries.append((index, data, h))
                subtrees += [s for s in self.tree.append(h) if s[0] >= SUBTREE_LEVEL]
            keys = [self.key, *extra_signers]
            checkpoint = sign_checkpoint(self.origin, self.tree.size, self.tree.root(), now, keys)
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                self.conn.executemany("INSERT INTO entries (idx, entry, leaf_hash) VALUES (?, ?, ?)", entries)
                self.conn.executemany("INSERT INTO subtrees (level, idx, hash) VALUES (?, ?, ?)", subtrees)
                self._store_checkpoint(checkpoint, new_state, str(keys[-1].verifier))
                self.conn.execute("COMMIT")
            except BaseException:
                _rollback(self.conn)
                raise
        except BaseException:
            self.tree = saved
            self._suspect = True
            raise
        self.latest = checkpoint
        return [Receipt(index, h, checkpoint) for index, _, h in entries]

    def _store_checkpoint(self, checkpoint: Checkpoint, new_state: bool, vkey: str) -> None:
        self.conn.execute(
            "INSERT INTO checkpoints (size, time_s, note) VALUES (?, ?, ?)",
            (checkpoint.size, checkpoint.time, checkpoint.note),
        )
        if new_state:
            self.conn.execute(
                "INSERT INTO state (id, origin, size, compact, vkey) VALUES (1, ?, ?, ?, ?)",
                (self.origin, self.tree.size, self.tree.to_bytes(), vkey),
            )
        else:
            self.conn.execute(
                "UPDATE state SET size = ?, compact = ?, vkey = ? WHERE id = 1",
                (self.tree.size, self.tree.to_bytes(), vkey),
            )

    def sign_now(self, now: int) -> Checkpoint:
        """A fresh checkpoint of the unchanged tree (the periodic one, and the probe of a log that failed)."""
        with storage(self.folder / DB_NAME, writing=True, public=True):
            self._resync()
            checkpoint = sign_checkpoint(self.origin, self.tree.size, self.tree.root(), now, [self.key])
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                self._store_checkpoint(checkpoint, False, str(self.key.verifier))
                self.conn.execute("COMMIT")
            except BaseException:
                _rollback(self.conn)
                self._suspect = True
                raise
        self.latest = checkpoint
        return checkpoint

    def _resync(self) -> None:
        """After a failed write, take the tree from the file: SQLite may have kept a commit that reported an error."""
        if not self._suspect:
            return
        row = self.conn.execute("SELECT size, compact, vkey FROM state").fetchone()
        if row is None or row[2] != str(self.key.verifier):
            raise AuditDamaged(
                f"{self.folder / DB_NAME}: the log's state changed under the hub; {restore_advice(self.folder)}"
            )
        self.tree, self.latest = _stored_tree(self.folder, self.conn, self.key.verifier, row[0], row[1])
        self._suspect = False

    def rotate(self, actor: str, reason: str, now: int) -> Receipt:
        """Replace the signing key; the rotation's checkpoint is signed by the old and the new key."""
        new = SigningKey.generate(self.origin)
        next_path = self.folder / NEXT_KEY_NAME
        with storage(next_path, writing=True):
            write_private(next_path, new.to_text())
        event = KeyRotated(
            time=now, actor=actor, old_key=str(self.key.verifier), new_key=str(new.verifier), reason=reason
        )
        try:
            (receipt,) = self.commit([event], now, extra_signers=(new,))
        except BaseException:
            next_path.unlink(missing_ok=True)
            raise
        with storage(self.folder / KEY_NAME, writing=True):
            next_path.replace(self.folder / KEY_NAME)
            fsync_dir(self.folder)
        self.key = new
        return receipt

    def close(self) -> None:
        self.conn.close()


class LogReader:
    """Read-only access for proofs: its own connection, on its own thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn = connect(path, readonly=True)

    def _all(self, sql: str, args: tuple[object, ...] = ()) -> list[Any]:
        """Run a read; a damaged or unreadable file raises an AuditError naming it."""
        with storage(self.path, writing=False):
            return self.conn.execute(sql, args).fetchall()

    def _one(self, sql: str, args: tuple[object, ...] = ()) -> Any:
        rows = self._all(sql, args)
        return rows[0] if rows else None

    def leaf_hashes(self, start: int, end: int) -> list[bytes]:
        rows = self._all("SELECT idx, leaf_hash FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx", (start, end))
        if len(rows) != end - start:
            have = {r[0] for r in rows}
            missing = next(i for i in range(start, end) if i not in have)
            raise AuditError(f"{self.path}: entry {missing} is missing")
        return [r[1] for r in rows]

    def range_hash(self, start: int, end: int) -> bytes:
        """MTH of leaves [start, end), from stored subtrees where it can."""
        n = end - start
        if n & (n - 1) == 0 and start % n == 0:
            level = n.bit_length() - 1
            if level < SUBTREE_LEVEL:
                return root_of(self.leaf_hashes(start, end))
            row = self._one("SELECT hash FROM subtrees WHERE level = ? AND idx = ?", (level, start >> level))
            if row is not None:
                return bytes(row[0])
            half = n // 2
            return node_hash(self.range_hash(start, start + half), self.range_hash(start + half, end))
        k = split_point(n)
        return node_hash(self.range_hash(start, start + k), self.range_hash(start + k, end))

    def entry(self, index: int) -> bytes:
        row = self._one("SELECT entry FROM entries WHERE idx = ?", (index,))
        if row is None:
            raise AuditError(f"{self.path}: no entry {index}")
        return bytes(row[0])

    def size(self) -> int:
        last = self._one("SELECT max(idx) FROM entries")[0]
        return 0 if last is None else last + 1

    def latest_note(self) -> str:
        row = self._one("SELECT note FROM checkpoints ORDER BY id DESC LIMIT 1")
        if row is None:
            raise AuditError(f"{self.path}: no checkpoint stored")
        return str(row[0])

    def active_key(self) -> str:
        """The verifier key the log's state names as active."""
        row = self._one("SELECT vkey FROM state")
        if row is None:
            raise AuditError(f"{self.path}: no log state")
        return str(row[0])

    def close(self) -> None:
        self.conn.close()
