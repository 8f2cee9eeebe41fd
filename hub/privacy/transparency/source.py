"""Where the transparency report's entries come from: the audit log's SQLite file, read-only.

`report_for_dir` reads a data folder's log (also while the hub runs: under
WAL one SELECT sees one consistent snapshot), for `camhub transparency`;
`report_for_log` reads an open `AuditLog` up to its latest checkpoint, on a
worker thread, for /api/transparency. Both hand the entries, in index
order, to the pure tally (`camhub.privacy.transparency.build_report`).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from camhub.audit.log import AUDIT_FOLDER, AuditLog
from camhub.audit.store import DB_NAME, connect
from camhub.privacy.transparency.tally import Report, build_report


def report_for_dir(data_dir: Path, now_s: int) -> Report:
    """The report of `<data_dir>/audit/log.db`; AuditError naming the path if there is no log."""
    return _report_from_db(Path(data_dir) / AUDIT_FOLDER / DB_NAME, now_s)


async def report_for_log(log: AuditLog, now_s: int) -> Report:
    """The report of an open log, up to its latest checkpoint, read on a worker thread."""
    return await asyncio.to_thread(_report_from_db, log.folder / DB_NAME, now_s, log.size)


def _report_from_db(db: Path, now_s: int, limit: int | None = None) -> Report:
    # Read-only and in one SELECT: under WAL it sees one consistent snapshot while the hub writes.
    conn = connect(db, readonly=True)
    try:
        return build_report(_rows(conn, limit), now_s)
    finally:
        conn.close()


def _rows(conn: sqlite3.Connection, limit: int | None) -> Iterator[tuple[int, bytes]]:
    rows = conn.execute(
        "SELECT idx, entry FROM entries WHERE idx < ? ORDER BY idx", (limit if limit is not None else 2**63 - 1,)
    )
    while batch := rows.fetchmany(4096):
        for index, data in batch:
            yield index, bytes(data)
