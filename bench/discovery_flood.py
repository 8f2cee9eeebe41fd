"""Discovery flood benchmark: what thousands of hostile zeroconf services cost the hub's browser.

    .venv/bin/python bench/discovery_flood.py [--services 5000] [--out bench/results/discovery_flood.md]

The flood of tests/security/test_discovery_hostile.py, from the same peer and harness
(tests/security/hostile_mdns.py, hostile_browsing.py): distinct services under a type of their
own, 8 to a packet (PTR, SRV and TXT each, and one shared A record), multicast on 127.0.0.1 only,
against the hub's ZeroconfBrowser and DeviceTable (max_devices 256, resolve timeout 0.5 s). Each
scenario starts a fresh browser, except the two floods in a row.

- Paced by the hub: after each burst of 16 packets the peer waits until the browser has noted
  them, the fastest the hub takes a flood in without the kernel dropping datagrams.
- Blasts at fixed packet rates the hub cannot keep up with: the kernel drops what the hub's socket
  buffer cannot hold ("noted" falls short of "sent"); the loop lag shows whether what it does read
  ever blocks the loop.
- Two floods of distinct names in a row, under tracemalloc (which slows Python about fourfold, so
  these run paced by the hub): the second adds little, the caps (zeroconf's 10,000 cached
  records, the table's 256 devices, the browser's 4,096 remembered names) being reached by the
  first.
- One name updated (a new TXT record each time) at a fixed rate: resolves stay at the rate limit
  (min_interval 2 s, the hub's default).

Loop lag is how late a ticker sleeping 10 ms wakes: max and 99th percentile over the scenario,
sending and settling included. RSS is the process's resident set (the peer runs in a thread of
the same process; its packets are built before the measure starts).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import importlib
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from machine import describe  # bench/machine.py: run as python bench/<name>.py

ROOT = Path(__file__).resolve().parent.parent


def harness() -> tuple[ModuleType, ModuleType]:
    """tests/security/hostile_browsing.py and hostile_mdns.py, imported as the tests import them."""
    sys.path.insert(1, str(ROOT))
    return importlib.import_module("tests.security.hostile_browsing"), importlib.import_module(
        "tests.security.hostile_mdns"
    )


hb, mdns = harness()


NOTES = """
Reading the tables: "noted" short of "sent" is datagrams the kernel dropped because the hub's
socket buffer was full (a blast), never read. "Left out" is names noted while the resolve queue
(256) was full; they are set aside and resolved once it drains. The second flood settles slowly
because python-zeroconf's cache (10,000 records) is full by then and evicts the record closest to
expiring: the new services' own SRV records, so each of them costs a resolve timeout (0.5 s here,
3 s in the hub). Loop lag includes the peer's thread competing for the same interpreter.
"""


def mb(n: float) -> str:
    return f"{n / 2**20:.1f} MB"


def flood_row(what: str, r: Any) -> tuple[str, ...]:
    return (
        what,
        f"{r.services:,}",
        f"{r.services_per_s:,.0f}",
        f"{r.notes:,}",
        f"{r.resolves:,}",
        f"{r.dropped:,}",
        f"{r.table_size}",
        f"{r.most_pending}",
        f"{r.settle_seconds:.1f} s",
        f"{r.max_lag * 1000:.0f} ms",
        f"{r.p99_lag * 1000:.0f} ms",
        mb(r.rss_growth_kb * 1024),
    )


async def one_flood(registry: Any, services: int, rate: float | None, prefix: str) -> Any:
    async with hb.browsing(registry, resolve_timeout=0.5) as b:
        result = await hb.flood(b, hb.MemoryWatch(), services, prefix=prefix, rate=rate)
        await hb.withdraw_flood(b, services, prefix)
        return result


async def two_floods(registry: Any, services: int) -> list[tuple[str, str, str, str]]:
    rows = []
    async with hb.browsing(registry, resolve_timeout=0.5) as b:
        with hb.traced_memory() as memory:
            for wave in ("first", "second"):
                # The second flood settles slowly: zeroconf's cache is full, and it evicts the record
                # closest to expiring, the new services' own SRV records (120 s), before they are
                # resolved; each then costs a resolve timeout.
                r = await hb.flood(b, memory, services, prefix=f"wave-{wave}", settle=600)
                rows.append(
                    (
                        f"{wave} flood of {services:,} distinct services",
                        mb(r.memory_growth),
                        mb(r.memory_peak),
                        f"{r.notes:,} noted, {r.dropped:,} left out, table {r.table_size}, "
                        f"settled after {r.settle_seconds:.0f} s",
                    )
                )
            for wave in ("first", "second"):
                await hb.withdraw_flood(b, services, f"wave-{wave}")
    return rows


async def chatter(registry: Any, updates: int, rate: float) -> tuple[str, ...]:
    """One name, a new TXT record `updates` times at `rate` a second."""
    name = "Chatty"
    full = f"{name}.{mdns.FLOOD_TYPE}"
    packets = [
        mdns.announcement(name, mdns.FLOOD_TYPE, ip="127.0.0.40", properties=[b"path=/live", b"model=v%d" % i])
        for i in range(updates + 1)
    ]
    async with hb.browsing(registry, min_interval=2.0) as b:
        b.browser.watch(full)
        with mdns.HostilePeer() as peer:
            peer.leaving([name], mdns.FLOOD_TYPE)
            peer.send(packets[0])
            await hb.until(lambda: b.named(name), what="'Chatty' listed")
            tried = b.browser.tried[full]
            b.loop.reset()
            seconds = await asyncio.to_thread(peer.send_paced, packets[1:], rate)
            resolves = b.browser.tried[full] - tried
            started = time.monotonic()
            await hb.until(lambda: (b.named(name) or {}).get("model") == f"v{updates}", what="the last update read")
            caught_up = time.monotonic() - started
        return (
            f"{updates:,} updates of one name at {rate:,.0f}/s",
            f"{b.browser.heard[full]:,} noted in {seconds:.1f} s",
            f"{resolves} resolves ({resolves / seconds:.2f}/s)",
            f"last update read {caught_up:.1f} s after the flood",
            f"{b.loop.max_lag * 1000:.0f} ms / {b.loop.p99_lag * 1000:.0f} ms",
        )


async def run(services: int, folder: Path) -> str:
    registry = hb.flood_registry(folder)
    floods = [flood_row("paced by the hub", await one_flood(registry, services, None, "paced"))]
    for rate in (1_000, 10_000):
        r = await one_flood(registry, services, rate, f"blast{rate}")
        floods.append(flood_row(f"blast, {rate:,} packets/s", r))
    memory = await two_floods(registry, services)
    chatty = [await chatter(registry, 3_000, 1_000)]
    return (
        "| flood | services sent | services/s sent | noted | resolves | left out (queue full) | table | most pending "
        "| settled after | max lag | p99 lag | RSS growth |\n|"
        + "---|" * 12
        + "\n"
        + "".join("| " + " | ".join(row) + " |\n" for row in floods)
        + "\n| Python memory (tracemalloc) | growth after | peak growth | |\n|---|---|---|---|\n"
        + "".join("| " + " | ".join(row) + " |\n" for row in memory)
        + "\n| update flood | noted | resolves | | max / p99 lag |\n|---|---|---|---|---|\n"
        + "".join("| " + " | ".join(row) + " |\n" for row in chatty)
        + f"\nPeak RSS of the whole run: {mb(hb.resident_kb('VmHWM') * 1024)}.\n"
        + NOTES
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--services", type=int, default=5000)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "discovery_flood.md"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tables = asyncio.run(run(args.services, Path(tmp)))
    header = (
        f"# Discovery flood benchmark\n\nDate: {datetime.date.today()}  \nMachine: {describe()}  \n"
        f"Command: `.venv/bin/python bench/discovery_flood.py --services {args.services}`\n\n"
    )
    print(header + tables)
    Path(args.out).write_text(header + tables)


if __name__ == "__main__":
    main()
