"""A clip keeps its id when the index is rebuilt, so ids in the audit log and export manifests name the same footage.

Real clip files and a real index; the index is truncated to zero bytes and
a real hub started on the folder (start-up recovery re-indexes every file).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from camhub.store.db import connect
from camhub.store.files import clip_path, sha256_of
from camhub.store.index import INDEX_FILE, ClipRecord, insert_clip, open_index, query_clips

from .test_repair import run_hub

NOW = 1_790_000_000.0
CAMERAS = ("yard", "porch", "gate")


def wipe_index(data: Path) -> None:
    """What a lost index looks like: index.db of zero bytes, no WAL beside it."""
    for suffix in ("-wal", "-shm"):
        (data / f"{INDEX_FILE}{suffix}").unlink(missing_ok=True)
    os.truncate(data / INDEX_FILE, 0)


def ids_by_path(data: Path) -> dict[str, int]:
    db = connect(data / INDEX_FILE, readonly=True)
    try:
        return {c.path: c.id or 0 for c in query_clips(db)}
    finally:
        db.close()


async def start_and_stop_a_hub(data: Path) -> None:
    _, stop, task = await run_hub(data, CAMERAS)
    stop.set()
    await task


async def test_every_clip_has_its_old_id_after_the_index_is_rebuilt(
    tmp_path: Path, make_clips: Callable[..., list[Any]]
) -> None:
    data = tmp_path / "data"
    # Newest first and cameras interleaved: the order they are indexed in is not the order of their paths.
    made = make_clips(data, [(cam, NOW - 60 * i) for i in range(60) for cam in CAMERAS])
    before = ids_by_path(data)
    assert len(before) == len(made) == 180 and len(set(before.values())) == 180
    wipe_index(data)
    await start_and_stop_a_hub(data)
    assert ids_by_path(data) == before


async def test_ids_an_older_hub_numbered_survive_a_rebuild(tmp_path: Path, clip_mp4: Path) -> None:
    """Clips indexed as 1, 2, 3... before ids came from file names keep those numbers, rebuilt or not."""
    data = tmp_path / "data"
    db = open_index(data)
    try:
        for n, (cam, start) in enumerate(((cam, NOW - 60 * i) for i in range(20) for cam in CAMERAS), 1):
            relative = clip_path(data, cam, start)
            (data / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(clip_mp4, data / relative)
            record = ClipRecord(
                cam,
                start,
                start + 2,
                2.0,
                clip_mp4.stat().st_size,
                "h264",
                320,
                240,
                sha256_of(clip_mp4),
                str(relative),
                id=n,
            )
            db.write_blocking(lambda d, r=record: insert_clip(d, r))
    finally:
        db.close()
    await start_and_stop_a_hub(data)  # the upgraded hub's first start keeps the numbers outside the index
    before = ids_by_path(data)
    assert sorted(before.values()) == list(range(1, 61))
    wipe_index(data)
    await start_and_stop_a_hub(data)
    assert ids_by_path(data) == before
