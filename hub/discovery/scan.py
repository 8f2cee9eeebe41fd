"""A one-shot scan, for `camhub discover`: listen for a while, then say what was heard.

The same browser, probers and device table as the running hub, on the
interfaces given; with a config file, its cameras are shown as known, and
with its data folder, what owners adopted or ignored. The hub need not be
stopped: the scan only reads cameras.db.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from camhub.discovery.browse import ZeroconfBrowser
from camhub.discovery.network import open_zeroconf, started
from camhub.discovery.table import ADOPTED, IGNORED, Decision, DeviceTable
from camhub.registry import Registry

# Seconds each probe of a discovery integration (ONVIF) listens, at most.
PROBE_SECONDS = 3.0


def decisions_in(data_dir: Path) -> dict[str, Decision]:
    """What owners decided, read from a data folder's cameras.db (read-only; none when there is none)."""
    path = data_dir / "cameras.db"
    if not path.exists():
        return {}
    found: dict[str, Decision] = {}
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        for identity, name in db.execute("SELECT identity, name FROM adopted"):
            found[identity] = Decision(ADOPTED, name)
        for (identity,) in db.execute("SELECT identity FROM ignored"):
            found[identity] = Decision(IGNORED)
    return found


async def scan(
    registry: Registry,
    interfaces: Literal["all"] | tuple[str, ...],
    seconds: float,
    *,
    onvif: bool = True,
    configured: Mapping[str, Iterable[str]] | None = None,
    decisions: Mapping[str, Decision] | None = None,
    progress: Callable[[float, int], None] = lambda elapsed, found: None,
) -> list[dict[str, Any]]:
    """Listen for `seconds` and return the devices heard, as /api/discovered shows them."""
    table = DeviceTable(time.time, decisions=decisions, configured=configured)
    zc = open_zeroconf(interfaces)
    try:
        await started(zc)
        browser = ZeroconfBrowser(zc, registry, table)
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(browser.run(), name="zeroconf-browser")]
            if onvif:
                probe_on = None if interfaces == "all" else interfaces
                for prober in registry.probers:
                    tasks.append(tg.create_task(_probe_once(prober.probe, probe_on, table, seconds)))
            began = time.monotonic()
            while (elapsed := time.monotonic() - began) < seconds:
                progress(elapsed, len(table))
                await asyncio.sleep(min(1.0, seconds - elapsed))
            progress(seconds, len(table))
            for task in tasks:
                task.cancel()
    finally:
        await zc.async_close()
    return table.views()


async def _probe_once(probe: Any, interfaces: tuple[str, ...] | None, table: DeviceTable, seconds: float) -> None:
    for finding in await probe(interfaces, min(PROBE_SECONDS, seconds)):
        table.offer(finding)
