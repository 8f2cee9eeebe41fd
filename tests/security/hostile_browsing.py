"""The zeroconf browser under attack, watched: its loop lag, its memory, what it noted and resolved.

`browsing()` runs the hub's ZeroconfBrowser and DeviceTable on 127.0.0.1 (with `flood_registry`, the
installed integrations plus one describing the flood's own type), a `LoopWatch` beside them;
`flood()` sends thousands of services from a HostilePeer and measures. Shared by
tests/security/test_discovery_hostile.py and bench/discovery_flood.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import sys
import time
import tracemalloc
import types
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from zeroconf import ServiceInfo, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncZeroconf

from camhub.discovery.browse import MAX_PENDING, ZeroconfBrowser
from camhub.discovery.describe import generic_describer
from camhub.discovery.model import ServiceRecord
from camhub.discovery.table import GONE, DeviceTable
from camhub.registry import Registry, SetupContext
from camhub.registry.found import FoundIntegration, builtin_integrations, installed_integrations

from .hostile_mdns import FLOOD_TYPE, LOOPBACK, HostilePeer, announcement, flood_packets, goodbye


def flood_registry(folder: Path) -> Registry:
    """The installed integrations plus one describing FLOOD_TYPE with the generic describer, as RTSP's does."""
    manifest = folder / "manifest.json"
    manifest.write_text(
        json.dumps(
            {
                "domain": "flood",
                "name": "Hostile flood (tests)",
                "kind": "discovery",
                "version": "1.0.0",
                "url_schemes": ["rtsp"],
                "zeroconf": [FLOOD_TYPE],
            }
        )
    )
    module = types.ModuleType("camhub_test_flood_integration")

    def setup(ctx: SetupContext) -> None:
        ctx.register_zeroconf(generic_describer(ctx.manifest))

    module.setup = setup  # type: ignore[attr-defined]
    sys.modules[module.__name__] = module  # where the registry's import_module finds it
    flood = FoundIntegration(module.__name__, manifest, "flood", "the hostile flood (hostile_browsing.py)")
    return Registry().load([*builtin_integrations(), *installed_integrations(), flood])


class CountingBrowser(ZeroconfBrowser):
    """The hub's browser, counting what it hears and resolves: in all, and for each name `watch`ed."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.notes = 0  # announcements noted (added or updated), before any dropping
        self.resolves = 0
        self.most_pending = 0  # the longest the pending queue was
        # For watched names only (counting all would weigh in the memory the tests measure):
        self.heard: dict[str, int] = {}  # notes
        self.tried: dict[str, int] = {}  # resolves begun
        self.finished: dict[str, int] = {}  # resolves ended, found or not

    def watch(self, name: str) -> None:
        self.heard[name] = self.tried[name] = self.finished[name] = 0

    def _on_change(self, zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange) -> None:
        if state_change is not ServiceStateChange.Removed:
            self.notes += 1
            if name in self.heard:
                self.heard[name] += 1
        super()._on_change(zeroconf, service_type, name, state_change)
        self.most_pending = max(self.most_pending, self._queue.qsize())

    async def _resolve(self, service_type: str, name: str) -> ServiceRecord | None:
        self.resolves += 1
        if name in self.tried:
            self.tried[name] += 1
        try:
            return await super()._resolve(service_type, name)
        finally:
            if name in self.finished:
                self.finished[name] += 1


@dataclass
class LoopWatch:
    """How late the event loop wakes a ticker that sleeps `interval` at a time.

    The lag is the loop's responsiveness to everything else the hub does (HTTP, recording): the
    tests bound it generously, as a check that nothing blocks the loop, not as a performance claim.
    """

    interval: float = 0.01
    lags: list[float] = field(default_factory=list)
    _round: int = 0

    async def run(self) -> None:
        while True:
            before, round = time.perf_counter(), self._round
            await asyncio.sleep(self.interval)
            if round == self._round:  # a tick that began before reset() is not counted
                self.lags.append(max(0.0, time.perf_counter() - before - self.interval))

    def reset(self) -> None:
        self.lags.clear()
        self._round += 1

    @property
    def max_lag(self) -> float:
        return max(self.lags, default=0.0)

    @property
    def p99_lag(self) -> float:
        ordered = sorted(self.lags)
        return ordered[int(len(ordered) * 0.99)] if ordered else 0.0


class MemoryWatch:
    """Python memory (tracemalloc, while it traces) grown since `start()`: now, and at its peak."""

    base = 0

    def start(self) -> None:
        self.base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()

    @property
    def growth(self) -> int:
        return tracemalloc.get_traced_memory()[0] - self.base

    @property
    def peak_growth(self) -> int:
        return tracemalloc.get_traced_memory()[1] - self.base


@contextmanager
def traced_memory() -> Iterator[MemoryWatch]:
    tracemalloc.start()
    watch = MemoryWatch()
    watch.start()
    try:
        yield watch
    finally:
        tracemalloc.stop()


@dataclass
class Browsing:
    table: DeviceTable
    browser: CountingBrowser
    task: asyncio.Task[None]
    loop: LoopWatch

    @property
    def running(self) -> bool:
        return not self.task.done()

    def named(self, name: str) -> dict[str, object] | None:
        return next((v for v in self.table.views() if v["name"] == name), None)


@asynccontextmanager
async def browsing(
    registry: Registry,
    *,
    max_devices: int = 256,
    min_interval: float = 0.5,
    resolve_timeout: float = 1.0,
    max_pending: int = MAX_PENDING,
    sweep_interval: float = 1.0,
) -> AsyncIterator[Browsing]:
    """The hub's browser and device table on 127.0.0.1, with a LoopWatch running beside them."""
    table = DeviceTable(time.time, max_devices=max_devices)
    zc = AsyncZeroconf(interfaces=[LOOPBACK])
    browser = CountingBrowser(
        zc,
        registry,
        table,
        resolve_timeout=resolve_timeout,
        min_interval=min_interval,
        max_pending=max_pending,
        sweep_interval=sweep_interval,
    )
    task = asyncio.create_task(browser.run(), name="browser under attack")
    loop = LoopWatch()
    ticker = asyncio.create_task(loop.run(), name="loop watch")
    try:
        # Listening, and the browser task started (it creates zeroconf's browser in its first step).
        await zc.zeroconf.async_wait_for_start()
        await asyncio.sleep(0)
        yield Browsing(table, browser, task, loop)
    finally:
        ticker.cancel()
        task.cancel()
        await asyncio.gather(task, ticker, return_exceptions=True)
        await zc.async_close()


async def until(condition: object, seconds: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not met within {seconds:.0f} s")
        await asyncio.sleep(0.02)


async def settled(b: Browsing, prefix: str, peer: HostilePeer, seconds: float = 60.0) -> None:
    """Wait until the browser has taken in all that `peer` sent of `prefix`, and resolved what it kept.

    A marker announcement goes last: once the browser has noted it, zeroconf has read every
    packet before it (one socket, in order). It is sent again until noted, as the kernel may
    drop it behind a flood. Other names pending (other processes announce on loopback too) are
    not waited for.
    """
    marker = f"{prefix}-marker.{FLOOD_TYPE}"
    b.browser.watch(marker)
    deadline = time.monotonic() + seconds
    while not b.browser.heard[marker]:
        if time.monotonic() > deadline:
            raise AssertionError(f"the marker announcement not heard within {seconds:.0f} s")
        peer.send(announcement(marker.split(".")[0], FLOOD_TYPE, ip="127.0.0.11"))
        with contextlib.suppress(AssertionError):
            await until(lambda: b.browser.heard[marker] > 0, 0.5)
    await until(
        lambda: not any(n.startswith(prefix) for n in [*b.browser._queued, *b.browser._missed]),
        max(deadline - time.monotonic(), 0.0),
        "the flood resolved",
    )


@asynccontextmanager
async def normal_camera(instance: str | None = None) -> AsyncIterator[str]:
    """A well-behaved camera announced by python-zeroconf itself while the context lasts; its instance name."""
    instance = instance or f"Normal camera {uuid.uuid4().hex[:8]}"
    zc = AsyncZeroconf(interfaces=[LOOPBACK])
    info = ServiceInfo(
        "_rtsp._tcp.local.",
        f"{instance}._rtsp._tcp.local.",
        addresses=[socket.inet_aton("127.0.0.2")],
        port=8554,
        properties={"path": "/live/main", "model": "Normal"},
        server=f"{instance.replace(' ', '-').lower()}.local.",
    )
    try:
        await zc.async_register_service(info, cooperating_responders=True)
        yield instance
        await zc.async_unregister_service(info)
    finally:
        await zc.async_close()


async def normal_camera_found(b: Browsing, seconds: float = 20.0) -> dict[str, object]:
    """A camera announced now is found: the browser still works."""
    async with normal_camera() as instance:
        await until(lambda: b.named(instance), seconds, f"{instance!r} found")
        device = b.named(instance)
        assert device is not None
        return device


def present(table: DeviceTable, prefix: str) -> int:
    """Devices in `table` heard now whose name starts with `prefix`."""
    return sum(1 for d in table.devices.values() if d.state != GONE and (d.latest and d.latest.name.startswith(prefix)))


@dataclass(frozen=True)
class FloodResult:
    services: int
    packets: int
    send_seconds: float
    notes: int  # announcements the browser noted
    resolves: int
    dropped: int  # notes left out because the pending queue was full
    table_size: int
    flood_devices: int
    most_pending: int
    max_lag: float
    p99_lag: float
    settle_seconds: float  # from the last packet sent until the browser had resolved what it kept
    memory_growth: int  # bytes (tracemalloc, while tracing) after the flood, over before it
    memory_peak: int  # bytes (tracemalloc) at the peak, over before it
    rss_growth_kb: int  # the process's resident set after the flood, over before it

    @property
    def services_per_s(self) -> float:
        return self.services / self.send_seconds if self.send_seconds else 0.0


async def flood(
    b: Browsing,
    memory: MemoryWatch,
    services: int,
    *,
    prefix: str = "flood",
    per_packet: int = 8,
    rate: float | None = None,
    settle: float = 60.0,
) -> FloodResult:
    """Announce `services` distinct services under FLOOD_TYPE, wait until the browser settles, measure.

    At `rate` packets a second, or (None) as fast as the browser notes them (HostilePeer.send_heard).
    """
    names = [f"{prefix}-{i:05d}" for i in range(services)]
    packets = await asyncio.to_thread(flood_packets, names, per_packet)  # off the loop, as in withdraw_flood
    resolves, dropped = b.browser.resolves, b.browser.dropped
    notes = b.browser.notes
    rss = resident_kb()
    with HostilePeer() as peer:
        memory.start()
        b.loop.reset()
        b.browser.most_pending = 0
        if rate is None:
            seconds = await asyncio.to_thread(peer.send_heard, packets, lambda: b.browser.notes, per_packet)
        else:
            seconds = await asyncio.to_thread(peer.send_paced, packets, rate)
        sent = time.monotonic()
        await settled(b, prefix, peer, settle)
    return FloodResult(
        services=services,
        packets=len(packets),
        send_seconds=seconds,
        notes=b.browser.notes - notes,
        resolves=b.browser.resolves - resolves,
        dropped=b.browser.dropped - dropped,
        table_size=len(b.table),
        flood_devices=present(b.table, prefix),
        most_pending=b.browser.most_pending,
        max_lag=b.loop.max_lag,
        p99_lag=b.loop.p99_lag,
        settle_seconds=time.monotonic() - sent,
        memory_growth=memory.growth,
        memory_peak=memory.peak_growth,
        rss_growth_kb=resident_kb() - rss,
    )


def resident_kb(which: str = "VmRSS") -> int:
    """The process's resident set now (VmRSS) or at its peak (VmHWM), in kB."""
    line = next(x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith(which + ":"))
    return int(line.split()[1])


async def withdraw_flood(b: Browsing, services: int, prefix: str = "flood") -> None:
    """Say goodbye for every flooded service, and wait until the table holds none of them."""
    names = [f"{prefix}-{i:05d}" for i in range(services)] + [f"{prefix}-marker"]
    # Written in the thread too: thousands of packets built on the loop would show as the hub's lag.
    packets = await asyncio.to_thread(lambda: list(goodbye(names, FLOOD_TYPE)))
    with HostilePeer() as peer:
        await asyncio.to_thread(peer.send_paced, packets, 500)
    await until(lambda: present(b.table, prefix) == 0, 30, "the flood withdrawn")
