"""`camhub check`: does the index agree with the disk?

Like Moonfire NVR's `check`: every indexed clip must exist with its recorded
size and SHA-256, and no clip file may be unindexed. `--repair` applies
start-up recovery and then drops rows whose file is gone or damaged, saying
what it did.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hub.store.db import connect
from hub.durable import unlink_durably
from hub.store.files import CLIPS_DIR, PARTIAL, sha256_of, sidecars
from hub.store.index import INDEX_FILE, delete_rows, mark_garbage, query_clips
from hub.store.recovery import recover


@dataclass(frozen=True)
class Finding:
    kind: str  # missing, size, hash, unindexed, partial, garbage
    path: str
    detail: str
    clip_id: int | None = None

    def __str__(self) -> str:
        clip = f"clip {self.clip_id}: " if self.clip_id is not None else ""
        return f"{self.kind}: {clip}{self.path}: {self.detail}"


def check(data_dir: Path, hashes: bool = True, progress: Callable[[int, int], None] | None = None) -> list[Finding]:
    db = connect(data_dir / INDEX_FILE, readonly=True)
    try:
        clips = query_clips(db, include_garbage=True, oldest_first=True)
    finally:
        db.close()
    findings: list[Finding] = []
    for n, clip in enumerate(clips, 1):
        path = data_dir / clip.path
        if clip.state == "garbage":
            findings.append(Finding("garbage", clip.path, "deletion was interrupted", clip.id))
        elif not path.is_file():
            findings.append(Finding("missing", clip.path, "indexed but the file is gone", clip.id))
        elif (size := path.stat().st_size) != clip.bytes:
            findings.append(Finding("size", clip.path, f"{size} bytes on disk, {clip.bytes} indexed", clip.id))
        elif hashes and (digest := sha256_of(path)) != clip.sha256:
            findings.append(Finding("hash", clip.path, f"SHA-256 {digest[:16]}… on disk, {clip.sha256[:16]}… indexed", clip.id))
        if progress is not None:
            progress(n, len(clips))
    indexed = {c.path for c in clips}
    root = data_dir / CLIPS_DIR
    if root.exists():
        for path in sorted(root.glob("*/*/*")):
            relative = str(path.relative_to(data_dir))
            if path.name.endswith(PARTIAL):
                findings.append(Finding("partial", relative, "an interrupted write; recovered at the next start"))
            elif path.suffix == ".mp4" and relative not in indexed:
                findings.append(Finding("unindexed", relative, "a clip file with no row in the index"))
    return findings


def repair(data_dir: Path) -> list[str]:
    """Mend what can be mended; return one line per action."""
    db = connect(data_dir / INDEX_FILE)
    actions: list[str] = []
    try:
        actions += recover(data_dir, db).lines()
        for finding in check(data_dir):
            if finding.kind in ("missing", "size", "hash") and finding.clip_id is not None:
                path = data_dir / finding.path
                with db.atomic():
                    mark_garbage(db, [finding.clip_id])
                unlink_durably([path, *sidecars(path)] if finding.kind != "missing" else list(sidecars(path)))
                with db.atomic():
                    delete_rows(db, [finding.clip_id])
                actions.append(f"removed clip {finding.clip_id} ({finding.path}): {finding.detail}")
            elif finding.kind == "unindexed":
                actions.append(f"left {finding.path} in place: not a readable clip (move it away by hand)")
    finally:
        db.close()
    return actions
