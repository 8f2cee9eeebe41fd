"""The zeroconf browser: announcements of the types integrations describe, resolved into findings.

The types come from the registry (`Registry.zeroconf_types`), never from a
list here. A browser callback only notes a name; resolving (asking for the
SRV, TXT and address records) happens in a few worker tasks, at most once
per `min_interval` per name, with a bounded queue: a flood of announcements
or of updates for one name costs one log line, never the event loop or
unbounded memory. Names noted while the queue is full are set aside (the
newest `max_pending` of them) and queued once it drains, since zeroconf
tells of a new name only once. What a resolved record is, the integrations
say (`Registry.describe`); the device table merges it.

Zeroconf says goodbye for a service when it withdraws or its records
expire, but not when its cache, full (a flood: it holds 10,000 records),
evicts them; nor is there a goodbye for a service announced without a PTR
record. Every `sweep_interval` the browser withdraws from the table the
announcements zeroconf no longer holds a PTR record for.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict

from zeroconf import ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from camhub.discovery.model import ZEROCONF, ServiceRecord, clean_host, clean_properties, clean_text
from camhub.discovery.table import DeviceTable
from camhub.registry import Registry

log = logging.getLogger(__name__)

# Names waiting to be resolved at once; more are dropped (with one log line) until the queue drains.
MAX_PENDING = 256
# Names whose last resolve time is remembered (for the rate limit); the oldest are forgotten first.
MAX_REMEMBERED = 4096
RESOLVERS = 4
# Seconds between checks of the table against zeroconf's cache (see the module docstring).
SWEEP_INTERVAL = 60.0


class ZeroconfBrowser:
    """Browse, resolve and describe; `run()` is owned by the hub's TaskGroup (cancel it to stop)."""

    def __init__(
        self,
        zc: AsyncZeroconf,
        registry: Registry,
        table: DeviceTable,
        *,
        resolve_timeout: float = 3.0,
        min_interval: float = 2.0,
        max_pending: int = MAX_PENDING,
        sweep_interval: float = SWEEP_INTERVAL,
    ) -> None:
        self.zc = zc
        self.registry = registry
        self.table = table
        self.types = registry.zeroconf_types()
        self.resolve_timeout = resolve_timeout
        self.min_interval = min_interval
        self.sweep_interval = sweep_interval
        self._queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue(max_pending)
        self._queued: set[str] = set()
        self._missed: OrderedDict[str, str] = OrderedDict()  # name -> type, noted while the queue was full
        self._last: OrderedDict[str, float] = OrderedDict()
        self._said: set[str] = set()  # kinds of trouble already logged once
        self.resolved = 0  # records resolved and described, for tests and benches
        self.dropped = 0

    async def run(self) -> None:
        if not self.types:
            log.info("discovery: no integration describes zeroconf announcements; not browsing")
            return
        browser = AsyncServiceBrowser(self.zc.zeroconf, list(self.types), handlers=[self._on_change])
        log.info("discovery: browsing %s", ", ".join(self.types))
        try:
            async with asyncio.TaskGroup() as tg:
                for i in range(RESOLVERS):
                    tg.create_task(self._resolver(), name=f"zeroconf-resolver-{i}")
                tg.create_task(self._sweeper(), name="zeroconf-sweeper")
        finally:
            await browser.async_cancel()

    def _on_change(self, zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange) -> None:
        if state_change is ServiceStateChange.Removed:
            self._missed.pop(name, None)
            self.table.withdraw(name)
            return
        if name in self._queued:
            return  # already waiting: one resolve covers every update until then
        if self._queue.full() or len(name) > 255:
            self.dropped += 1
            if len(name) <= 255:  # set aside, the newest kept, until the queue drains (_take_back_missed)
                self._missed[name] = service_type
                self._missed.move_to_end(name)
                if len(self._missed) > self._queue.maxsize:
                    self._missed.popitem(last=False)
            self._once("flood", "discovery: too many announcements at once; some are left out until the queue drains")
            return
        self._enqueue(service_type, name)

    def _enqueue(self, service_type: str, name: str) -> None:
        self._queued.add(name)
        self._queue.put_nowait((service_type, name))

    async def _resolver(self) -> None:
        while True:
            if self._queue.empty():
                self._take_back_missed()
            service_type, name = await self._queue.get()
            wait = self._last.get(name, -self.min_interval) + self.min_interval - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)  # the rate limit of one name: updates coalesce meanwhile
            self._queued.discard(name)
            self._remember(name)
            try:
                record = await self._resolve(service_type, name)
            except Exception as exc:  # a hostile record must not end the browser
                self._once(f"error:{type(exc).__name__}", f"discovery: cannot read {clean_text(name)!r}: {exc!r}")
                continue
            if record is None:
                continue
            finding = self.registry.describe(record)
            if finding is not None:
                self.resolved += 1
                self.table.offer(finding)

    async def _resolve(self, service_type: str, name: str) -> ServiceRecord | None:
        if not name.endswith("." + service_type):
            return None
        info = AsyncServiceInfo(service_type, name)
        if not await info.async_request(self.zc.zeroconf, int(self.resolve_timeout * 1000)):
            self._once("unresolved", f"discovery: {clean_text(name)!r} did not answer with its address and port")
            return None
        # Newest first as zeroconf keeps them (after a DHCP change the old address lingers until flushed),
        # IPv4 before IPv6.
        cleaned = [a for raw in info.parsed_addresses() if (a := clean_host(raw)) is not None]
        addresses = sorted(dict.fromkeys(cleaned), key=lambda a: ":" in a)
        if not addresses or not info.port:
            self._once("incomplete", f"discovery: {clean_text(name)!r} announced no address or no port; ignored")
            return None
        return ServiceRecord(
            type=service_type,
            name=name,
            instance=clean_text(name[: -len(service_type) - 1]),
            addresses=tuple(addresses),
            port=info.port,
            properties=clean_properties(info.properties or {}),
            server=clean_text(info.server or ""),
        )

    def _take_back_missed(self) -> None:
        """The queue drained: the names set aside while it was full get their turn, oldest first."""
        while self._missed and not self._queue.full():
            name, service_type = self._missed.popitem(last=False)
            if name not in self._queued:
                self._enqueue(service_type, name)

    async def _sweeper(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_interval)
            # The instance names the PTR records of our types point to (a PTR's "alias").
            cache = self.zc.zeroconf.cache
            held = {getattr(r, "alias", None) for t in self.types for r in cache.entries_with_name(t)}
            keys = [k for d in self.table.devices.values() for k, f in d.findings.items() if f.kind == ZEROCONF]
            for key in keys:
                if key not in held:
                    self.table.withdraw(key)

    def _remember(self, name: str) -> None:
        self._last[name] = time.monotonic()
        self._last.move_to_end(name)
        while len(self._last) > MAX_REMEMBERED:
            self._last.popitem(last=False)

    def _once(self, kind: str, message: str) -> None:
        if kind not in self._said:
            self._said.add(kind)
            log.warning(message)
