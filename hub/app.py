"""The hub's life: what starts, in which order, and how it stops.

Start: the hub locks the data folder (camhub.store.lock) and opens the clip
index (a damaged one stops the start, named); the audit log and the
accounts open (on the very first start the first owner is created with a
one-time password, kept in `initial_password` for the command to print);
start-up recovery mends what a crash left, keeping clips under a hold; each
camera is built with the consumers it feeds, passed in at construction (its
recorder, which needs the clip finisher and retention, its motion watcher and
its live view); the web server starts, so the status page can explain a
camera that will not connect; then one TaskGroup owns every camera and the
retention task. Discrete events (motion, clips saved, camera states, owner
notices, audit checkpoints) go on the bus.
Stop (SIGINT, SIGTERM or a time limit): cameras first (open clips are
closed), then the clip finisher drains, then the web server, then the index,
the accounts and the audit log, and last the data folder's lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from camhub import __version__
from camhub.audit import (
    AuditLog,
    AuditUnavailable,
    HubStarted,
    HubStopped,
    run_checkpoints,
)
from camhub.auth import AccountService
from camhub.auth.credentials import MIN_PASSWORD_LENGTH
from camhub.bus import AuditCheckpointSigned, Bus
from camhub.capture.detect_pool import DetectProcesses
from camhub.clock import Clock
from camhub.config import HubConfig
from camhub.discovery.adopted import AdoptedCamera, AdoptedStore
from camhub.discovery.announce import hub_id
from camhub.discovery.model import without_credentials
from camhub.discovery.service import Discovery
from camhub.discovery.table import ADOPTED, IGNORED, Decision, DeviceTable
from camhub.errors import HubError
from camhub.fleet import CameraFleet
from camhub.http.app import make_app
from camhub.http.connlimit import ConnectionGuard, GuardedSite, connection_cap, raise_file_limit
from camhub.http.storage import add_storage_routes
from camhub.outputs import Output, OutputContext
from camhub.privacy.holds import standing_in
from camhub.privacy.service import Privacy
from camhub.recording.finisher import ClipFinisher
from camhub.recording.retention import Limits, Retention
from camhub.registry import Registry, default_registry
from camhub.settings import CameraSettings
from camhub.store.db import Database
from camhub.store.index import open_index
from camhub.store.lock import DataFolderLock
from camhub.store.recovery import recover

log = logging.getLogger(__name__)
# Seconds open responses (live views) get to finish when the hub stops.
WEB_SHUTDOWN_TIMEOUT = 2.0
# The first owner's user name, created on the first start.
FIRST_OWNER = "owner"


class Hub:
    def __init__(
        self,
        config: HubConfig,
        registry: Registry | None = None,
        clock: Clock = time.time,
        cameras_after: asyncio.Event | None = None,
    ) -> None:
        self.config = config
        # The cameras start once this is set (the demo's, when its simulated streams exist); None: at once.
        # Until then the web server answers and each camera's status says "starting".
        self.cameras_after = cameras_after
        self.clock = clock
        self.registry = registry if registry is not None else default_registry()  # the one the config was checked with
        # Sources are made now, so that an input no integration can read stops the hub before anything opens.
        self._sources = {
            name: [self.registry.source_for(i) for i in cam.inputs]
            for name, cam in config.cameras.items()
            if cam.enabled
        }
        # The running cameras, built in run() with the consumers each feeds, once the index they record into is open.
        self.fleet = CameraFleet(config, self.registry, clock)
        self.cameras = self.fleet.cameras
        self.live_views = self.fleet.live_views
        self.discovery: Discovery | None = None
        self.web_port: int | None = None
        self.ready = asyncio.Event()
        self.bus: Bus | None = None
        self.db: Database | None = None
        self.audit: AuditLog | None = None
        self.accounts: AccountService | None = None
        # The first owner's one-time password, on the first start only; printed once, never logged.
        self.initial_password: str | None = None
        self.app: web.Application | None = None
        self.privacy: Privacy | None = None
        self.settings: CameraSettings | None = None
        self.detect: DetectProcesses | None = None  # with detect_processes set, while the hub runs
        self.outputs: dict[str, Output] = {}  # the running outputs (MQTT) by domain, shown in /api/health

    @property
    def url(self) -> str:
        return f"http://{self.config.web.host}:{self.web_port}"

    async def _start_web(self, retention: Retention) -> web.AppRunner:
        self.app = make_app(
            self.cameras,
            self.live_views,
            self.db,
            self.config.data_dir,
            self.audit,
            accounts=self.accounts,
            privacy=self.privacy,
            discovery=self.discovery,
            outputs=self.outputs,
            live_streams=self.fleet.live_streams,
            settings=self.settings,
        )
        add_storage_routes(self.app, retention)  # the Storage page's disk, clips and retention limits
        runner = web.AppRunner(
            self.app,
            handle_signals=False,
            access_log=None,
            shutdown_timeout=WEB_SHUTDOWN_TIMEOUT,
            keepalive_timeout=self.config.web.keepalive_timeout,
        )
        await runner.setup()
        # Connections are capped so that recording keeps its files whatever the network does.
        raise_file_limit()
        guard = ConnectionGuard(self.config.web, connection_cap(self.config.web.max_connections, len(self.cameras)))
        site = GuardedSite(runner, self.config.web.host, self.config.web.port, guard)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise HubError(
                f"web.port: cannot listen on {self.config.web.host}:{self.config.web.port}: {exc.strerror}; "
                "choose a free port in the config or with --port"
            ) from None
        self.web_port = runner.addresses[0][1]
        return runner

    async def _adopted_cameras(self, store: AdoptedStore, privacy: Privacy) -> list[AdoptedCamera]:
        """The adopted cameras to run: a name the config file also gives is the config's, and owners are told."""
        adopted = []
        for camera in await store.cameras():
            if camera.name in self.config.cameras:
                log.warning("adopted camera %s is also in the config file; the config's camera runs", camera.name)
                await privacy.ctx.notify(
                    "camera_name_clash",
                    camera.name,
                    {
                        "camera": camera.name,
                        "text": "an adopted camera has the name of one in the config file; the "
                        "config file's camera runs. Remove the adopted one or rename the other.",
                    },
                )
                continue
            adopted.append(camera)
        return adopted

    async def _open_discovery(self, data_dir: Path, privacy: Privacy, bus: Bus, audit: AuditLog) -> AdoptedStore:
        """Adopted cameras into the fleet, and the device table that knows what owners decided."""
        store = await AdoptedStore.open(data_dir, self.clock)
        adopted = await self._adopted_cameras(store, privacy)
        for camera in adopted:
            self.fleet.build(camera.name, camera.config())
        decisions = {c.identity: Decision(ADOPTED, c.name) for c in adopted}
        decisions.update({identity: Decision(IGNORED) for identity in await store.ignored()})
        configured = {
            name: [without_credentials(i.url) for i in cam.inputs] for name, cam in self.config.cameras.items()
        }
        table = DeviceTable(
            self.clock, self.config.discovery.max_devices, bus.publish, decisions=decisions, configured=configured
        )
        self.discovery = Discovery(
            self.config.discovery,
            self.registry,
            table,
            store,
            self.fleet,
            audit,
            self.clock,
            data_dir,
            lambda: self.web_port,
            self.config.web.host,
            adopted=adopted,
        )
        return store

    async def run(self, stop: asyncio.Event) -> None:
        """Run until `stop` is set; then stop everything in order."""
        data_dir = self.config.data_dir
        # File system calls run off the loop: on a busy disk even a mkdir or a lock file can stall for
        # half a second (seen in CI by tests/capture/test_loop.py).
        await asyncio.to_thread(data_dir.mkdir, parents=True, exist_ok=True)
        # What opened is closed in reverse order however the start or the run ends, the lock last.
        async with contextlib.AsyncExitStack() as opened:
            # One hub per data folder, and no `check --repair` beside it; a damaged index stops the start, named.
            lock = await asyncio.to_thread(DataFolderLock.acquire, data_dir, "the hub")
            opened.callback(self._say_stopped)
            opened.callback(lock.release)
            self.db = db = await asyncio.to_thread(open_index, data_dir, self.clock)
            opened.push_async_callback(asyncio.to_thread, db.close)
            self.bus = bus = Bus()
            self.audit = audit = await AuditLog.open(data_dir, clock=self.clock)
            opened.push_async_callback(audit.close)
            self.accounts = accounts = await AccountService.open(data_dir, clock=self.clock, on_event=audit.append)
            opened.push_async_callback(accounts.close)
            self.initial_password = await accounts.bootstrap_owner(FIRST_OWNER)
            held = await asyncio.to_thread(standing_in, data_dir, self.clock())
            report = await db.write(lambda d: recover(data_dir, d, held))
            if report.lines():
                log.info("start-up recovery: %s", "; ".join(report.lines()))
            audit.on_checkpoint(lambda cp: bus.publish(AuditCheckpointSigned(cp.size, cp.note)))
            await _log_lifecycle(audit, HubStarted(time=self.clock(), actor="hub", version=__version__))
            finisher = ClipFinisher(data_dir, db, bus)
            self.privacy = privacy = await Privacy.open(
                data_dir,
                db,
                audit,
                cameras=self.fleet.names,
                owners=lambda: accounts.usernames("owner"),
                clock=self.clock,
                config=self.config.privacy,
                bus=bus,
            )
            opened.push_async_callback(privacy.close)
            retention = Retention(
                db,
                data_dir,
                Limits.from_config(self.config),
                self.config.retention.interval,
                self.clock,
                held=privacy.holds.active,
            )
            self.settings = settings = CameraSettings(
                data_dir,
                audit,
                self.clock,
                bus,
                self.fleet.config_of,
                self.fleet.apply,
                retention_days=self.config.retention.days,
            )
            self.detect = await self._open_detect(bus, opened)
            self.fleet.wire(bus, finisher, retention, settings, self.detect)
            for name, sources in self._sources.items():
                self.fleet.build(name, self.config.cameras[name], sources)
            store = await self._open_discovery(data_dir, privacy, bus, audit)
            opened.push_async_callback(store.close)
            runner = await self._start_web(retention)
            log.info("hub started with %d camera(s); dashboard at %s", len(self.cameras), self.url)
            await self._make_outputs(
                OutputContext(
                    config=self.config,
                    bus=bus,
                    hub_id=await asyncio.to_thread(hub_id, data_dir),
                    version=__version__,
                    data_dir=data_dir,
                    cameras=RunningCameras(self.fleet),
                    settings=settings,
                    privacy_counts=privacy.counts,
                    latest_checkpoint=lambda: audit.latest.note,
                    clock=self.clock,
                )
            )
            try:
                async with asyncio.TaskGroup() as tg:
                    tasks = [tg.create_task(retention.run(), name="retention")]
                    if self.cameras_after is None:
                        self.fleet.start(tg)
                    else:
                        tasks.append(tg.create_task(self._start_cameras_after(tg, self.cameras_after), name="cameras"))
                    tasks += [tg.create_task(_run_output(d, o), name=f"output:{d}") for d, o in self.outputs.items()]
                    if self.config.discovery.enabled and self.discovery is not None:
                        tasks.append(tg.create_task(self.discovery.run(), name="discovery"))
                    tg.create_task(run_checkpoints(audit, stop), name="audit-checkpoints")
                    tg.create_task(privacy.run(stop), name="privacy")
                    self.ready.set()
                    await stop.wait()
                    log.info("stopping: cameras first, then clips, the web server and the index")
                    self.fleet.stop_all()
                    for task in tasks:
                        task.cancel()
                await asyncio.to_thread(finisher.close)
            finally:
                await runner.cleanup()
            await _log_lifecycle(audit, HubStopped(time=self.clock(), actor="hub"))

    async def _open_detect(self, bus: Bus, opened: contextlib.AsyncExitStack) -> DetectProcesses | None:
        """The detect processes, when the config asks for them; stopped after the cameras."""
        count = self.config.detect_processes
        if not count:
            return None
        if self.registry is not default_registry():
            raise HubError(
                "detect_processes: detect processes read cameras with the built-in and installed integrations "
                "only; set it to 0 to run this hub's own registry"
            )
        detect = DetectProcesses(count, bus, self.clock, self.config.secrets())
        detect.start()
        opened.push_async_callback(detect.close)
        log.info("%d detect process(es) started", count)
        return detect

    async def _start_cameras_after(self, tg: asyncio.TaskGroup, go: asyncio.Event) -> None:
        await go.wait()
        self.fleet.start(tg)

    async def _make_outputs(self, ctx: OutputContext) -> None:
        """Each output integration that has something to do with this config (a factory answers None when not)."""
        for domain, factory in sorted(self.registry.outputs.items()):
            output = factory(ctx)
            if output is not None:
                self.outputs[domain] = output

    def _say_stopped(self) -> None:
        if self.ready.is_set():  # a start that was refused says why instead
            log.info("hub stopped")


async def _run_output(domain: str, output: Output) -> None:
    """An output that fails is logged and stays stopped; the hub goes on recording without it."""
    try:
        await output.run()
    except Exception:
        log.exception("output %s failed and is stopped; recording goes on (restart the hub to start it again)", domain)


class RunningCameras:
    """The fleet's running cameras, as an output sees them."""

    def __init__(self, fleet: CameraFleet) -> None:
        self._fleet = fleet

    def names(self) -> list[str]:
        return sorted(self._fleet.cameras)

    def status(self, camera: str) -> dict[str, Any] | None:
        running = self._fleet.cameras.get(camera)
        return None if running is None else running.status()


async def _log_lifecycle(audit: AuditLog, event: HubStarted | HubStopped) -> None:
    """Log the hub's start or stop; a log that cannot be written now does not stop the hub from recording
    (audited actions answer 503 and /api/health says why until it can)."""
    try:
        await audit.append(event)
    except AuditUnavailable as exc:
        log.error("%s was not logged: the audit log cannot be written (%s)", event.name, exc.reason)


async def announce_first_login(hub: Hub, prefix: str = "") -> None:
    """Once `hub` is ready, print the first owner's one-time password to stdout (never to the log).

    Only on the first start with a data folder; later starts print nothing.
    """
    await hub.ready.wait()
    if hub.initial_password is None:
        return
    print(
        f'{prefix}owner login: user "{FIRST_OWNER}", one-time password {hub.initial_password} '
        "(change it at first login)",
        flush=True,
    )
    print(
        f"{prefix}owner login: shown only this once; log in on the dashboard at {hub.url} and choose a new "
        f"password of at least {MIN_PASSWORD_LENGTH} characters",
        flush=True,
    )


async def serve(hub: Hub, seconds: float | None = None, stop: asyncio.Event | None = None) -> None:
    """Run `hub` until SIGINT or SIGTERM, or for `seconds` when given, or until `stop` is set."""
    loop = asyncio.get_running_loop()
    stop = stop or asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    timer = loop.call_later(seconds, stop.set) if seconds is not None else None
    try:
        await hub.run(stop)
    finally:
        if timer is not None:
            timer.cancel()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
