"""Retention: which clips go, oldest first, and deleting them safely.

Three limits, checked at start-up, every `retention.interval` seconds and
whenever a recorder finds the disk full: each camera's age limit, a global
byte budget, and a minimum of free disk space. Clips under a hold (a
preservation order or an owner's hold) are never deleted. Deletion follows the index's
order of operations: mark the rows garbage, unlink and fsync, drop the rows,
in batches of `DELETE_BATCH` clips. A pass reads from the index only the
clips it may delete (`plan_from_index`), so it costs the same beside a
million clips as beside a thousand; `plan` is the same rule over a list.
Time comes from an injected clock, so tests need not wait days.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from camhub.clock import Clock
from camhub.config import HubConfig
from camhub.durable import unlink_durably
from camhub.privacy.scope import Scope
from camhub.store.db import Database
from camhub.store.files import sidecars
from camhub.store.index import (
    ClipRecord,
    camera_names,
    clip_bytes,
    delete_rows,
    mark_garbage,
    oldest_clips,
    query_clips,
)

log = logging.getLogger(__name__)
# Clips deleted per transaction pair (mark garbage, drop the rows).
DELETE_BATCH = 500

HeldScopes = Callable[[], Awaitable[Sequence[Scope]]]


@dataclass(frozen=True)
class Limits:
    days: Mapping[str, float]  # per camera; cameras not listed use default_days
    default_days: float
    max_bytes: int | None
    min_free_bytes: int

    @classmethod
    def from_config(cls, config: HubConfig) -> Limits:
        days = {n: c.record.retain_days for n, c in config.cameras.items() if c.record.retain_days is not None}
        r = config.retention
        return cls(days, r.days, r.max_bytes, r.min_free_bytes)


def plan(
    clips: list[ClipRecord], now: float, limits: Limits, free_bytes: int, held: Sequence[Scope] = ()
) -> list[ClipRecord]:
    """The clips to delete, given every clip oldest first. Pure, for testing.

    A clip that overlaps a hold's scope is never chosen, whatever the limits
    say; it still counts towards the byte budget.
    """
    aged = aged_out(clips, now, limits, held)
    total = sum(c.bytes for c in clips) - sum(c.bytes for c in aged)
    over = over_limits(clips, limits, total, free_bytes + sum(c.bytes for c in aged), held, {c.id for c in aged})
    return sorted([*aged, *over], key=lambda c: (c.start_time, c.id or 0))


def aged_out(clips: Iterable[ClipRecord], now: float, limits: Limits, held: Sequence[Scope]) -> list[ClipRecord]:
    """The clips past their camera's age limit that no hold keeps."""
    return [
        c
        for c in clips
        if c.end_time < now - limits.days.get(c.camera, limits.default_days) * 86400 and not _held(c, held)
    ]


def over_limits(
    oldest_first: Iterable[ClipRecord],
    limits: Limits,
    total_bytes: int | None,
    free_bytes: int,
    held: Sequence[Scope],
    chosen: Collection[int | None],
) -> list[ClipRecord]:
    """The oldest clips not yet `chosen` and not held, until the byte budget and free space are met.

    `total_bytes`: of every clip not yet chosen, held ones included (None: no budget to meet). Reads
    `oldest_first` only as far as it needs to, so it may be a walk of the index.
    """
    doomed: list[ClipRecord] = []
    clips = iter(oldest_first)
    while (limits.max_bytes is not None and total_bytes is not None and total_bytes > limits.max_bytes) or (
        free_bytes < limits.min_free_bytes
    ):
        clip = next(clips, None)
        if clip is None:
            break
        if clip.id in chosen or _held(clip, held):
            continue
        doomed.append(clip)
        total_bytes = None if total_bytes is None else total_bytes - clip.bytes
        free_bytes += clip.bytes
    return doomed


def _held(clip: ClipRecord, held: Sequence[Scope]) -> bool:
    return any(h.overlaps(clip.camera, clip.start_time, clip.end_time) for h in held)


def plan_from_index(
    db: sqlite_utils.Database, now: float, limits: Limits, free_bytes: int, held: Sequence[Scope] = ()
) -> list[ClipRecord]:
    """`plan` over the index, reading only the clips it may delete: what `plan` gives for every clip.

    Per camera, the clips that start before its age limit (a range of clips_camera_start); then, only
    when the byte budget or free space asks for more, the total of every clip's bytes and a walk of the
    oldest clips, page by page, until it is met. A pass that deletes a day of a year's million clips
    reads that day's rows, not the year's.
    """
    aged: list[ClipRecord] = []
    for camera in camera_names(db):
        cutoff = now - limits.days.get(camera, limits.default_days) * 86400
        aged += aged_out(query_clips(db, camera=camera, end=cutoff, oldest_first=True), now, limits, held)
    freed = sum(c.bytes for c in aged)
    total = clip_bytes(db) - freed if limits.max_bytes is not None else None
    over = over_limits(oldest_clips(db), limits, total, free_bytes + freed, held, {c.id for c in aged})
    return sorted([*aged, *over], key=lambda c: (c.start_time, c.id or 0))


async def delete_clips(db: Database, data_dir: Path, clips: list[ClipRecord]) -> None:
    """Delete in batches, each marked garbage, unlinked and dropped before the next: every transaction
    stays short (the clip finisher's inserts wait on none for long), and a crash leaves one batch for
    start-up recovery to finish."""
    for at in range(0, len(clips), DELETE_BATCH):
        batch = clips[at : at + DELETE_BATCH]
        ids = [c.id for c in batch if c.id is not None]
        await db.write(lambda d, ids=ids: mark_garbage(d, ids))  # type: ignore[misc]
        paths = [p for c in batch for p in (data_dir / c.path, *sidecars(data_dir / c.path))]
        await asyncio.to_thread(unlink_durably, paths)
        await db.write(lambda d, ids=ids: delete_rows(d, ids))  # type: ignore[misc]


async def enforce(
    db: Database, data_dir: Path, limits: Limits, clock: Clock, held: HeldScopes | None = None
) -> list[ClipRecord]:
    now, scopes = clock(), (await held() if held is not None else ())
    free = shutil.disk_usage(data_dir).free
    doomed = await db.read(lambda d: plan_from_index(d, now, limits, free, scopes))
    await delete_clips(db, data_dir, doomed)
    if doomed:
        log.info("retention: deleted %d clip(s), %d bytes", len(doomed), sum(c.bytes for c in doomed))
    return doomed


class Retention:
    """The periodic task; `wake()` (thread-safe) runs it early, e.g. when the disk fills."""

    def __init__(
        self,
        db: Database,
        data_dir: Path,
        limits: Limits,
        interval: float,
        clock: Clock,
        held: HeldScopes | None = None,
    ) -> None:
        self.db, self.data_dir, self.limits, self.interval, self.clock = db, data_dir, limits, interval, clock
        self.held = held  # the scopes of standing holds (camhub.privacy.holds), asked before every run
        self._wake = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self.deleted = 0

    def wake(self) -> None:
        self._loop.call_soon_threadsafe(self._wake.set)

    async def run(self) -> None:
        while True:
            try:
                self.deleted += len(await enforce(self.db, self.data_dir, self.limits, self.clock, self.held))
            except OSError as exc:
                log.error("retention failed: %s", exc)
            try:
                await asyncio.wait_for(self._wake.wait(), self.interval)
            except TimeoutError:
                pass
            self._wake.clear()
