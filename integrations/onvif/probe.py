"""ONVIF WS-Discovery: one Probe for video transmitters, and its answers read as findings.

Order of a probe: open one UDP socket per interface address, bound to that
address, with IP_MULTICAST_IF set to it and a TTL of 1, so the Probe leaves
by that interface only and answers come back to it; send the Probe to
239.255.255.250:3702 from each (twice, as SOAP-over-UDP asks, with the same
message id); listen for `seconds`; close the sockets; read what is still
queued. The sockets join no multicast group: ProbeMatches come back unicast.

The messages are wsdiscovery's (its Probe builder and its ProbeMatches
reader); the sockets are ours, because its own networking joins the group on
every interface and cannot be confined (docs/decisions.md, 2026-11-30).

Answers are hostile network input. A datagram over MAX_DATAGRAM is dropped
unread; at most MAX_PENDING wait to be read and MAX_READ are read per probe;
XML with a DTD or entities is refused (defusedxml), and parsing runs in a
thread so a flood cannot stall the event loop; at most MAX_FINDINGS devices
are kept. Each kind of problem is logged once per probe, naming the sender.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, unquote, urlsplit

import ifaddr
from defusedxml import DefusedXmlException
from defusedxml.minidom import parseString
from wsdiscovery.actions import NS_ACTION_PROBE_MATCH, constructProbe, createProbeMessage, parseProbeMatchMessage
from wsdiscovery.namespaces import NS_ADDRESSING
from wsdiscovery.qname import QName

from camhub.discovery.describe import url_host, url_path
from camhub.discovery.model import ONVIF, Finding, clean_host, clean_text

log = logging.getLogger(__name__)

DOMAIN = "onvif"
GROUP = ("239.255.255.250", 3702)
# Bytes of one answer read at most; a ProbeMatches is 1 to 4 KiB, a datagram at most 64 KiB.
MAX_DATAGRAM = 32 * 1024
# Answers waiting to be read, read per probe, and devices kept per probe; the rest are dropped.
MAX_PENDING = 64
MAX_READ = 1024
MAX_FINDINGS = 256
# Scopes read per device, and XAddrs tried per device.
MAX_SCOPES = 64
MAX_XADDRS = 8
# How many times the Probe is sent, and the pause between sends (SOAP-over-UDP repeats multicast).
PROBE_SENDS = 2
PROBE_REPEAT_AFTER = 0.25
# What ONVIF cameras call themselves in WS-Discovery.
NETWORK_WSDL = "http://www.onvif.org/ver10/network/wsdl"
VIDEO_TRANSMITTER = QName(NETWORK_WSDL, "NetworkVideoTransmitter", "dn")
SCOPE_PREFIX = "onvif://www.onvif.org/"
# Scope categories by what a finding calls them; cameras spell the maker both ways.
SCOPE_FIELDS = {"name": "name", "hardware": "model", "mfr": "maker", "manufacturer": "maker", "mac": "mac"}
SCOPE_FIELDS |= {"serial": "serial", "serialnumber": "serial"}
_DEFAULT_PORTS = {"http": 80, "https": 443}


class Problem(Exception):
    """Why an answer gave no finding, in words for the log; `kind` keeps one line per kind per probe."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


@dataclass(frozen=True)
class ProbeMessage:
    message_id: str
    data: bytes


def probe_message() -> ProbeMessage:
    """A Probe for ONVIF video transmitters, built by wsdiscovery."""
    envelope = constructProbe([VIDEO_TRANSMITTER], [])
    return ProbeMessage(envelope.getMessageId(), createProbeMessage(envelope).encode("utf-8"))


async def probe(interfaces: tuple[str, ...] | None, seconds: float) -> list[Finding]:
    """Probe through `interfaces` (IPv4 addresses; None: every interface's) and read answers for `seconds`."""
    addresses = interfaces if interfaces is not None else await asyncio.to_thread(all_ipv4_addresses)
    sockets = open_probe_sockets(addresses)
    if not sockets:
        return []
    message = probe_message()
    inbox = Inbox(message.message_id)
    reader = asyncio.create_task(inbox.read_all())
    listened = False
    try:
        await _listen(sockets, inbox, message, seconds)
        listened = True
    finally:
        inbox.close()
        if not listened:
            reader.cancel()
        # Reads what is still queued (at most MAX_PENDING answers), or ends at once when cancelled.
        await asyncio.wait([reader])
    return list(inbox.found.values())


async def _listen(sockets: list[socket.socket], inbox: Inbox, message: ProbeMessage, seconds: float) -> None:
    """Send the Probe from every socket, then hand what comes back to `inbox` until `seconds` have passed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    transports: list[asyncio.DatagramTransport] = []
    try:
        for sock in sockets:
            transport, _ = await loop.create_datagram_endpoint(lambda: _Receiver(inbox), sock=sock)
            transports.append(transport)
        for send in range(PROBE_SENDS):
            if send:
                await asyncio.sleep(min(PROBE_REPEAT_AFTER, max(0.0, deadline - loop.time())))
            for transport in transports:
                transport.sendto(message.data, GROUP)
        await asyncio.sleep(max(0.0, deadline - loop.time()))
    finally:
        for transport in transports:
            transport.close()
        for sock in sockets[len(transports) :]:
            sock.close()


def all_ipv4_addresses() -> tuple[str, ...]:
    """Every interface's IPv4 address, loopback included (where the simulator answers)."""
    found = [ip.ip for adapter in ifaddr.get_adapters() for ip in adapter.ips if isinstance(ip.ip, str)]
    return tuple(dict.fromkeys(found))


def open_probe_sockets(addresses: Iterable[str]) -> list[socket.socket]:
    """One UDP socket per IPv4 address, bound to it, sending multicast through it alone."""
    sockets: list[socket.socket] = []
    for address in addresses:
        if clean_host(address) is None or ipaddress.ip_address(address).version != 4:
            log.debug("ONVIF probe: %r is not an IPv4 address; WS-Discovery is probed over IPv4 only", address)
            continue
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
        try:
            sock.bind((address, 0))
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(address))
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
            # On by default; a responder on this host (the simulator) hears the Probe through it.
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            log.warning("ONVIF probe: cannot probe from %s: %s", address, exc)
            continue
        sockets.append(sock)
    return sockets


class Inbox:
    """Answers of one probe: bounded while they wait, read in a thread, kept by endpoint reference."""

    def __init__(self, message_id: str) -> None:
        self.message_id = message_id
        self.found: dict[str, Finding] = {}
        self._queue: asyncio.Queue[tuple[bytes, str] | None] = asyncio.Queue(MAX_PENDING + 1)
        self._accepted = 0
        self._closed = False
        self._logged: set[str] = set()

    def offer(self, data: bytes, sender: str) -> None:
        """Called for each datagram, in the event loop: cheap checks only."""
        if self._closed:
            return
        if len(data) > MAX_DATAGRAM:
            self.problem(sender, f"an answer over {MAX_DATAGRAM} bytes")
        elif self._accepted >= MAX_READ or self._queue.qsize() >= MAX_PENDING:
            self.problem(sender, "more answers than one probe reads")
        else:
            self._accepted += 1
            self._queue.put_nowait((data, sender))

    def close(self) -> None:
        """No more answers; what is queued is still read."""
        if not self._closed:
            self._closed = True
            self._queue.put_nowait(None)

    async def read_all(self) -> None:
        while (item := await self._queue.get()) is not None:
            data, sender = item
            try:
                findings = await asyncio.to_thread(read_answer, data, sender, self.message_id)
            except Problem as problem:
                self.problem(sender, problem.kind)
                continue
            for finding in findings:
                if finding.key in self.found:
                    continue
                if len(self.found) >= MAX_FINDINGS:
                    self.problem(sender, f"more than {MAX_FINDINGS} devices")
                    break
                self.found[finding.key] = finding

    def problem(self, sender: str, kind: str) -> None:
        if kind not in self._logged:
            self._logged.add(kind)
            log.info("ONVIF probe: ignored %s from %s (not logged again in this probe)", kind, sender)


class _Receiver(asyncio.DatagramProtocol):
    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self.inbox.offer(data, str(addr[0]))

    def error_received(self, exc: Exception) -> None:
        log.debug("ONVIF probe: socket error %s", exc)


def read_answer(data: bytes, sender: str, message_id: str) -> list[Finding]:
    """The findings in one ProbeMatches answering `message_id`; raises Problem when there are none."""
    try:
        dom = parseString(data, forbid_dtd=True)
    except DefusedXmlException:
        raise Problem("an answer with a DTD or entities") from None
    except Exception:  # expat's errors, and decoding errors, vary; all mean the same here
        raise Problem("an answer that is not XML") from None
    actions = dom.getElementsByTagNameNS(NS_ADDRESSING, "Action")
    if not actions or _text(actions[0]) != NS_ACTION_PROBE_MATCH:
        raise Problem("a message that is not a ProbeMatches")
    try:
        envelope = parseProbeMatchMessage(dom)
    except (IndexError, AttributeError, TypeError, ValueError):
        raise Problem("a ProbeMatches missing a required element") from None
    if envelope.getRelatesTo() != message_id:
        raise Problem("a ProbeMatches answering another probe")
    findings: list[Finding] = []
    for match in envelope.getProbeResolveMatches()[:MAX_FINDINGS]:
        scopes = [scope.getValue() for scope in match.getScopes()]
        try:
            finding = finding_from_match(match.getEPR(), match.getXAddrs(), scopes, sender)
        except (ValueError, TypeError, AttributeError):
            finding = None
        if finding is not None:
            findings.append(finding)
    if not findings:
        raise Problem("a ProbeMatches without a usable endpoint and XAddr")
    return findings


def _text(node: object) -> str:
    child = getattr(node, "firstChild", None)
    return str(getattr(child, "data", "")).strip()


def finding_from_match(endpoint: str, xaddrs: Sequence[str], scopes: Sequence[str], sender: str) -> Finding | None:
    """One ProbeMatch as a finding: None without an endpoint reference or a usable XAddr."""
    key = clean_text(endpoint, 256)
    service = device_service(xaddrs, sender)
    if not key or service is None:
        return None
    url, parts = service
    facts = scope_facts(scopes)
    host = clean_host(parts.hostname or "") or ""
    return Finding(
        kind=ONVIF,
        key=key,
        integration=DOMAIN,
        host=host,
        port=parts.port or 0,  # device_service() wrote the port into the URL
        name=facts.get("name") or facts.get("model") or f"ONVIF camera at {host}",
        maker=facts.get("maker", ""),
        model=facts.get("model", ""),
        mac=facts.get("mac"),
        serial=facts.get("serial", ""),
        device_service=url,
    )


def device_service(xaddrs: Sequence[str], sender: str) -> tuple[str, SplitResult] | None:
    """The device service URL to keep, rebuilt from its checked parts: the XAddr on the sender's own
    address when there is one, else the first usable. An XAddr names an IP address, not a host name."""
    usable: list[tuple[str, SplitResult]] = []
    for xaddr in xaddrs[:MAX_XADDRS]:
        try:
            parts = urlsplit(xaddr.strip())
            port = _DEFAULT_PORTS.get(parts.scheme.lower(), 0) if parts.port is None else parts.port
        except ValueError:
            continue
        host = clean_host(parts.hostname or "")
        path = url_path(parts.path or "/")
        if parts.scheme.lower() not in _DEFAULT_PORTS or host is None or path is None or not 0 < port < 65536:
            continue
        scheme = parts.scheme.lower()
        url = f"{scheme}://{url_host(host)}:{port}{path}"
        usable.append((url, urlsplit(url)))
    on_sender = [u for u in usable if u[1].hostname == sender]
    if on_sender or usable:
        return (on_sender or usable)[0]
    return None


def scope_facts(scopes: Sequence[str]) -> dict[str, str]:
    """Name, model, maker, MAC and serial from onvif://www.onvif.org/<category>/<value> scopes, URL-decoded."""
    facts: dict[str, str] = {}
    for scope in scopes[:MAX_SCOPES]:
        if scope[: len(SCOPE_PREFIX)].lower() != SCOPE_PREFIX:
            continue
        category, _, value = scope[len(SCOPE_PREFIX) :].partition("/")
        field = SCOPE_FIELDS.get(category.lower())
        text = clean_text(unquote(value, errors="replace"))
        if field and text and field not in facts:
            facts[field] = text
    return facts
