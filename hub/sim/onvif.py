"""The simulator's ONVIF side: WS-Discovery answers on loopback, and a device service per camera.

`OnvifResponder(cameras, credentials)`: `start()` serves each camera's device
and media services over HTTP on 127.0.0.1 (onvif_device.py), then listens
for WS-Discovery Probes on 239.255.255.250:3702, joined on 127.0.0.1 only.
A Probe for video transmitters (or for any type) from a loopback address
gets one ProbeMatches per camera, unicast back to the sender, with the
camera's endpoint reference, its scopes (name, hardware, manufacturer, MAC,
serial) and its XAddr, the device service. `stop()` closes the socket, then
the servers; it is safe to call twice.

The messages are wsdiscovery's, read with defusedxml; the socket is ours, so
that nothing here joins the group, or answers, on another interface.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import struct
import sys
import uuid
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from defusedxml.minidom import parseString
from wsdiscovery.actions import (
    NS_ACTION_PROBE,
    NS_ACTION_PROBE_MATCH,
    ProbeResolveMatch,
    createProbeMatchMessage,
    parseProbeMessage,
)
from wsdiscovery.envelope import SoapEnvelope
from wsdiscovery.namespaces import NS_ADDRESS_UNKNOWN, NS_ADDRESSING
from wsdiscovery.qname import QName
from wsdiscovery.scope import Scope

from camhub.sim.onvif_device import DEVICE_WSDL, HOST, OnvifCamera, OnvifDeviceService, OnvifStream

__all__ = ["GROUP", "OnvifCamera", "OnvifResponder", "OnvifStream", "group_socket"]

log = logging.getLogger(__name__)

GROUP = ("239.255.255.250", 3702)
NETWORK_WSDL = "http://www.onvif.org/ver10/network/wsdl"
TYPES = (QName(NETWORK_WSDL, "NetworkVideoTransmitter", "dn"), QName(DEVICE_WSDL, "Device", "tds"))
# Probes longer than this are not read (a Probe is well under 1 KiB).
MAX_PROBE = 8 * 1024
# Linux's IP_MULTICAST_ALL (not in Python's socket module): 0 makes the socket hear only its own
# memberships, not groups another socket of this host joined on another interface.
IP_MULTICAST_ALL = 49


class OnvifResponder:
    """Simulated ONVIF cameras on 127.0.0.1; `credentials` (user, password) guard their services."""

    def __init__(self, cameras: Sequence[OnvifCamera], credentials: tuple[str, str] | None = None) -> None:
        endpoints = [cam.endpoint for cam in cameras]
        if len(set(endpoints)) != len(endpoints):
            raise ValueError("each simulated ONVIF camera needs its own endpoint reference")
        self.cameras = [_without_credentials(cam) for cam in cameras]
        self.credentials = credentials
        self.services: list[OnvifDeviceService] = []
        self.probes_answered = 0
        self._transport: asyncio.DatagramTransport | None = None
        self._instance = str(uuid.uuid4().int % 0xFFFFFFFF)
        self._message_number = 0

    def service(self, name: str) -> OnvifDeviceService:
        """The device service of the camera called `name`."""
        for service in self.services:
            if service.camera.name == name:
                return service
        raise KeyError(f"no simulated ONVIF camera named {name!r}")

    async def start(self) -> None:
        if self._transport is not None:
            return
        try:
            for camera in self.cameras:
                service = OnvifDeviceService(camera, self.credentials)
                self.services.append(service)
                await service.start()
            loop = asyncio.get_running_loop()
            self._transport, _ = await loop.create_datagram_endpoint(lambda: _ProbeListener(self), sock=group_socket())
        except BaseException:
            await self.stop()
            raise
        log.info("simulator ONVIF: %d camera(s) answer WS-Discovery on %s", len(self.cameras), HOST)

    async def stop(self) -> None:
        transport, self._transport = self._transport, None
        if transport is not None:
            transport.close()
        services, self.services = self.services, []
        for service in services:
            await service.stop()

    def answer(self, data: bytes, sender: tuple[str, int]) -> None:
        """Answer one datagram heard on the group, when it is a Probe for us from this host."""
        if self._transport is None or len(data) > MAX_PROBE or not ipaddress.ip_address(sender[0]).is_loopback:
            return
        try:
            dom = parseString(data, forbid_dtd=True)
            actions = dom.getElementsByTagNameNS(NS_ADDRESSING, "Action")
            if not actions or actions[0].firstChild.data.strip() != NS_ACTION_PROBE:
                return
            probe = parseProbeMessage(dom)
        except Exception:  # what a Probe can be is the library's to judge; a bad one gets no answer
            log.debug("simulator ONVIF: ignored a datagram from %s that is not a Probe", sender[0])
            return
        wanted = {t.getLocalname() for t in probe.getTypes()}
        if wanted and not wanted & {t.getLocalname() for t in TYPES}:
            return
        self.probes_answered += 1
        for service in self.services:
            self._transport.sendto(self._probe_match(service, probe.getMessageId()), sender)

    def _probe_match(self, service: OnvifDeviceService, relates_to: str) -> bytes:
        # Built field by field: wsdiscovery's constructProbeMatch reseeds the process's `random`.
        self._message_number += 1
        envelope = SoapEnvelope()
        envelope.setAction(NS_ACTION_PROBE_MATCH)
        envelope.setTo(NS_ADDRESS_UNKNOWN)
        envelope.setMessageId(uuid.uuid4().urn)
        envelope.setRelatesTo(relates_to)
        envelope.setInstanceId(self._instance)
        envelope.setMessageNumber(str(self._message_number))
        cam = service.camera
        envelope.getProbeResolveMatches().append(
            ProbeResolveMatch(cam.endpoint, list(TYPES), scopes(cam), [service.xaddr], "1")
        )
        return str(createProbeMatchMessage(envelope)).encode("utf-8")


def scopes(cam: OnvifCamera) -> list[Scope]:
    """The ONVIF scopes a camera announces, values URL-encoded as cameras send them."""
    values = {
        "type": "video_encoder",
        "Profile": "Streaming",
        "name": cam.name,
        "hardware": cam.model,
        "manufacturer": cam.maker,
        "MAC": cam.mac,
        "serial": cam.serial,
    }
    return [Scope(f"onvif://www.onvif.org/{key}/{quote(value, safe='')}") for key, value in values.items() if value]


def _without_credentials(cam: OnvifCamera) -> OnvifCamera:
    """The camera with its stream URLs stripped of user info: a camera hands out URLs without them."""
    streams = []
    for stream in cam.streams:
        parts = urlsplit(stream.url)
        netloc = parts.netloc.rsplit("@", 1)[-1]
        streams.append(OnvifStream(urlunsplit(parts._replace(netloc=netloc)), stream.width, stream.height, stream.name))
    return OnvifCamera(cam.name, tuple(streams), cam.model, cam.maker, cam.mac, cam.serial, cam.firmware, cam.endpoint)


def group_socket() -> socket.socket:
    """A socket on 239.255.255.250:3702 that joined the group on 127.0.0.1 alone."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    try:
        # Several responders (and tests' stand-ins) may listen on this host at once.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if sys.platform == "linux":
            sock.setsockopt(socket.IPPROTO_IP, IP_MULTICAST_ALL, 0)
        sock.bind(GROUP)
        membership = struct.pack("4s4s", socket.inet_aton(GROUP[0]), socket.inet_aton(HOST))
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(HOST))
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


class _ProbeListener(asyncio.DatagramProtocol):
    def __init__(self, responder: OnvifResponder) -> None:
        self.responder = responder

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self.responder.answer(data, (str(addr[0]), addr[1]))
