"""A hostile mDNS peer on 127.0.0.1: announcements written byte by byte, sent through loopback only.

Used by tests/security/test_discovery_hostile.py and, through hostile_browsing.py, by
bench/discovery_flood.py, so that the bench measures the very flood the test asserts on.

python-zeroconf's ServiceInfo refuses much of what an attacker would send (a dot or a NUL inside a
label, TXT that is not UTF-8, a port of 0, a service with no address), so the responses here are
written byte by byte as RFC 1035 and RFC 6762 lay them out, and sent from a plain UDP socket. That
socket is bound to 127.0.0.1 and multicasts through the loopback interface only (IP_MULTICAST_IF,
checked after it is set): nothing leaves the machine.

The loopback group is shared by every process on the machine, so the floods use a service type of
their own (FLOOD_TYPE, which hostile_browsing.flood_registry describes like any camera type) and
end with goodbyes: other browsers on the machine never list the flood.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Callable, Iterable, Iterator, Sequence

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
    """A UDP socket that multicasts mDNS responses through the loopback interface, and nowhere else.

    `leaving(instances, type)` has it say goodbye for them when it closes, however the test ended,
    so that no other zeroconf on the machine keeps them.
    """

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
        self._leaving: list[tuple[list[str | bytes], str]] = []

    def leaving(self, instances: Iterable[str | bytes], service_type: str) -> None:
        self._leaving.append((list(instances), service_type))

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
        until `heard()` (the hub's count) says it has, or has not grown for 0.5 s (a datagram lost in
        the kernel). A flood sent faster than the hub reads its socket is mostly lost before the hub
        sees it, which would test nothing.
        """
        started, first = time.monotonic(), heard()
        for at in range(0, len(packets), burst):
            for packet in packets[at : at + burst]:
                self.send(packet)
            expected = first + (at + burst) * notes
            quiet_since, last = time.monotonic(), heard()
            while last < expected and time.monotonic() - quiet_since < 0.5:
                time.sleep(0.001)
                if (now := heard()) != last:
                    quiet_since, last = time.monotonic(), now
        return time.monotonic() - started

    def close(self) -> None:
        try:
            for instances, service_type in self._leaving:
                for packet in goodbye(instances, service_type):
                    self.send(packet)
        finally:
            self.sock.close()

    def __enter__(self) -> HostilePeer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
