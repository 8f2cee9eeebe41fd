"""SQLite for every database file of the hub: one writer thread, named migrations.

The clip index, privacy.db, accounts.db and the audit log all open through
`Database`, so the event loop never waits on SQLite. Every write runs in the
writer thread inside `BEGIN IMMEDIATE`, one at a time, and its result comes
back to the loop as a future; a write that raises, or whose COMMIT fails, is
rolled back whole. Reads run on a second connection in their own thread; WAL
mode lets them proceed while the writer works. `synchronous=FULL`: in WAL
mode SQLite fsyncs the log at every commit, so a row the hub reported as
written survives a power cut.

Schemas are `sqlite_utils` migrations: named, recorded in the file's
`_sqlite_migrations` table, applied in order when the database opens, never
edited once applied. Rows that say when they were written take the time from
`Connection.clock`, the clock the database was opened with (the hub's).
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Generic, TypeVar

import sqlite_utils
from sqlite_utils.migrations import Migrations

from camhub.clock import Clock
from camhub.errors import HubError

T = TypeVar("T")
# How long a statement waits for another connection's lock before SQLITE_BUSY.
BUSY_TIMEOUT_S = 30.0


class StoreError(HubError):
    key = "store_error"


class Connection(sqlite_utils.Database):
    """One connection to a camhub database, carrying the clock of whoever opened it."""

    def __init__(self, conn: sqlite3.Connection, clock: Clock) -> None:
        super().__init__(conn)
        self.clock = clock


def connect(
    path: Path,
    readonly: bool = False,
    clock: Clock = time.time,
    busy_timeout_s: float = BUSY_TIMEOUT_S,
    cache_kib: int | None = None,
) -> Connection:
    """A connection with the hub's settings (WAL, synchronous=FULL, foreign keys); closed again if they fail.

    `cache_kib`: the most page cache it may keep (SQLite's default is 2,000 KiB).
    """
    if readonly:
        if not path.exists():
            raise StoreError(f"{path}: no such file; is --data the hub's data folder?")
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False, timeout=busy_timeout_s)
    else:
        conn = sqlite3.connect(path, check_same_thread=False, timeout=busy_timeout_s, isolation_level=None)
    try:
        db = Connection(conn, clock)
        if not readonly:
            db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA foreign_keys=ON")
        if cache_kib is not None:
            db.execute(f"PRAGMA cache_size=-{int(cache_kib)}")
    except BaseException:
        conn.close()
        raise
    return db


def rows(db: sqlite_utils.Database, sql: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """Every row of a query, as dicts keyed by column name."""
    return list(db.query(sql, args))


def one(db: sqlite_utils.Database, sql: str, args: Sequence[Any] = ()) -> dict[str, Any] | None:
    """The first row of a query as a dict, or None."""
    return next(iter(db.query(sql, args)), None)


def _rollback(db: Connection) -> None:
    # SQLite may already have rolled back (disk full, I/O error); a second ROLLBACK
    # would then raise and hide the error that matters.
    if db.conn.in_transaction:
        try:
            db.execute("ROLLBACK")
        except sqlite3.Error:
            pass


class _Job(Generic[T]):
    """A function to run on a connection, and what to do once its transaction committed."""

    def __init__(self, work: Callable[[Connection], T], after_commit: Callable[[T], None] | None) -> None:
        self.work = work
        self.after_commit = after_commit
        self.future: Future[T] = Future()


class _Thread:
    """A thread that runs submitted functions against one connection, in order."""

    def __init__(self, name: str, db: Connection, transactional: bool) -> None:
        self.db = db
        self._transactional = transactional
        self._queue: queue.Queue[_Job[Any] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (job := self._queue.get()) is not None:
            if not job.future.set_running_or_notify_cancel():
                continue
            try:
                result = self._transaction(job.work) if self._transactional else job.work(self.db)
                if job.after_commit is not None:
                    job.after_commit(result)
            except BaseException as exc:
                job.future.set_exception(exc)
            else:
                job.future.set_result(result)
        self.db.close()

    def _transaction(self, work: Callable[[Connection], T]) -> T:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            result = work(self.db)
            self.db.execute("COMMIT")
        except BaseException:
            _rollback(self.db)
            raise
        return result

    def submit(self, work: Callable[[Connection], T], after_commit: Callable[[T], None] | None = None) -> Future[T]:
        job = _Job(work, after_commit)
        self._queue.put(job)
        return job.future

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)


class Database:
    """A database file: `await db.write(fn)` and `await db.read(fn)`.

    `clock` is the time rows are stamped with; `busy_timeout_s` how long a
    statement waits for a lock another process holds. With
    `read_only_reader` the reader's connection opens the file read-only; as
    it closes last, SQLite then leaves the WAL and its index (`-wal`, `-shm`)
    in place instead of folding them into the file, so the next open needs no
    new disk space: the audit log opens on a full disk, and only its writes
    fail. `cache_kib`: each connection's page cache, at most. `stop_before`: a
    migration left pending this time, with those after it.
    """

    def __init__(
        self,
        path: Path,
        migrations: Migrations,
        clock: Clock = time.time,
        busy_timeout_s: float = BUSY_TIMEOUT_S,
        read_only_reader: bool = False,
        cache_kib: int | None = None,
        stop_before: str | None = None,
    ) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        writer = connect(path, clock=clock, busy_timeout_s=busy_timeout_s, cache_kib=cache_kib)
        try:
            migrations.apply(writer, stop_before=stop_before)
            reader = connect(path, read_only_reader, clock, busy_timeout_s, cache_kib)
        except BaseException:
            writer.close()
            raise
        self._writer = _Thread(f"sqlite-writer:{path.name}", writer, transactional=True)
        self._reader = _Thread(f"sqlite-reader:{path.name}", reader, transactional=False)

    async def write(self, work: Callable[[Connection], T], after_commit: Callable[[T], None] | None = None) -> T:
        """Run `work(db)` in the writer thread inside one IMMEDIATE transaction.

        `after_commit(result)` runs in the writer thread once the transaction
        committed, before the next write starts: for an owner that keeps state
        in memory which must match the file (the audit log's tree).
        """
        return await asyncio.wrap_future(self._writer.submit(work, after_commit))

    async def read(self, work: Callable[[Connection], T]) -> T:
        return await asyncio.wrap_future(self._reader.submit(work))

    def write_blocking(self, work: Callable[[Connection], T], after_commit: Callable[[T], None] | None = None) -> T:
        """For threads other than the event loop's (a clip finisher, the CLI, opening the audit log)."""
        return self._writer.submit(work, after_commit).result()

    def close(self) -> None:
        self._writer.close()
        self._reader.close()  # last: see read_only_reader
