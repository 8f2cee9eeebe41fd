"""SQLite with one writer thread, so the event loop never waits on SQLite.

Every write runs in the writer thread inside `BEGIN IMMEDIATE`, one at a
time, and its result comes back to the loop as a future. Reads run on a
second connection in their own thread; WAL mode lets them proceed while the
writer works. `synchronous=FULL`: a row the hub reported as written survives
a power cut.
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

import sqlite_utils
from sqlite_utils.migrations import Migrations

from camhub.errors import HubError

T = TypeVar("T")
Work = Callable[[sqlite_utils.Database], Any]


class StoreError(HubError):
    key = "store_error"


def connect(path: Path, readonly: bool = False) -> sqlite_utils.Database:
    if readonly:
        if not path.exists():
            raise StoreError(f"{path}: no index here; is --data the hub's data folder?")
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False, timeout=30)
    else:
        conn = sqlite3.connect(path, check_same_thread=False, timeout=30, isolation_level=None)
    db = sqlite_utils.Database(conn)
    if not readonly:
        db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA foreign_keys=ON")
    return db


def rows(db: sqlite_utils.Database, sql: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """Every row of a query, as dicts keyed by column name."""
    return list(db.query(sql, args))


def one(db: sqlite_utils.Database, sql: str, args: Sequence[Any] = ()) -> dict[str, Any] | None:
    """The first row of a query as a dict, or None."""
    return next(iter(db.query(sql, args)), None)


class _Thread:
    """A thread that runs submitted functions against one connection, in order."""

    def __init__(self, name: str, db: sqlite_utils.Database, transactional: bool) -> None:
        self.db = db
        self._transactional = transactional
        self._queue: queue.Queue[tuple[Work, Future[Any]] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            work, future = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                if self._transactional:
                    self.db.execute("BEGIN IMMEDIATE")
                    try:
                        result = work(self.db)
                    except BaseException:
                        self.db.execute("ROLLBACK")
                        raise
                    self.db.execute("COMMIT")
                else:
                    result = work(self.db)
            except BaseException as exc:
                future.set_exception(exc)
            else:
                future.set_result(result)
        self.db.close()

    def submit(self, work: Work) -> Future[Any]:
        future: Future[Any] = Future()
        self._queue.put((work, future))
        return future

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)


class Database:
    """The index database: `await db.write(fn)` and `await db.read(fn)`."""

    def __init__(self, path: Path, migrations: Migrations) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        writer = connect(path)
        migrations.apply(writer)
        self._writer = _Thread(f"sqlite-writer:{path.name}", writer, transactional=True)
        self._reader = _Thread(f"sqlite-reader:{path.name}", connect(path), transactional=False)

    async def write(self, work: Callable[[sqlite_utils.Database], T]) -> T:
        """Run `work(db)` in the writer thread inside one IMMEDIATE transaction."""
        return await asyncio.wrap_future(self._writer.submit(work))  # type: ignore[no-any-return]

    async def read(self, work: Callable[[sqlite_utils.Database], T]) -> T:
        return await asyncio.wrap_future(self._reader.submit(work))  # type: ignore[no-any-return]

    def write_blocking(self, work: Callable[[sqlite_utils.Database], T]) -> T:
        """For threads other than the event loop's (a clip finisher, the CLI)."""
        return self._writer.submit(work).result()  # type: ignore[no-any-return]

    def close(self) -> None:
        self._writer.close()
        self._reader.close()
