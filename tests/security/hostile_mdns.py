"""A hostile mDNS peer on 127.0.0.1, and a watch on the zeroconf browser it attacks.

Shared by tests/security/test_discovery_hostile.py and bench/discovery_flood.py (which loads this file
by path), so that the bench measures the very flood the test asserts on.

python-zeroconf's ServiceInfo refuses much of what an attacker would send (a dot or a NUL inside a
label, TXT that is not UTF-8, a port of 0, a service with no address), so the responses here are
written byte by byte as RFC 1035 and RFC 6762 lay them out, and sent from a plain UDP socket. That
socket is bound to 127.0.0.1 and multicasts through the loopback interface only (IP_MULTICAST_IF,
checked after it is set): nothing leaves the machine.

The loopback group is shared by every process on the machine, so the floods use a service type of
their own (FLOOD_TYPE, described by a test integration like any camera type) and end with goodbyes:
other browsers on the machine never list the flood, and tests here look only at the names they sent.
"""

from __future__ import annotations

import asyncio
import json
import resource
import socket
import struct
import sys
import time
import tracemalloc
import types
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
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

LOOPBACK = "127.0.0.1"
MDNS_GROUP, MDNS_PORT = "224.0.0.251", 5353
FLOOD_TYPE = "_camhub-flood._tcp.local."
TYPE_A, TYPE_PTR, TYPE_TXT, TYPE_SRV = 1, 12, 16, 33
CLASS_IN, CACHE_FLUSH = 1, 0x8000
RESPONSE_FLAGS = 0x8400  # QR (a response) and AA (authoritative), as every mDNS responder sends
# python-zeroconf discards datagrams longer than this (its _MAX_MSG_ABSOLUTE).
MAX_PACKET = 8966


# --- DNS responses, byte by byte ---


def dns_name(*labels: str | bytes) -> bytes:
    """A DNS name from labels, each written as given: dots, NUL and bytes that are not UTF-8 included."""
    out = b""
    for label in labels:
        raw = label.encode() if isinstance(label, str) else label
        if not 0 < len(raw) < 64:
            raise ValueError(f"a DNS label is 1 to 63 bytes, not {len(raw)}: {raw!r}")
        out += bytes([len(raw)]) + raw
    return out + b"\0"


def type_name(service_type: str) -> bytes:
    return dns_name(*service_type.rstrip(".").split("."))


def service_name(instance: str | bytes, service_type: str) -> bytes:
    """The instance's full name: its label (one label, whatever it holds), then the type's."""
    return dns_name(instance, *service_type.rstrip(".").split("."))


def host_name(host: str) -> bytes:
    return dns_name(*host.rstrip(".").split("."))


def record(owner: bytes, rtype: int, rdata: bytes, ttl: int, flush: bool = True) -> bytes:
    cls = CLASS_IN | (CACHE_FLUSH if flush else 0)
    return owner + struct.pack("!HHIH", rtype, cls, ttl, len(rdata)) + rdata


def ptr(instance: str | bytes, service_type: str, ttl: int = 4500) -> bytes:
    # A PTR is a shared record (many instances per type): never sent with the cache-flush bit.
    return record(type_name(service_type), TYPE_PTR, service_name(instance, service_type), ttl, flush=False)


def srv(instance: str | bytes, service_type: str, port: int, host: str, ttl: int = 120) -> bytes:
    return record(
        service_name(instance, service_type), TYPE_SRV, struct.pack("!HHH", 0, 0, port) + host_name(host), ttl
    )


def txt(
    instance: str | bytes, service_type: str, strings: Iterable[bytes], ttl: int = 4500, flush: bool = True
) -> bytes:
    rdata = b""
    for s in strings:
        if len(s) > 255:
            raise ValueError(f"a TXT string is at most 255 bytes, not {len(s)}")
        rdata += bytes([len(s)]) + s
    return record(service_name(instance, service_type), TYPE_TXT, rdata or b"\0", ttl, flush)


def address(host: str, ip: str, ttl: int = 120) -> bytes:
    return record(host_name(host), TYPE_A, socket.inet_aton(ip), ttl)


def response(*records: bytes) -> bytes:
    """An unsolicited mDNS response (an announcement) carrying `records` as answers."""
    return struct.pack("!6H", 0, RESPONSE_FLAGS, 0, len(records), 0, 0) + b"".join(records)


def announcement(
    instance: str | bytes,
    service_type: str,
    *,
    port: int = 554,
    host: str = "hostile.local.",
    ip: str | None = "127.0.0.9",
    properties: Iterable[bytes] = (b"path=/live",),
) -> bytes:
    """One service's PTR, SRV, TXT and (unless `ip` is None) A record, in one response."""
    records = [
        ptr(instance, service_type),
        srv(instance, service_type, port, host),
        txt(instance, service_type, properties),
    ]
    if ip is not None:
        records.append(address(host, ip))
    return response(*records)


def goodbye(instances: Iterable[str | bytes], service_type: str) -> Iterator[bytes]:
    """Responses withdrawing `instances` (their PTRs with a TTL of 0), 32 to a packet."""
    batch: list[bytes] = []
    for instance in instances:
        batch.append(ptr(instance, service_type, ttl=0))
        if len(batch) == 32:
            yield response(*batch)
            batch = []
    if batch:
        yield response(*batch)


def flood_packets(names: Sequence[str], per_packet: int = 8, host: str = "flood.local.") -> list[bytes]:
    """Announcements of `names` under FLOOD_TYPE, `per_packet` services to a packet.

    The services share one host; its A record rides in every packet, so that it is the freshest
    record in a full cache rather than the first to be evicted.
    """
    packets = []
    for at in range(0, len(names), per_packet):
        records = []
        for n in names[at : at + per_packet]:
            records += [
                ptr(n, FLOOD_TYPE),
                srv(n, FLOOD_TYPE, 554, host),
                txt(n, FLOOD_TYPE, [b"path=/live/" + n.encode(), b"model=Flood", b"serial=" + n.encode()]),
            ]
        packets.append(response(*records, address(host, "127.0.0.10")))
    return packets


class HostilePeer:
    """A UDP socket that multicasts mDNS responses through the loopback interface, and nowhere else."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((LOOPBACK, 0))
        self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(LOOPBACK))
        self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
        self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        if self.sock.getsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, 4) != socket.inet_aton(LOOPBACK):
            self.sock.close()
            raise RuntimeError("the hostile peer's multicast interface is not 127.0.0.1; refusing to send")
        self.sent = 0

    def send(self, packet: bytes) -> None:
        self.sock.sendto(packet, (MDNS_GROUP, MDNS_PORT))
        self.sent += 1

    def send_paced(self, packets: Sequence[bytes], per_second: float) -> float:
        """Send `packets` at about `per_second` (blocking: run it in a thread); the seconds it took."""
        started = time.monotonic()
        for i, packet in enumerate(packets):
            self.send(packet)
            ahead = started + (i + 1) / per_second - time.monotonic()
            if ahead > 0.002:
                time.sleep(ahead)
        return time.monotonic() - started

    def send_heard(self, packets: Sequence[bytes], heard: Callable[[], int], notes: int, burst: int = 16) -> float:
        """Send `packets` as fast as the hub takes them in (blocking: run it in a thread); the seconds it took.

        Each packet should make the hub note `notes` announcements; after each burst the peer waits
        until `heard()` (the hub's count) says it has, or has not grown for 0.2 s (a datagram lost in
        the kernel). A flood sent faster than the hub reads its socket is mostly lost before the hub
        sees it, which would test nothing.
        """
        started, first = time.monotonic(), heard()
        for at in range(0, len(packets), burst):
            for packet in packets[at : at + burst]:
                self.send(packet)
            expected = first + (at + burst) * notes
            quiet_since, last = time.monotonic(), heard()
            while last < expected and time.monotonic() - quiet_since < 0.2:
                time.sleep(0.001)
                if (now := heard()) != last:
                    quiet_since, last = time.monotonic(), now
        return time.monotonic() - started

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> HostilePeer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- the browser under watch ---


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
    sys.modules[module.__name__] = module
    flood = FoundIntegration(module.__name__, manifest, "flood", "the hostile flood (tests/security/hostile_mdns.py)")
    return Registry().load([*builtin_integrations(), *installed_integrations(), flood])


class CountingBrowser(ZeroconfBrowser):
    """The hub's browser, counting what it hears and what it resolves (totals, and per name for `watched`)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.notes = 0  # announcements noted (added or updated), before any dropping
        self.resolves = 0
        self.watched: dict[str, int] = {}  # name -> resolves, for names a test put here
        self.heard: dict[str, int] = {}  # name -> notes, for the same names
        self.most_pending = 0  # the longest the pending queue was

    def watch(self, name: str) -> None:
        self.watched[name] = self.heard[name] = 0

    def _on_change(self, zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange) -> None:
        if state_change is not ServiceStateChange.Removed:
            self.notes += 1
            if name in self.heard:
                self.heard[name] += 1
        super()._on_change(zeroconf, service_type, name, state_change)
        self.most_pending = max(self.most_pending, self._queue.qsize())

    async def _resolve(self, service_type: str, name: str) -> ServiceRecord | None:
        self.resolves += 1
        if name in self.watched:
            self.watched[name] += 1
        return await super()._resolve(service_type, name)


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
    packet before it (one socket, in order). Other names pending (other processes announce on
    loopback too) are not waited for.
    """
    marker = f"{prefix}-marker.{FLOOD_TYPE}"
    b.browser.watch(marker)
    peer.send(announcement(marker.split(".")[0], FLOOD_TYPE, ip="127.0.0.11"))
    await until(lambda: b.browser.heard[marker] > 0, seconds, "the marker announcement heard")
    await until(lambda: not any(name.startswith(prefix) for name in b.browser._queued), seconds, "the flood resolved")


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
    memory_growth: int  # bytes (tracemalloc) after the flood, over before it
    memory_peak: int  # bytes (tracemalloc) at the peak, over before it
    rss_peak_kb: int  # the process's peak resident set, whole run

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
) -> FloodResult:
    """Announce `services` distinct services under FLOOD_TYPE, wait until the browser settles, measure.

    At `rate` packets a second, or (None) as fast as the browser notes them (HostilePeer.send_heard).
    """
    names = [f"{prefix}-{i:05d}" for i in range(services)]
    packets = flood_packets(names, per_packet)
    resolves, dropped = b.browser.resolves, b.browser.dropped
    notes = b.browser.notes
    with HostilePeer() as peer:
        memory.start()
        b.loop.reset()
        b.browser.most_pending = 0
        if rate is None:
            seconds = await asyncio.to_thread(peer.send_heard, packets, lambda: b.browser.notes, per_packet)
        else:
            seconds = await asyncio.to_thread(peer.send_paced, packets, rate)
        await settled(b, prefix, peer)
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
        memory_growth=memory.growth,
        memory_peak=memory.peak_growth,
        rss_peak_kb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    )


async def withdraw_flood(b: Browsing, services: int, prefix: str = "flood") -> None:
    """Say goodbye for every flooded service, and wait until the table holds none of them."""
    names = [f"{prefix}-{i:05d}" for i in range(services)] + [f"{prefix}-marker"]
    with HostilePeer() as peer:
        await asyncio.to_thread(peer.send_paced, list(goodbye(names, FLOOD_TYPE)), 500)
    await until(lambda: present(b.table, prefix) == 0, 30, "the flood withdrawn")
