"""Start-up recovery: finish what a crash interrupted, so index and disk agree.

Run before recording starts, with the data folder locked (camhub.store.lock), in this order:
1. rows marked garbage: their deletion was interrupted; unlink the files, drop the rows;
   but a clip a hold now covers, whose file is still there, is kept (its row made ok again);
2. `.partial` clips: cut after the last whole fragment; if a playable clip remains,
   make it durable and index it, else remove it;
3. complete clip files without a row (renamed, then the crash came before the
   insert): index them from their name and contents, with the id their name
   gives (or the id an older hub numbered them, from LEGACY_IDS_FILE). The
   motion zones their event touched were only ever in the index: they are
   unknown now, and the clip is indexed with none.

Recovery reads only what may be unfinished, so a start costs the same at a
thousand clips or a million: the garbage rows come from a partial index,
and steps 2 and 3 read only the day folders (`clips/<camera>/<day>`) whose
mtime differs from the one recorded in `scanned_folders` when recovery last
read them. Every way a clip can be left unfinished (a `.partial` created, a
clip renamed into place, a file unlinked) changes its folder's mtime, so an
unchanged folder holds only clips already indexed: it is not listed, and its
files are neither opened nor stat'ed. A new or rebuilt index has no such
records, and its first start reads every folder; `camhub check --repair`
always does.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import av

from camhub.durable import durable_rename, fsync_file, unlink_durably
from camhub.privacy.scope import Scope
from camhub.store.db import Connection
from camhub.store.files import CLIPS_DIR, PARTIAL, ClipName, sha256_of, sidecars
from camhub.store.index import (
    ClipRecord,
    delete_rows,
    garbage_clips,
    insert_clip,
    mark_ok,
    paths_in_folder,
    scanned_folders,
    set_scanned_folders,
)
from camhub.store.legacy_ids import legacy_ids
from camhub.store.mp4 import complete_length

log = logging.getLogger(__name__)


@dataclass
class RecoveryReport:
    garbage_removed: list[str] = field(default_factory=list)
    partials_kept: list[str] = field(default_factory=list)
    partials_removed: list[str] = field(default_factory=list)
    indexed: list[str] = field(default_factory=list)
    held_kept: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"finished deleting {p}" for p in self.garbage_removed]
        out += [f"kept {p}: its deletion was interrupted, and a hold now covers it" for p in self.held_kept]
        out += [f"kept interrupted clip {p}" for p in self.partials_kept]
        out += [f"removed unplayable interrupted clip {p}" for p in self.partials_removed]
        out += [f"indexed clip file that had no row: {p} (its motion zones are unknown)" for p in self.indexed]
        return out


def probe_clip(path: Path) -> tuple[float, str, int, int] | None:
    """(duration in seconds, codec, width, height) of a readable clip with at least one keyframe."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            first = last = None
            keyframes = 0
            duration = 0
            for packet in container.demux(stream):
                if packet.pts is None or not packet.size:
                    continue
                first = packet.pts if first is None else min(first, packet.pts)
                last = packet.pts if last is None else max(last, packet.pts)
                duration = packet.duration or duration
                keyframes += packet.is_keyframe
            time_base = stream.time_base
            if first is None or last is None or not keyframes or time_base is None:
                return None
            seconds = float((last - first + duration) * time_base)
            ctx = stream.codec_context
            return seconds, ctx.name, ctx.width, ctx.height
    except (av.FFmpegError, OSError, IndexError):
        return None


def holds_over(clip: ClipRecord, held: Sequence[tuple[str, Scope]]) -> list[str]:
    """The ids of the holds, among (hold id, scope) pairs, that keep `clip`."""
    return [hold_id for hold_id, scope in held if scope.overlaps(clip.camera, clip.start_time, clip.end_time)]


def record_from_file(data_dir: Path, path: Path) -> ClipRecord | None:
    name = ClipName.parse(path.name)
    probed = probe_clip(path)
    if name is None or probed is None:
        return None
    duration, codec, width, height = probed
    snapshot, thumbnail = sidecars(path)
    return ClipRecord(
        camera=name.camera,
        start_time=name.start_time,
        end_time=name.start_time + duration,
        duration=duration,
        bytes=path.stat().st_size,
        codec=codec,
        width=width,
        height=height,
        sha256=sha256_of(path),
        path=str(path.relative_to(data_dir)),
        snapshot_path=str(snapshot.relative_to(data_dir)) if snapshot.exists() else None,
        thumbnail_path=str(thumbnail.relative_to(data_dir)) if thumbnail.exists() else None,
    )


# A folder's mtime is recorded only when it is older than the start of the reading by this much: on a
# file system that keeps mtimes to the second (or two, FAT), a change just after the reading could
# otherwise leave the mtime as it was ("racy git"). Such a folder is read again at the next start.
MTIME_GRANULARITY_NS = 2_000_000_000


def day_folders(data_dir: Path) -> dict[str, int]:
    """{clips/<camera>/<day>: mtime in ns} of every day folder: one listing per camera, one stat per day."""
    root = data_dir / CLIPS_DIR
    found: dict[str, int] = {}
    for camera in _subfolders(root):
        for day in _subfolders(camera.path):
            found[f"{CLIPS_DIR}/{camera.name}/{day.name}"] = day.stat().st_mtime_ns
    return found


def _subfolders(folder: str | Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(folder) as entries:
            # A symlink to a folder on another disk is followed, as a glob of the clips would.
            return sorted((e for e in entries if e.is_dir()), key=lambda e: e.name)
    except FileNotFoundError:
        return []


def recover(
    data_dir: Path, db: Connection, held: Sequence[tuple[str, Scope]] = (), every_folder: bool = False
) -> RecoveryReport:
    """Bring index and disk into agreement; `db` is a writable connection. `held`: the holds in force.

    Only what may be unfinished is read: rows marked garbage, and the day folders whose mtime changed
    since recovery last read them (every folder with `every_folder`, as `camhub check --repair` asks).
    A finished clip in an unchanged folder is not listed, opened or stat'ed.
    """
    report = RecoveryReport()
    garbage = garbage_clips(db)
    kept = [c for c in garbage if holds_over(c, held) and (data_dir / c.path).is_file()]
    with db.atomic():
        mark_ok(db, [c.id for c in kept if c.id is not None])
    report.held_kept += [c.path for c in kept]
    garbage = [c for c in garbage if c not in kept]
    for clip in garbage:
        path = data_dir / clip.path
        unlink_durably([path, *sidecars(path)])
        report.garbage_removed.append(clip.path)
    with db.atomic():
        delete_rows(db, [c.id for c in garbage if c.id is not None])

    reading = time.time_ns()  # the file system's clock, which stamps mtimes; not the hub's
    folders = day_folders(data_dir)
    read_before = {} if every_folder else scanned_folders(db)
    changed = [f for f, mtime in folders.items() if read_before.get(f) != mtime]
    for folder in changed:
        names = sorted(os.listdir(data_dir / folder))
        for name in (n for n in names if n.endswith(f".mp4{PARTIAL}")):
            _finish_partial(data_dir / folder / name, f"{folder}/{name}", report)
        for name in (n for n in names if n.endswith(f".jpg{PARTIAL}")):
            unlink_durably([data_dir / folder / name])

    kept_ids = legacy_ids(data_dir)
    for folder in changed:
        indexed = paths_in_folder(db, folder)
        for name in sorted(n for n in os.listdir(data_dir / folder) if n.endswith(".mp4")):
            relative = f"{folder}/{name}"
            if relative not in indexed:
                _index_file(data_dir, db, data_dir / folder / name, kept_ids, report)

    # Read again: recovery itself changed the folders it mended; those are read once more next time.
    after = {f: (data_dir / f).stat().st_mtime_ns for f in changed}
    settled = {f: mtime for f, mtime in after.items() if mtime < reading - MTIME_GRANULARITY_NS}
    if db["scanned_folders"].exists():
        with db.atomic():
            set_scanned_folders(db, settled, [f for f in read_before if f not in folders])
    for line in report.lines():
        log.info("recovery: %s", line)
    return report


def _finish_partial(partial: Path, relative: str, report: RecoveryReport) -> None:
    """Cut an interrupted clip after its last whole fragment and keep it if playable, else remove it."""
    keep = complete_length(partial)
    if keep and probe_clip(partial) is not None:
        with open(partial, "r+b") as f:
            f.truncate(keep)
        fsync_file(partial)
        durable_rename(partial, partial.with_name(partial.name.removesuffix(PARTIAL)))
        report.partials_kept.append(relative.removesuffix(PARTIAL))
    else:
        unlink_durably([partial])
        report.partials_removed.append(relative)


def _index_file(data_dir: Path, db: Connection, path: Path, kept_ids: dict[str, int], report: RecoveryReport) -> None:
    """Index a complete clip file that has no row, with the id its name (or an older hub) gave it."""
    relative = str(path.relative_to(data_dir))
    record = record_from_file(data_dir, path)
    if record is None:
        log.warning("%s: not a clip the hub can read; left in place for `camhub check`", relative)
        return
    if relative in kept_ids:
        record = ClipRecord(**{**record.as_json(), "id": kept_ids[relative]})
    try:
        with db.atomic():
            insert_clip(db, record)
    except sqlite3.IntegrityError:  # its name, hence its id, is another row's: a copy of a clip file?
        log.warning("%s: has the id of a clip already indexed; left in place for `camhub check`", relative)
        return
    report.indexed.append(relative)
