"""Discovery while the hub runs: browsing, probing, announcing, and what owners decide.

`Discovery.run()` is a task of the hub's TaskGroup: it opens zeroconf on the
configured interfaces only, announces the hub, browses the types the
integrations describe and probes with each discovery integration (ONVIF),
and on cancellation withdraws the announcement and closes every socket.

Adopting (`adopt`) tests each chosen stream first and, only when both work,
writes `camera_adopted` to the audit log, keeps the camera (cameras.db and
the credentials file) and starts it; any failure leaves nothing behind.
Removing writes `camera_removed`, then stops the camera and forgets it; its
clips stay under retention. When an adopted camera's address changes, the
hub follows it: `camera_changed`, new URLs kept, the camera restarted.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from camhub import __version__
from camhub.audit import AuditLog
from camhub.audit.events import CameraAdopted, CameraChanged, CameraRemoved
from camhub.auth.identity import Identity
from camhub.clock import Clock
from camhub.config import DiscoveryConfig
from camhub.discovery.adopted import AdoptedCamera, AdoptedStore
from camhub.discovery.announce import HubAnnouncer, hub_id
from camhub.discovery.browse import ZeroconfBrowser
from camhub.discovery.check import StreamCheckFailed, StreamFacts, check_stream
from camhub.discovery.describe import url_host
from camhub.discovery.model import Finding, Stream
from camhub.discovery.network import announced_addresses, open_zeroconf, started
from camhub.discovery.table import ADOPTED, IGNORED, Decision, Device, DeviceTable, smallest
from camhub.errors import BadRequest, HubError, NotFound
from camhub.fleet import CameraFleet
from camhub.redact import redact_url
from camhub.registry import Registry
from camhub.registry.loader import Prober

log = logging.getLogger(__name__)

# Seconds each probe listens for answers; findings of a probe kind not heard for EXPIRE_PROBES probes are gone.
PROBE_SECONDS = 3.0
EXPIRE_PROBES = 2.5
# Seconds a stream has to open and give a frame when it is tested before adoption.
CHECK_TIMEOUT = 15.0
# Seconds an adopted camera announced at a new address may keep answering at its old one before the
# announcement is taken for a spoof and not followed.
FOLLOW_PATIENCE = 120.0


class AdoptionRefused(HubError):
    """The device cannot be adopted as asked: already a camera, not adoptable, a name taken."""

    key = "adoption_refused"
    status = 409


class StreamRefused(HubError):
    """A chosen stream failed its test; `key` names why (unreachable, auth_failed, no_video, ...)."""

    status = 422

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.key = code


@dataclass(frozen=True)
class Choice:
    """What the owner chose when adopting."""

    name: str
    username: str | None
    password: str | None
    record: str | None  # URLs, None: the device's suggestion
    detect: str | None


class Discovery:
    def __init__(
        self,
        config: DiscoveryConfig,
        registry: Registry,
        table: DeviceTable,
        store: AdoptedStore,
        fleet: CameraFleet,
        audit: AuditLog,
        clock: Clock,
        data_dir: Path,
        web_port: Callable[[], int | None],
        web_host: str,
        adopted: Iterable[AdoptedCamera] = (),
        checker: Callable[..., Awaitable[Any]] = check_stream,
    ) -> None:
        self.config = config
        self.registry = registry
        self.table = table
        self.store = store
        self.fleet = fleet
        self.audit = audit
        self.clock = clock
        self.data_dir = data_dir
        self.web_port = web_port
        self.web_host = web_host
        self.check = checker
        self.adopted = {c.name: c for c in adopted}  # by camera name
        self._adopting = asyncio.Lock()
        self._follows: set[asyncio.Task[None]] = set()
        table.on_moved.append(self._moved)
        self.browser: ZeroconfBrowser | None = None

    # Running: zeroconf, the announcement, the browser and the probes.

    async def run(self) -> None:
        zc = open_zeroconf(self.config.interfaces)
        announcer = None
        try:
            await started(zc)
            port = self.web_port()
            addresses = announced_addresses(self.config.interfaces, self.web_host)
            if port is not None and addresses:
                ident = await asyncio.to_thread(hub_id, self.data_dir)
                announcer = HubAnnouncer(zc, port=port, hub_id=ident, version=__version__, addresses=addresses)
                await announcer.start()
            else:
                log.info("discovery: the web server listens on no address discovery uses; the hub is not announced")
            self.browser = ZeroconfBrowser(zc, self.registry, self.table)
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self.browser.run(), name="zeroconf-browser")
                if self.config.onvif:
                    for prober in self.registry.probers:
                        tg.create_task(self._probe_forever(prober), name=f"probe:{prober.domain}")
        finally:
            try:
                if announcer is not None:
                    await announcer.stop()
            finally:
                await zc.async_close()
                for task in list(self._follows):
                    task.cancel()
                await asyncio.gather(*self._follows, return_exceptions=True)

    async def _probe_forever(self, prober: Prober) -> None:
        domain = prober.domain
        interfaces = None if self.config.interfaces == "all" else tuple(self.config.interfaces)
        interval = self.config.probe_interval
        while True:
            started = self.clock()
            try:
                for finding in await prober.probe(interfaces, PROBE_SECONDS):
                    self.table.offer(finding)
            except (OSError, ValueError) as exc:
                log.warning("discovery: the %s probe failed: %s", domain, exc)
            kinds = {
                f.kind for d in self.table.devices.values() for f in d.findings.values() if f.integration == domain
            }
            for kind in kinds:
                self.table.expire(kind, started - EXPIRE_PROBES * interval)
            await asyncio.sleep(interval)

    # What owners decide.

    def device(self, id: str) -> Device:
        device = self.table.get(id)
        if device is None:
            raise NotFound(f"no discovered device {id[:16]!r}; GET /api/discovered lists them")
        return device

    async def adopt(self, who: Identity, id: str, choice: Choice) -> dict[str, Any]:
        async with self._adopting:
            device = self.device(id)
            view = device.view()
            if not view["adoptable"]:
                raise AdoptionRefused(f"device {id} cannot be adopted: {view['why_not']}")
            if choice.name in self.fleet.names:
                raise AdoptionRefused(f"a camera named {choice.name!r} exists; choose another name")
            record, detect = await self._streams(device, choice)
            facts: dict[str, StreamFacts] = {}
            for role, url in (("record", record), ("detect", detect)):
                if role == "detect" and url == record:
                    continue
                try:
                    facts[role] = await self.check(
                        self.registry, url, choice.username, choice.password, timeout=CHECK_TIMEOUT
                    )
                except StreamCheckFailed as exc:
                    raise StreamRefused(exc.code, f"the {role} stream {redact_url(url)}: {exc}") from None
            latest = device.latest
            await self.audit.append(
                CameraAdopted(
                    time=self.clock(),
                    actor=who.username,
                    camera=choice.name,
                    device=device.id,
                    integration=facts["record"].integration,
                    record_url=redact_url(record),
                    detect_url=redact_url(detect),
                    with_credentials=choice.username is not None or choice.password is not None,
                )
            )
            camera = AdoptedCamera(
                choice.name, device.identity, device.id, record, detect, choice.username, choice.password
            )
            await self.store.add(camera)
            self.adopted[camera.name] = camera
            self.table.decide(device, Decision(ADOPTED, camera.name))
            await self.fleet.add(camera.name, camera.config())
            log.info("camera %s adopted from %s (%s)", camera.name, device.id, latest.host if latest else "?")
            return {"camera": camera.name, "device": device.view(), "streams": _facts(facts)}

    async def _streams(self, device: Device, choice: Choice) -> tuple[str, str]:
        """The record and detect URLs: the owner's, else the device's suggestions; on the device's own host."""
        streams = device.streams()
        onvif = next((f for f in device.findings.values() if f.device_service), None)
        if not streams and onvif is not None and choice.username is not None:
            streams = await self._ask_onvif(onvif, choice)
        record = choice.record or (streams[0].url if streams else None)
        detect = choice.detect or (smallest(streams).url if streams else None) or record
        if record is None or detect is None:
            raise BadRequest(
                "this device suggests no stream; give 'record' (and 'detect') URLs"
                + (", or a username and password so its ONVIF profiles can be read" if onvif else "")
            )
        hosts = {f.host for f in device.findings.values()}
        for role, url in (("record", record), ("detect", detect)):
            parts = urlsplit(url)
            if parts.username is not None or parts.password is not None:
                raise BadRequest(
                    f"'{role}': give the user name and password as 'username' and 'password', not in the URL"
                )
            if (parts.hostname or "") not in hosts:
                raise BadRequest(f"'{role}' must be a stream of this device (host {' or '.join(sorted(hosts))})")
        return record, detect

    async def _ask_onvif(self, finding: Finding, choice: Choice) -> tuple[Stream, ...]:
        prober = next((p for p in self.registry.probers if p.domain == finding.integration), None)
        if prober is None or prober.ask_streams is None:
            return ()
        try:
            return await prober.ask_streams(finding, choice.username or "", choice.password or "", CHECK_TIMEOUT)
        except Exception as exc:
            code = getattr(exc, "code", "unreachable")
            raise StreamRefused(code, f"the device's ONVIF service: {exc}") from None

    async def ignore(self, who: Identity, id: str, ignored: bool) -> dict[str, Any]:
        device = self.device(id)
        if device.decision is not None and device.decision.state == ADOPTED:
            raise AdoptionRefused(f"device {id} is the camera {device.decision.camera}; remove the camera first")
        await self.store.ignore(device.identity, ignored)
        self.table.decide(device, Decision(IGNORED) if ignored else None)
        log.info("discovered device %s %s by %s", id, "ignored" if ignored else "no longer ignored", who.username)
        return device.view()

    async def remove(self, who: Identity, name: str) -> None:
        camera = self.adopted.get(name)
        if camera is None:
            raise NotFound(f"no adopted camera {name!r}; cameras from the config file are removed there")
        await self.audit.append(CameraRemoved(time=self.clock(), actor=who.username, camera=name, device=camera.device))
        await self.store.remove(name)
        del self.adopted[name]
        await self.fleet.remove(name)
        device = next((d for d in self.table.devices.values() if d.identity == camera.identity), None)
        if device is not None:
            self.table.decide(device, None)
        self.table.decisions.pop(camera.identity, None)
        log.info("camera %s removed by %s; its clips stay under retention", name, who.username)

    # Following an adopted camera to a new address.

    def _online(self, name: str) -> bool:
        pipeline = self.fleet.cameras.get(name)
        return bool(pipeline is not None and pipeline.status()["online"])

    def _moved(self, device: Device, old: Finding, new: Finding) -> None:
        if device.decision is None or device.decision.state != ADOPTED or device.decision.configured:
            return
        camera = self.adopted.get(device.decision.camera or "")
        if camera is None:
            return
        if any(t.get_name() == f"follow:{camera.name}" for t in self._follows):
            return  # one follow at a time; it reads the latest announcement when the camera stops answering
        task = asyncio.get_running_loop().create_task(
            self._follow(camera.name, device, old), name=f"follow:{camera.name}"
        )
        self._follows.add(task)
        task.add_done_callback(self._follows.discard)

    async def _follow(self, name: str, device: Device, old: Finding) -> None:
        """Follow a camera to its newly announced address, once it stops answering at the old one.

        Anyone on the network can announce a camera's name with another address; following at once
        would hand the camera's credentials to that host. A camera that really moved (a new DHCP
        lease) no longer answers at the old address, so the hub waits for its camera to be offline,
        up to FOLLOW_PATIENCE seconds, and otherwise keeps the old address and says so.
        """
        deadline = time.monotonic() + FOLLOW_PATIENCE
        while self._online(name):
            if time.monotonic() > deadline:
                log.warning(
                    "camera %s was announced at a new address but still answers at its old one; not followed "
                    "(another device may be announcing its name)",
                    name,
                )
                return
            await asyncio.sleep(1.0)
        camera, new = self.adopted.get(name), device.latest  # the latest announcement, after every move since
        if camera is None or new is None:
            return
        record, detect = (_moved_url(u, old, new) for u in (camera.record_url, camera.detect_url))
        if (record, detect) == (camera.record_url, camera.detect_url):
            return
        try:
            await self.audit.append(
                CameraChanged(
                    time=self.clock(),
                    actor="hub",
                    camera=camera.name,
                    change="moved",
                    record_url=redact_url(record),
                    detect_url=redact_url(detect),
                )
            )
            await self.store.change_urls(camera.name, record, detect)
        except HubError as exc:
            log.error(
                "camera %s moved but the change could not be kept (%s); it keeps its old address", camera.name, exc
            )
            return
        moved = AdoptedCamera(
            camera.name, camera.identity, camera.device, record, detect, camera.username, camera.password
        )
        self.adopted[camera.name] = moved
        log.info(
            "camera %s moved from %s to %s; reconnecting",
            camera.name,
            redact_url(camera.record_url),
            redact_url(record),
        )
        await self.fleet.replace(camera.name, moved.config())


def _moved_url(url: str, old: Finding, new: Finding) -> str:
    """`url` with the old host (and the old port, where it was the announced one) replaced by the new."""
    parts = urlsplit(url)
    if parts.hostname != old.host:
        return url
    port = parts.port
    if port == old.port:
        port = new.port
    netloc = url_host(new.host) + (f":{port}" if port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _facts(facts: dict[str, StreamFacts]) -> dict[str, Any]:
    return {role: dataclasses.asdict(f) for role, f in facts.items()}
