"""The discovered devices: findings merged into devices, each with a state, in a bounded table.

A device is what one or more findings describe: findings with the same
identity (MAC, else serial, else host and port; `Finding.identity`) or the
same announcement key are one device. Its state is what the owner decided
(`new`, `adopted`, `ignored`) while it is heard, and `gone` once every
announcement of it was withdrawn. A finding whose announcement key is known
but whose address changed is the same device moved (DHCP); the hub follows
an adopted one.

The table holds at most `max_devices`; when full, a device that is gone and
was never adopted makes room, else the new one is left out and the log says
so once. Every change is published on the bus as `DeviceChanged`.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from camhub.clock import Clock
from camhub.discovery.model import Finding, Stream

log = logging.getLogger(__name__)

NEW, ADOPTED, IGNORED, GONE = "new", "adopted", "ignored", "gone"
# Announcements one device keeps (one per service type and kind is usual); the oldest goes first.
MAX_FINDINGS = 16
STATES = (NEW, ADOPTED, IGNORED, GONE)


@dataclass(frozen=True)
class DeviceChanged:
    """A discovered device appeared, changed, moved, went or was decided on (for MQTT and the dashboard)."""

    device: str  # its id, as /api/discovered lists it
    state: str  # one of STATES
    change: str  # found | updated | moved | gone | returned | adopted | ignored | forgotten
    name: str


@dataclass(frozen=True)
class Decision:
    """What the owner decided about a device, kept across restarts (camhub.discovery.adopted)."""

    state: str  # ADOPTED or IGNORED
    camera: str | None = None  # the camera it was adopted as
    configured: bool = False  # known from the YAML config rather than adopted


def device_id(identity: str) -> str:
    return hashlib.sha256(identity.encode()).hexdigest()[:12]


class Device:
    """One discovered device; only the table changes it."""

    def __init__(self, identity: str, now: float) -> None:
        self.id = device_id(identity)
        self.identity = identity
        self.findings: dict[str, Finding] = {}  # by announcement key, most recent last
        self.first_seen = self.last_seen = now
        self.decision: Decision | None = None
        self.remembered: list[Finding] = []  # what was last heard, shown once it is gone

    @property
    def present(self) -> bool:
        return bool(self.findings)

    @property
    def state(self) -> str:
        if not self.present:
            return GONE
        return self.decision.state if self.decision else NEW

    @property
    def latest(self) -> Finding | None:
        return next(reversed(self.heard()), None)

    def heard(self) -> list[Finding]:
        """Its findings; once gone, what was last heard of it."""
        return list(self.findings.values()) or self.remembered

    def streams(self) -> tuple[Stream, ...]:
        """Every stream its findings suggest, RTSP first, each URL once."""
        seen: dict[str, Stream] = {}
        for f in self.heard():
            for s in f.streams:
                seen.setdefault(s.url, s)
        return tuple(sorted(seen.values(), key=lambda s: (not s.url.startswith("rtsp"), s.label != "main")))

    def view(self) -> dict[str, Any]:
        """The device as the API and `camhub discover --json` show it; never a secret."""
        findings = self.heard()
        latest = self.latest
        adoptable = [f for f in findings if f.adoptable]
        reasons = [f.reason for f in findings if not f.adoptable and f.reason]

        def fact(name: str) -> str:
            return next((getattr(f, name) for f in reversed(findings) if getattr(f, name)), "")

        streams = self.streams()
        return {
            "id": self.id,
            "state": self.state,
            "name": fact("name"),
            "kinds": sorted({f.kind for f in findings}),
            "integrations": sorted({f.integration for f in findings}),
            "address": f"{latest.host}:{latest.port}" if latest else None,
            "maker": fact("maker"),
            "model": fact("model"),
            "mac": next((f.mac for f in findings if f.mac), None),
            "serial": fact("serial"),
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "adoptable": bool(adoptable) and self.state in (NEW, IGNORED),
            "why_not": _why_not(self, bool(adoptable), reasons),
            "camera": self.decision.camera if self.decision else None,
            "configured": bool(self.decision and self.decision.configured),
            "streams": [{"url": s.url, "label": s.label, "width": s.width, "height": s.height} for s in streams],
            "record": streams[0].url if streams else None,
            "detect": smallest(streams).url if streams else None,
            "onvif": any(f.device_service for f in findings),
        }


def _why_not(device: Device, adoptable: bool, reasons: list[str]) -> str | None:
    if device.state == ADOPTED:
        return f"already a camera: {device.decision.camera}" if device.decision else None
    if device.state == GONE:
        return "not heard on the network now"
    if not adoptable:
        return reasons[0] if reasons else "no integration can read it"
    return None


def smallest(streams: tuple[Stream, ...]) -> Stream:
    """The stream to detect motion on: the smallest known size, else the sub stream, else the main one."""
    sized = [s for s in streams if s.width and s.height]
    if sized:
        return min(sized, key=lambda s: (s.width or 0) * (s.height or 0))
    return next((s for s in streams if s.label == "sub"), streams[0])


class DeviceTable:
    """The devices heard on the network, by id; bounded."""

    def __init__(
        self,
        clock: Clock,
        max_devices: int = 256,
        publish: Callable[[DeviceChanged], None] = lambda event: None,
        decisions: Mapping[str, Decision] | None = None,
        configured: Mapping[str, Iterable[str]] | None = None,
    ) -> None:
        self.clock = clock
        self.max_devices = max_devices
        self.publish = publish
        self.decisions: dict[str, Decision] = dict(decisions or {})  # by identity
        # The config file's cameras by name, with their input URLs (no credentials): a device offering one is known.
        self.configured = {name: frozenset(urls) for name, urls in (configured or {}).items()}
        self.devices: dict[str, Device] = {}  # by id
        self._by_key: dict[str, str] = {}  # announcement key -> device id
        self._full_said = False
        # Called with (device, old finding, new finding) when a device's address changed.
        self.on_moved: list[Callable[[Device, Finding, Finding], None]] = []

    def __len__(self) -> int:
        return len(self.devices)

    def get(self, id: str) -> Device | None:
        return self.devices.get(id)

    def views(self) -> list[dict[str, Any]]:
        return [d.view() for d in sorted(self.devices.values(), key=lambda d: (d.state == GONE, d.first_seen, d.id))]

    def offer(self, finding: Finding) -> Device | None:
        """Take in what an announcement or probe answer says; None when the table is full."""
        now = self.clock()
        known_id = self._by_key.get(finding.key)
        device = self.devices.get(known_id) if known_id else None
        if device is None:
            device = self.devices.get(device_id(finding.identity))
        if device is None:
            if not self._make_room():
                return None
            device = Device(finding.identity, now)
            device.decision = self.decisions.get(device.identity)
            self.devices[device.id] = device
        old = device.findings.pop(finding.key, None)
        was_present = device.present
        device.findings[finding.key] = finding
        while len(device.findings) > MAX_FINDINGS:
            self._by_key.pop(next(iter(device.findings)), None)
            del device.findings[next(iter(device.findings))]
        device.last_seen = now
        self._by_key[finding.key] = device.id
        if device.decision is None:
            self._match_configured(device)
        if old is None and not was_present:
            self._say(device, "found" if device.first_seen == now else "returned")
        elif old is not None and (old.host, old.port) != (finding.host, finding.port):
            # Said for the cameras the hub follows; any other device could be made to move (and fill
            # the log) many times a minute. The bus still tells of every move.
            log.log(
                logging.INFO if device.state == ADOPTED else logging.DEBUG,
                "discovery: %s moved from %s:%d to %s:%d",
                device.view()["name"],
                old.host,
                old.port,
                finding.host,
                finding.port,
            )
            self._say(device, "moved")
            for follow in self.on_moved:
                follow(device, old, finding)
        elif old != finding:
            self._say(device, "updated")
        return device

    def withdraw(self, key: str) -> None:
        """An announcement was withdrawn (zeroconf goodbye, or not answered any more)."""
        id = self._by_key.pop(key, None)
        device = self.devices.get(id) if id else None
        if device is None or key not in device.findings:
            return
        if len(device.findings) == 1:
            device.remembered = list(device.findings.values())
        del device.findings[key]
        if not device.present:
            self._say(device, "gone")

    def expire(self, kind: str, before: float) -> None:
        """Withdraw findings of `kind` not heard since `before` (probe answers do not say goodbye)."""
        stale = [
            key
            for device in self.devices.values()
            if device.last_seen < before
            for key, f in device.findings.items()
            if f.kind == kind
        ]
        for key in stale:
            self.withdraw(key)

    def decide(self, device: Device, decision: Decision | None) -> None:
        """Record the owner's decision (adopted, ignored, or None to make it new again)."""
        if decision is None:
            self.decisions.pop(device.identity, None)
        else:
            self.decisions[device.identity] = decision
        device.decision = decision
        self._say(device, decision.state if decision else "forgotten")

    def _match_configured(self, device: Device) -> None:
        """A device offering a stream a configured camera reads is that camera, known from the config."""
        offered = {s.url for s in device.streams()}
        for camera, urls in self.configured.items():
            if offered & urls:
                device.decision = Decision(ADOPTED, camera, configured=True)
                return

    def _make_room(self) -> bool:
        if len(self.devices) < self.max_devices:
            return True
        spare = [
            d for d in self.devices.values() if not d.present and (d.decision is None or d.decision.state != ADOPTED)
        ]
        if spare:
            oldest = min(spare, key=lambda d: d.last_seen)
            del self.devices[oldest.id]
            return True
        if not self._full_said:
            self._full_said = True
            log.warning(
                "discovery: the table of discovered devices is full (%d); new devices are left out until some go "
                "(discovery.max_devices)",
                self.max_devices,
            )
        return False

    def _say(self, device: Device, change: str) -> None:
        self.publish(DeviceChanged(device.id, device.state, change, device.view()["name"]))
