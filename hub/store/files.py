"""Where clip files live, and the durable way to put them there.

Layout under the data folder: `clips/<camera>/<YYYY-MM-DD>/<name>.mp4`, with
`<name>.jpg` (peak-motion snapshot) and `<name>.thumb.jpg` beside it. The
name carries the camera and the UTC start, so a file can be indexed again
from its name alone; its nonce makes the name unique, and the clip's id is
a hash of the name (`clip_id_of`), so a rebuilt index gives every clip the
id it had. A clip being written is `<name>.mp4.partial`.

The order of operations is Moonfire NVR's (the file steps are in
`camhub.durable`): write under a temporary name, fsync the file, rename, fsync
the directory, and only then insert the row. Deleting marks the row garbage
first, unlinks, fsyncs, then removes the row.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from camhub.durable import TMP_SUFFIX

log = logging.getLogger(__name__)

CLIPS_DIR = "clips"
PARTIAL = TMP_SUFFIX
# <camera>_<YYYYmmddTHHMMSS.mmmZ>_<nonce>.mp4
_NAME = re.compile(r"^(?P<camera>[a-z0-9][a-z0-9_-]*)_(?P<start>\d{8}T\d{6}\.\d{3}Z)_(?P<nonce>[0-9a-f]{6})\.mp4$")

# Ids derived from a file name lie in [2**52, 2**53): above every id an older hub numbered 1, 2, 3...
# (those are kept, see camhub.store.legacy_ids.LEGACY_IDS_FILE), and exact in every JSON reader.
DERIVED_ID_BASE = 2**52


@dataclass(frozen=True)
class ClipName:
    camera: str
    start_time: float  # Unix seconds, UTC, to the millisecond

    def __str__(self) -> str:
        stamp = datetime.fromtimestamp(self.start_time, UTC).strftime("%Y%m%dT%H%M%S.%f")[:-3] + "Z"
        nonce = hashlib.sha256(f"{self.camera}{self.start_time}{time.monotonic_ns()}".encode()).hexdigest()[:6]
        return f"{self.camera}_{stamp}_{nonce}.mp4"

    @staticmethod
    def parse(filename: str) -> ClipName | None:
        match = _NAME.match(filename.removesuffix(PARTIAL))
        if match is None:
            return None
        start = datetime.strptime(match["start"], "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=UTC).timestamp()
        return ClipName(match["camera"], start)


def clip_id_of(filename: str) -> int:
    """The id of the clip in file `filename`: 2**52 plus 52 bits of the SHA-256 of its name."""
    stem = filename.removesuffix(PARTIAL).removesuffix(".mp4")
    return DERIVED_ID_BASE | int(hashlib.sha256(stem.encode()).hexdigest()[:13], 16)


def clip_path(data_dir: Path, camera: str, start_time: float) -> Path:
    """A fresh relative path for a clip of `camera` starting at `start_time`."""
    day = datetime.fromtimestamp(start_time, UTC).strftime("%Y-%m-%d")
    return Path(CLIPS_DIR) / camera / day / str(ClipName(camera, start_time))


def sha256_of(path: Path) -> str:
    # file_digest reads into one reused buffer: a new 1 MB bytes object a read was fresh pages to fault in each
    # time, a third of a clip's hashing (docs/decisions.md, 2026-12-02).
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def release_cached(path: Path) -> None:
    """Let the kernel drop a finished clip's pages from its cache: it is fsynced and hashed, so they are clean.

    Nothing reads a clip again soon (a viewer who plays it reads it from disk), and a day of clips kept in the
    page cache pushes out what is read (the index, the dashboard). Its pages freed now are also the pages the
    next clip is written into (docs/decisions.md, 2026-12-02). Best effort: a filesystem that keeps its pages
    (tmpfs) or a platform without fadvise changes nothing.
    """
    if not hasattr(os, "posix_fadvise"):
        return
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
    except OSError as exc:
        log.debug("could not release the cached pages of %s: %s", path.name, exc)


def sidecars(clip: Path) -> tuple[Path, Path]:
    """The snapshot and thumbnail paths that belong to a clip path."""
    stem = clip.name.removesuffix(PARTIAL).removesuffix(".mp4")
    return clip.with_name(stem + ".jpg"), clip.with_name(stem + ".thumb.jpg")
