"""Start-up recovery: finish what a crash interrupted, so index and disk agree.

Run before recording starts, in this order:
1. rows marked garbage: their deletion was interrupted; unlink the files, drop the rows;
2. `.partial` clips: cut after the last whole fragment; if a playable clip remains,
   make it durable and index it, else remove it;
3. complete clip files without a row (renamed, then the crash came before the
   insert): index them from their name and contents.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import av
import sqlite_utils

from hub.durable import durable_rename, fsync_file, unlink_durably
from hub.store.files import CLIPS_DIR, PARTIAL, ClipName, sha256_of, sidecars
from hub.store.index import ClipRecord, delete_rows, insert_clip, query_clips
from hub.store.mp4 import complete_length

log = logging.getLogger(__name__)


@dataclass
class RecoveryReport:
    garbage_removed: list[str] = field(default_factory=list)
    partials_kept: list[str] = field(default_factory=list)
    partials_removed: list[str] = field(default_factory=list)
    indexed: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"finished deleting {p}" for p in self.garbage_removed]
        out += [f"kept interrupted clip {p}" for p in self.partials_kept]
        out += [f"removed unplayable interrupted clip {p}" for p in self.partials_removed]
        out += [f"indexed clip file that had no row: {p}" for p in self.indexed]
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
            if first is None or last is None or not keyframes:
                return None
            seconds = float((last - first + duration) * stream.time_base)
            ctx = stream.codec_context
            return seconds, ctx.name, ctx.width, ctx.height
    except (av.FFmpegError, OSError, IndexError):
        return None


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


def recover(data_dir: Path, db: sqlite_utils.Database) -> RecoveryReport:
    """Bring index and disk into agreement; `db` is a writable connection (not in a transaction)."""
    report = RecoveryReport()
    garbage = [c for c in query_clips(db, include_garbage=True) if c.state == "garbage"]
    for clip in garbage:
        path = data_dir / clip.path
        unlink_durably([path, *sidecars(path)])
        report.garbage_removed.append(clip.path)
    with db.atomic():
        delete_rows(db, [c.id for c in garbage if c.id is not None])

    root = data_dir / CLIPS_DIR
    for partial in sorted(root.glob(f"*/*/*.mp4{PARTIAL}")) if root.exists() else []:
        relative = str(partial.relative_to(data_dir))
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
    for leftover in sorted(root.glob(f"*/*/*.jpg{PARTIAL}")) if root.exists() else []:
        unlink_durably([leftover])

    indexed = {c.path for c in query_clips(db, include_garbage=True)}
    for path in sorted(root.glob("*/*/*.mp4")) if root.exists() else []:
        relative = str(path.relative_to(data_dir))
        if relative in indexed:
            continue
        record = record_from_file(data_dir, path)
        if record is None:
            log.warning("%s: not a clip the hub can read; left in place for `camhub check`", relative)
            continue
        with db.atomic():
            insert_clip(db, record)
        report.indexed.append(relative)
    for line in report.lines():
        log.info("recovery: %s", line)
    return report

