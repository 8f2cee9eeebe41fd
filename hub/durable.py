"""Crash-safe file operations, shared by the clip store and the audit log.

A file that must survive a power cut is written under a temporary name,
fsynced, renamed into place, and its directory fsynced; only then does the
new name exist for certain. Deleting fsyncs the directory too. The hub's
HMAC keys (share links, typed login names) are made this way on first use
(`secret_key`).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from camhub.errors import HubError

TMP_SUFFIX = ".partial"
KEY_BYTES = 32  # an HMAC-SHA-256 key


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def durable_rename(src: Path, dst: Path) -> None:
    """fsync `src`, rename it to `dst`, fsync the directory: after this the new name survives a crash."""
    fsync_file(src)
    os.replace(src, dst)
    fsync_dir(dst.parent)


def write_durably(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write a small file whole or not at all: temporary name, fsync, rename, fsync the directory.

    `mode` applies from the first byte (a private key is never readable by others, even briefly).
    """
    tmp = path.with_name(path.name + TMP_SUFFIX)
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()  # a stale temporary may carry another mode
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def unlink_durably(paths: list[Path]) -> None:
    """Remove files (absent ones are fine) and fsync their directories."""
    dirs = set()
    for path in paths:
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        dirs.add(path.parent)
    for directory in dirs:
        fsync_dir(directory)


def secret_key(path: Path, what: str, if_wrong: str) -> bytes:
    """The `KEY_BYTES` random key in `path`, made (mode 0600, its folder 0700) on first use.

    A file of another size raises, naming `what` it should hold and `if_wrong`, the next step.
    """
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_durably(path, secrets.token_bytes(KEY_BYTES), mode=0o600)
    key = path.read_bytes()
    if len(key) != KEY_BYTES:
        raise HubError(f"{path}: {what} is {KEY_BYTES} bytes, this file has {len(key)}; {if_wrong}")
    return key
