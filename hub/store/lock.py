"""Who is using a data folder: one hub, or one `camhub check --repair`, at a time.

The holder keeps an exclusive `fcntl.flock` on `<data_dir>/hub.lock` for as
long as it runs. The OS drops the lock when the process ends, however it
ends, so a crashed hub never leaves a stale lock; the pid and the command
written into the file are only there for the message. The file itself is
never deleted: unlinking a lock file lets two processes lock two different
files of the same name.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from camhub.store.db import StoreError

LOCK_FILE = "hub.lock"


class DataFolderBusy(StoreError):
    key = "data_folder_busy"


def _holder_text(fd: int) -> str:
    os.lseek(fd, 0, os.SEEK_SET)
    return os.read(fd, 200).decode("utf-8", "replace").strip() or "an unknown process"


def holder(data_dir: Path) -> str | None:
    """Who holds the data folder ("the hub (pid 123)"), or None if nobody does."""
    path = data_dir / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _holder_text(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


class DataFolderLock:
    """`lock = DataFolderLock.acquire(data_dir, "the hub")`; `lock.release()` when done."""

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, data_dir: Path, command: str) -> DataFolderLock:
        path = data_dir / LOCK_FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            who = _holder_text(fd)
            os.close(fd)
            raise DataFolderBusy(
                f"{data_dir} is in use by {who}; stop it first (only one hub or repair may use a data folder)"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{command} (pid {os.getpid()})\n".encode(), 0)
        return cls(fd)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None
