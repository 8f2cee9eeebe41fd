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
"""

from __future__ import annotations

import logging
import sqlite3
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
    insert_clip,
    legacy_ids,
    mark_ok,
    query_clips,
)
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


def recover(data_dir: Path, db: Connection, held: Sequence[tuple[str, Scope]] = ()) -> RecoveryReport:
    """Bring index and disk into agreement; `db` is a writable connection. `held`: the holds in force."""
    report = RecoveryReport()
    garbage = [c for c in query_clips(db, include_garbage=True) if c.state == "garbage"]
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
    kept_ids = legacy_ids(data_dir)
    for path in sorted(root.glob("*/*/*.mp4")) if root.exists() else []:
        relative = str(path.relative_to(data_dir))
        if relative in indexed:
            continue
        record = record_from_file(data_dir, path)
        if record is None:
            log.warning("%s: not a clip the hub can read; left in place for `camhub check`", relative)
            continue
        if relative in kept_ids:
            record = ClipRecord(**{**record.as_json(), "id": kept_ids[relative]})
        try:
            with db.atomic():
                insert_clip(db, record)
        except sqlite3.IntegrityError:  # its name, hence its id, is another row's: a copy of a clip file?
            log.warning("%s: has the id of a clip already indexed; left in place for `camhub check`", relative)
            continue
        report.indexed.append(relative)
    for line in report.lines():
        log.info("recovery: %s", line)
    return report
