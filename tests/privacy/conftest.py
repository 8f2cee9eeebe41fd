"""Fixtures for audit tests: a fake clock and real logs in tmp_path SQLite files."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from hub.clock import ManualClock as FakeClock
from hub.privacy.audit import AuditLog, ConsentRequested, HubStarted


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1_700_000_000.0)


def sample_event(i: int, now: float) -> HubStarted | ConsentRequested:
    if i % 3:
        return HubStarted(time=now, actor="hub", version=f"0.{i}")
    return ConsentRequested(time=now, actor=f"officer-{i}", request_id=f"r{i}", identity="Officer Ünal",
                            organisation="City PD", contact="desk@example.org", purpose="burglary \"nearby\"",
                            case_reference=None, cameras=("front", "drive"), start_s=1_699_990_000,
                            end_s=1_699_993_600, wanted_by_s=1_700_000_000, expires_s=1_700_086_400)


MakeLog = Callable[..., Awaitable[Path]]


@pytest.fixture
def make_log(tmp_path: Path, clock: FakeClock) -> MakeLog:
    """Build a closed log of `n` entries (plus entry 0) in batches of `batch`; returns its data folder."""

    async def make(n: int, batch: int = 1, data: Path | None = None) -> Path:
        folder = data or tmp_path / "data"
        log = await AuditLog.open(folder, hub_id="home", clock=clock)
        try:
            for start in range(0, n, batch):
                clock.advance(1)
                await asyncio.gather(*(log.append(sample_event(i, clock())) for i in range(start, min(n, start + batch))))
        finally:
            await log.close()
        return folder

    return make
