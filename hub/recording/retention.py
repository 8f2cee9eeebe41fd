"""Retention: which clips go, oldest first, and deleting them safely.

Three limits, checked at start-up, every `retention.interval` seconds and
whenever a recorder finds the disk full: each camera's age limit, a global
byte budget, and a minimum of free disk space. Clips under a hold (a
preservation order or an owner's hold) are never deleted. Deletion follows the index's
order of operations: mark the rows garbage, unlink and fsync, drop the rows.
Time comes from an injected clock, so tests need not wait days.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from camhub.clock import Clock
from camhub.config import HubConfig
from camhub.durable import unlink_durably
from camhub.privacy.scope import Scope
from camhub.store.db import Database
from camhub.store.files import sidecars
from camhub.store.index import ClipRecord, delete_rows, mark_garbage, query_clips

log = logging.getLogger(__name__)

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
    doomed: dict[int, ClipRecord] = {}
    kept = {c.id for c in clips if any(h.overlaps(c.camera, c.start_time, c.end_time) for h in held)}
    total_held = sum(c.bytes for c in clips if c.id in kept)
    clips = [c for c in clips if c.id not in kept]
    for clip in clips:
        days = limits.days.get(clip.camera, limits.default_days)
        if clip.end_time < now - days * 86400:
            doomed[clip.id or 0] = clip
    total = total_held + sum(c.bytes for c in clips if (c.id or 0) not in doomed)
    freed = sum(c.bytes for c in doomed.values())
    for clip in clips:  # oldest first
        over_budget = limits.max_bytes is not None and total > limits.max_bytes
        short_of_space = free_bytes + freed < limits.min_free_bytes
        if not (over_budget or short_of_space):
            break
        if (clip.id or 0) in doomed:
            continue
        doomed[clip.id or 0] = clip
        total -= clip.bytes
        freed += clip.bytes
    return sorted(doomed.values(), key=lambda c: (c.start_time, c.id or 0))


async def delete_clips(db: Database, data_dir: Path, clips: list[ClipRecord]) -> None:
    ids = [c.id for c in clips if c.id is not None]
    if not ids:
        return
    await db.write(lambda d: mark_garbage(d, ids))
    paths = [p for c in clips for p in (data_dir / c.path, *sidecars(data_dir / c.path))]
    await asyncio.to_thread(unlink_durably, paths)
    await db.write(lambda d: delete_rows(d, ids))


async def enforce(
    db: Database, data_dir: Path, limits: Limits, clock: Clock, held: HeldScopes | None = None
) -> list[ClipRecord]:
    clips = await db.read(lambda d: query_clips(d, oldest_first=True))
    free = shutil.disk_usage(data_dir).free
    doomed = plan(clips, clock(), limits, free, await held() if held is not None else ())
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
