"""The audit log's files, how they are opened, and the reads that proofs need.

Files under `<data_dir>/audit/`: `log.db` (the tables of `camhub.audit.schema`,
opened like every camhub database through `camhub.store.db`: WAL,
synchronous=FULL, so a commit is on disk when it returns) and `signing.key`
(mode 0600, outside the database so a copy of the database never carries
the key). The one writer is `camhub.audit.writer.LogWriter`; `LogReader`
reads for proofs, on the database's reader thread or on a read-only
connection of its own (the command line, a witness).

Every SQLite or OS error leaves here as an `AuditError` naming the file
(`storage`): `AuditUnavailable` when the log cannot be written or read now,
`AuditDamaged` when a file is not what the hub wrote.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from camhub.audit.errors import AuditError, storage_error
from camhub.audit.merkle import node_hash, root_of, split_point
from camhub.store import db as store_db

DB_NAME = "log.db"
KEY_NAME = "signing.key"
NEXT_KEY_NAME = "signing.key.next"
# Complete subtrees of 2**8 leaves and up are stored, so a proof reads at
# most a few hundred leaf hashes per hash it contains.
SUBTREE_LEVEL = 8
# An audited action waits this long for a lock another process holds on log.db, then is refused (503).
BUSY_TIMEOUT_S = 5.0


@contextmanager
def storage(path: Path, writing: bool, public: bool = False) -> Iterator[None]:
    """Turn SQLite's and the OS's errors on `path` into AuditErrors that name it."""
    try:
        yield
    except (sqlite3.Error, OSError) as exc:
        raise storage_error(path, exc, writing, public) from exc


def connect(path: Path, readonly: bool = False) -> sqlite3.Connection:
    """A connection to log.db with the hub's settings; a missing or damaged file is named here."""
    if readonly and not path.exists():
        raise AuditError(f"{path}: no audit log here")
    with storage(path, writing=not readonly):
        db = store_db.connect(path, readonly=readonly, busy_timeout_s=BUSY_TIMEOUT_S)
        try:
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()  # reads the header: a damaged file says so
        except BaseException:
            db.close()
            raise
    return db.conn


class LogReader:
    """Reads for proofs over one connection; not thread-safe, so it stays on the thread that made it.

    Without `conn` it opens log.db read-only and owns that connection.
    """

    def __init__(self, path: Path, conn: sqlite3.Connection | None = None) -> None:
        self.path = path
        self._owned = conn is None
        self.conn = connect(path, readonly=True) if conn is None else conn

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

    def entries(self, start: int, end: int) -> list[tuple[int, bytes]]:
        """(index, canonical JSON) of the stored entries in [start, end), in index order."""
        rows = self._all("SELECT idx, entry FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx", (start, end))
        return [(int(r[0]), bytes(r[1])) for r in rows]

    def size(self) -> int:
        last = self._one("SELECT max(idx) FROM entries")[0]
        return 0 if last is None else int(last) + 1

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
        """Close the connection if this reader opened it."""
        if self._owned:
            self.conn.close()
