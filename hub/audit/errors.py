"""The audit log's errors: one subclass of `HubError` for the log itself, one
for a failed verification (naming the first bad entry or checkpoint), one for
a log that cannot be written now (503: nothing audited may happen) and one
for a damaged file; `storage_error` sorts SQLite's and the OS's errors into
the last two with a message naming the file and the next step.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from camhub.errors import HubError

# SQLite result codes of a log that cannot be written or read *now* (space, permissions, locks,
# the device); any other SQLite error means the file is not the database the hub wrote.
_UNAVAILABLE = (
    "SQLITE_FULL",
    "SQLITE_IOERR",
    "SQLITE_READONLY",
    "SQLITE_BUSY",
    "SQLITE_LOCKED",
    "SQLITE_CANTOPEN",
    "SQLITE_PERM",
    "SQLITE_NOMEM",
    "SQLITE_AUTH",
)


class AuditError(HubError):
    """The audit log cannot be opened, written or read as asked."""

    key = "audit_error"
    status = 500


class VerificationFailed(AuditError):
    """The log, a checkpoint or a proof does not verify.

    `entry` is the index of the first bad entry when one can be named, else
    None (a bad checkpoint or proof names itself in the message).
    """

    key = "audit_verification_failed"
    status = 409

    def __init__(self, message: str, entry: int | None = None) -> None:
        super().__init__(message)
        self.entry = entry


class AuditUnavailable(AuditError):
    """The log cannot be written now (disk full, I/O error, read-only, locked).

    Whatever needed the entry was not done. `reason` is the short cause
    (SQLite's or the OS's words), without paths: /api/health shows it.
    """

    key = "audit_unavailable"
    status = 503

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class AuditDamaged(AuditError):
    """A file of the log is not what the hub wrote: corrupt, truncated, not a database."""

    key = "audit_damaged"


def restore_advice(folder: Path) -> str:
    """The next step for a damaged log: it is never rebuilt, only restored and verified."""
    return (
        f"the audit log is never rebuilt or deleted: stop the hub, restore {folder} (log.db and signing.key) "
        f"from a backup, then run `camhub audit verify --data {folder.parent}`"
    )


def storage_error(path: Path, exc: sqlite3.Error | OSError, writing: bool = True, public: bool = False) -> AuditError:
    """The AuditError for a SQLite or OS error on `path` (a file under `<data>/audit/`).

    `public`: the message goes to whoever's request was refused, so it names the
    file relative to the data folder only (the hub's own log line names it whole).
    """
    if isinstance(exc, sqlite3.Error):
        reason = str(exc)
        if not getattr(exc, "sqlite_errorname", "").startswith(_UNAVAILABLE):
            return AuditDamaged(f"{path}: damaged ({reason}); {restore_advice(path.parent)}")
    else:
        reason = exc.strerror or str(exc)
    if writing:
        shown = f"{path.parent.name}/{path.name} in the data folder" if public else str(path)
        return AuditUnavailable(
            f"the audit log ({shown}) cannot be written: {reason}; nothing that needs an audit entry is done "
            "until it can. Free space on the data folder's disk, or fix the audit folder's permissions or "
            "whatever holds it locked; the running hub retries at the next action and every few seconds "
            "(see /api/health)",
            reason,
        )
    return AuditUnavailable(
        f"{path}: cannot be read: {reason}; check the file's permissions and that no other program holds it locked",
        reason,
    )
