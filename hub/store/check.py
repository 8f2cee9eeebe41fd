"""`camhub check`: does the index agree with the disk?

Like Moonfire NVR's `check`: every indexed clip must exist with its recorded
size and SHA-256, and no clip file may be unindexed. While a hub runs (it
holds the data folder's lock, camhub.store.lock), clips still being written
(`.partial`) are its business and are skipped.

`--repair` takes the data folder's lock, so it refuses to run beside a hub
(and no hub starts while it runs), then in this order:
1. a damaged index is moved aside (`index.db.damaged-<UTC time>`), never
   deleted, and an empty one takes its place;
2. start-up recovery, which re-indexes every clip file (with the ids their
   names give) and finishes interrupted deletions;
3. rows whose file is gone or damaged are deleted with their files, each
   written to the audit log first (`clip_deleted`, or `held_clip_deleted`
   for a held clip whose file is gone); a clip a hold covers whose file is
   still there is kept, damaged or not, and reported.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from camhub.audit import AuditEvent, AuditLog, ClipDeleted, HeldClipDeleted
from camhub.clock import Clock
from camhub.durable import durable_rename, unlink_durably
from camhub.privacy.holds import standing_in
from camhub.privacy.scope import Scope
from camhub.store.db import Database
from camhub.store.files import PARTIAL, sha256_of, sidecars
from camhub.store.index import (
    INDEX_FILE,
    ClipRecord,
    IndexDamaged,
    delete_rows,
    mark_garbage,
    open_index,
    query_clips,
    reading_index,
)
from camhub.store.lock import DataFolderLock
from camhub.store.recovery import day_folders, holds_over, recover

REPAIR = "camhub check --repair"


@dataclass(frozen=True)
class Finding:
    kind: str  # missing, size, hash, unindexed, partial, garbage
    path: str
    detail: str
    clip_id: int | None = None

    def __str__(self) -> str:
        clip = f"clip {self.clip_id}: " if self.clip_id is not None else ""
        return f"{self.kind}: {clip}{self.path}: {self.detail}"


def check(
    data_dir: Path, hashes: bool = True, progress: Callable[[int, int], None] | None = None, hub_running: bool = False
) -> list[Finding]:
    """What disagrees; with `hub_running`, files still being written are not findings.

    `progress(done, total)` is called with 0 first, then after each clip. The rows are read in path
    order, a few columns at a time, so each day folder is listed once and memory stays that of one
    folder: a clip is missing when its folder's listing lacks it (no stat), and only a file that is
    there is stat'ed and hashed. A million rows are never held at once.
    """
    clip_findings: list[Finding] = []
    file_findings: list[Finding] = []
    visited: set[str] = set()
    folder, listing, named = "", set[str](), set[str]()

    def leave_folder() -> None:
        if folder:
            visited.add(folder)
            file_findings.extend(_unindexed(folder, listing - named, hub_running))

    with reading_index(data_dir) as db:
        total = int(db.execute("SELECT COUNT(*) FROM clips").fetchone()[0])
        if progress is not None:
            progress(0, total)
        rows = db.execute("SELECT id, path, bytes, sha256, state FROM clips ORDER BY path")
        for n, (clip_id, relative, indexed_bytes, indexed_sha256, state) in enumerate(rows, 1):
            parent, _, name = relative.rpartition("/")
            if parent != folder:
                leave_folder()
                folder, listing, named = parent, _listing(data_dir / parent), set()
            named.add(name)
            if state == "garbage":
                clip_findings.append(Finding("garbage", relative, "deletion was interrupted", clip_id))
            elif name not in listing or not (path := data_dir / relative).is_file():
                clip_findings.append(Finding("missing", relative, "indexed but the file is gone", clip_id))
            elif (size := path.stat().st_size) != indexed_bytes:
                clip_findings.append(
                    Finding("size", relative, f"{size} bytes on disk, {indexed_bytes} indexed", clip_id)
                )
            elif hashes and (digest := sha256_of(path)) != indexed_sha256:
                detail = f"SHA-256 {digest[:16]}… on disk, {indexed_sha256[:16]}… indexed"
                clip_findings.append(Finding("hash", relative, detail, clip_id))
            if progress is not None:
                progress(n, total)
        leave_folder()
    for unvisited in sorted(set(day_folders(data_dir)) - visited):  # folders holding no indexed clip
        file_findings.extend(_unindexed(unvisited, _listing(data_dir / unvisited), hub_running))
    return clip_findings + sorted(file_findings, key=lambda f: f.path)


def _listing(folder: Path) -> set[str]:
    try:
        return set(os.listdir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return set()


def _unindexed(folder: str, names: set[str], hub_running: bool) -> list[Finding]:
    """Findings for the files of a clip folder that no row names: clip files, and interrupted writes."""
    found = []
    for name in sorted(names):
        relative = f"{folder}/{name}"
        if name.endswith(PARTIAL):
            if not hub_running:
                found.append(Finding("partial", relative, "an interrupted write; recovered at the next start"))
        elif name.endswith(".mp4"):
            found.append(Finding("unindexed", relative, "a clip file with no row in the index"))
    return found


def set_aside_if_damaged(data_dir: Path, now: float) -> list[str]:
    """Move a damaged index (and its WAL) aside under a timestamped name; never delete it."""
    path = data_dir / INDEX_FILE
    if not path.exists():
        return []
    try:
        with reading_index(data_dir):
            return []
    except IndexDamaged as exc:
        problem = exc.problem
    aside = path.with_name(f"{path.name}.damaged-{datetime.fromtimestamp(now, UTC):%Y%m%dT%H%M%SZ}")
    for suffix in ("", "-wal", "-shm"):
        if (source := path.with_name(path.name + suffix)).exists():
            durable_rename(source, aside.with_name(aside.name + suffix))
    return [f"moved the damaged index ({problem}) aside to {aside}; rebuilding it from the clip files"]


async def repair(data_dir: Path, clock: Clock = time.time) -> list[str]:
    """Mend what can be mended; return one line per action. Refuses while a hub runs."""
    lock = DataFolderLock.acquire(data_dir, REPAIR)
    try:
        actions = set_aside_if_damaged(data_dir, clock())
        held = standing_in(data_dir, clock())
        db = open_index(data_dir, clock)
        audit = _WriteAhead(data_dir, clock)
        try:
            clips = {c.id: c for c in await db.read(lambda d: query_clips(d, include_garbage=True))}
            for clip in clips.values():  # retention's interrupted deletions, which recovery finishes
                if clip.state == "garbage" and not holds_over(clip, held) and clip.id is not None:
                    await audit.log(_deleted(clip, clock(), "its deletion by retention was interrupted"))
            actions += (await db.write(lambda d: recover(data_dir, d, held, every_folder=True))).lines()
            clips = {c.id: c for c in await db.read(lambda d: query_clips(d, include_garbage=True))}
            for finding in check(data_dir):
                row = clips.get(finding.clip_id)
                if finding.kind in ("missing", "size", "hash") and row is not None:
                    actions.append(await _remove(db, audit, data_dir, row, finding, held, clock))
                elif finding.kind == "unindexed":
                    actions.append(f"left {finding.path} in place: not a readable clip (move it away by hand)")
        finally:
            await audit.close()
            db.close()
    finally:
        lock.release()
    return actions


class _WriteAhead:
    """The audit log, opened at the first deletion: a repair that deletes nothing leaves the log alone."""

    def __init__(self, data_dir: Path, clock: Clock) -> None:
        self.data_dir, self.clock = data_dir, clock
        self._log: AuditLog | None = None

    async def log(self, event: AuditEvent) -> None:
        """Returns once `event` is durable; only then may its deletion happen."""
        if self._log is None:
            self._log = await AuditLog.open(self.data_dir, clock=self.clock)
        await self._log.append(event)

    async def close(self) -> None:
        if self._log is not None:
            await self._log.close()


def _deleted(clip: ClipRecord, now: float, reason: str) -> ClipDeleted:
    return ClipDeleted(
        time=now,
        actor=REPAIR,
        clip_id=clip.id or 0,
        camera=clip.camera,
        start_s=int(clip.start_time),
        path=clip.path,
        reason=reason,
    )


async def _remove(
    db: Database,
    audit: _WriteAhead,
    data_dir: Path,
    clip: ClipRecord,
    finding: Finding,
    held: Sequence[tuple[str, Scope]],
    clock: Clock,
) -> str:
    """Delete one clip whose file is damaged or gone, audited first; a held clip's file is kept."""
    holds = holds_over(clip, held)
    path = data_dir / clip.path
    if holds and finding.kind != "missing":
        return f"kept clip {clip.id} ({clip.path}): {finding.detail}; hold {holds[0]} covers it, so it is not deleted"
    if holds:
        await audit.log(
            HeldClipDeleted(
                time=clock(),
                actor=REPAIR,
                clip_id=str(clip.id),
                hold_id=holds[0],
                reason=f"{clip.path}: {finding.detail}; its index row was removed",
            )
        )
    else:
        await audit.log(_deleted(clip, clock(), finding.detail))
    ids = [clip.id or 0]
    await db.write(lambda d: mark_garbage(d, ids))
    unlink_durably([path, *sidecars(path)] if finding.kind != "missing" else list(sidecars(path)))
    await db.write(lambda d: delete_rows(d, ids))
    return f"removed clip {clip.id} ({clip.path}): {finding.detail}"
