"""The running cameras: each built with what it feeds, started, stopped and replaced while the hub runs.

A camera is built with its consumers passed in at construction (its
recorder, which needs the clip finisher and retention, its motion watcher
and its live views). Cameras from the config are built at start; adopted
ones are added, changed (a new address) and removed while the hub runs,
each as a task of the hub's TaskGroup, so stopping the hub stops them all.
`cameras`, `live_views` and `names` are the very objects the web app and
the consent queue read, so a camera added here is served at once.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from typing import Literal

from camhub.bus import Bus
from camhub.capture.camera import CameraPipeline, MotionConsumer
from camhub.capture.detect_pool import DetectProcesses
from camhub.capture.detect_process import DetectSpec
from camhub.capture.media import Source
from camhub.capture.remote_detect import RemoteInput, RemoteMotion
from camhub.clock import Clock
from camhub.config import CameraConfig, HubConfig, MotionConfig
from camhub.http.live import LiveView, Pictures
from camhub.http.live_mp4 import LiveStream
from camhub.motion.watcher import CameraMotion
from camhub.recording.finisher import ClipFinisher
from camhub.recording.recorder import CameraRecorder
from camhub.recording.retention import Retention
from camhub.registry import Registry
from camhub.setting_rules import DETECT, MOTION_KEYS, PRE_ROLL, RECORD, RETAIN_DAYS
from camhub.settings import CameraSettings, CameraValues

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FleetChanged:
    """A camera joined or left the running cameras while the hub runs (MQTT clears a removed one's entities)."""

    camera: str
    change: Literal["added", "removed"]


class CameraFleet:
    def __init__(self, config: HubConfig, registry: Registry, clock: Clock) -> None:
        self.config = config
        self.registry = registry
        self.clock = clock
        self.cameras: dict[str, CameraPipeline] = {}
        self.live_views: dict[str, Pictures] = {}
        self.live_streams: dict[str, LiveStream] = {}  # full quality, for cameras with a record input
        self.names: set[str] = set(config.cameras)  # every camera's name, for the consent queue
        self.configs: dict[str, CameraConfig] = {}  # every running camera's config (file or adoption)
        self._motions: dict[str, CameraMotion | RemoteMotion] = {}
        self._recorders: dict[str, CameraRecorder] = {}
        self._settings: CameraSettings | None = None
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._tg: asyncio.TaskGroup | None = None
        self._bus: Bus | None = None
        self._finisher: ClipFinisher | None = None
        self._retention: Retention | None = None
        self._detect: DetectProcesses | None = None

    def wire(
        self,
        bus: Bus,
        finisher: ClipFinisher,
        retention: Retention,
        settings: CameraSettings,
        detect: DetectProcesses | None = None,
    ) -> None:
        """What every camera feeds: the bus, the clip finisher and retention (once they are open), and the
        settings changed while the hub runs, which a camera starts with; with `detect`, a camera's own detect
        input runs in one of those processes."""
        self._bus, self._finisher, self._retention = bus, finisher, retention
        self._settings = settings
        self._detect = detect

    def config_of(self, name: str) -> CameraConfig | None:
        """A running camera's config; None when no camera of that name runs."""
        return self.configs.get(name) if name in self.cameras else None

    def apply(self, name: str, keys: tuple[str, ...]) -> None:
        """Put the settings store's values of `keys` in force on a running camera, from the next frame or
        packet on (retention: its next run, woken now). The motion watcher gets its whole config again, made
        from every stored value, so no key set earlier (over MQTT or the API) is dropped."""
        cfg, settings = self.configs.get(name), self._settings
        if cfg is None or settings is None:
            return
        values = settings.values(name, cfg)
        motion, recorder, pipeline = self._motions.get(name), self._recorders.get(name), self.cameras.get(name)
        if DETECT in keys and motion is not None:
            motion.set_detecting(values.detect)
        if RECORD in keys and recorder is not None:
            recorder.set_enabled(values.record)
        if PRE_ROLL in keys and recorder is not None:
            recorder.set_pre_roll(float(values.settings[PRE_ROLL]))
        if MOTION_KEYS.intersection(keys) and pipeline is not None:
            pipeline.configure_motion(values.motion(cfg.motion))
        if RETAIN_DAYS in keys:
            self._set_retention(name, values)
            if self._retention is not None:
                self._retention.wake()

    def _set_retention(self, name: str, values: CameraValues) -> None:
        """This camera's days in retention's limits (none: the hub's retention.days)."""
        retention = self._retention
        if retention is None:
            return
        days = dict(retention.limits.days)
        wanted = values.settings[RETAIN_DAYS]
        if wanted is None:
            days.pop(name, None)
        else:
            days[name] = float(wanted)
        retention.limits = replace(retention.limits, days=days)

    def build(self, name: str, cfg: CameraConfig, sources: list[Source] | None = None) -> None:
        """Build one camera with what it feeds; it starts with `start` (or at once when added later)."""
        bus, finisher, retention, settings = self._bus, self._finisher, self._retention, self._settings
        if bus is None or finisher is None or retention is None or settings is None:
            raise RuntimeError("cameras are built once the fleet is wired")
        self.names.add(name)
        if not cfg.enabled:
            return
        if sources is None:
            sources = [self.registry.source_for(i) for i in cfg.inputs]
        # Recorder and motion watcher are built even when switched off, so they can be switched on while the
        # hub runs; switched off, the watcher analyses nothing and the recorder keeps only its pre-roll.
        values = settings.values(name, cfg)
        recorder = None
        if cfg.input_for("record") is not None:
            recorder = self._recorders[name] = CameraRecorder(
                name,
                self.config.data_dir,
                finisher,
                float(values.settings[PRE_ROLL]),
                self.config.retention.min_free_bytes,
                retention.wake,
                enabled=values.record,
                motion_delay=cfg.motion.batch,
            )
        motion_config = values.motion(cfg.motion)
        secrets = self.config.secrets() + tuple(i.password for i in cfg.inputs if i.password)
        remote = self._remote_detect(name, cfg, sources, motion_config, values.detect, secrets, recorder)
        motion: MotionConsumer
        if remote is not None:
            motion = self._motions[name] = remote.motion
            self.live_views[name] = remote.pictures
            frames: tuple[LiveView, ...] = ()
        else:
            motion = self._motions[name] = CameraMotion(name, motion_config, bus, recorder, detecting=values.detect)
            self.live_views[name] = live = LiveView(asyncio.get_running_loop())
            frames = (live,)
        self.configs[name] = cfg
        self._set_retention(name, values)
        packets: tuple[LiveStream, ...] = ()
        if recorder is not None:  # the record input's packets, stream-copied to full-quality viewers
            self.live_streams[name] = stream = LiveStream(name, asyncio.get_running_loop())
            packets = (stream,)
        self.cameras[name] = CameraPipeline(
            name,
            cfg.model_copy(update={"motion": motion_config}),  # the analysis rate in force
            sources,
            self.config.reconnect,
            secrets,
            recorder=recorder,
            motion=motion,
            packets=packets,
            frames=frames,
            bus=bus,
            clock=self.clock,
            detect=remote,
        )

    def _remote_detect(
        self,
        name: str,
        cfg: CameraConfig,
        sources: list[Source],
        motion: MotionConfig,
        detecting: bool,
        secrets: tuple[str, ...],
        recorder: CameraRecorder | None,
    ) -> RemoteInput | None:
        """The camera's detect input run in a detect process, when the hub has them and the input is
        detect-only; a one-stream camera's input stays here, where its recorder takes its packets."""
        pool = self._detect
        detect = cfg.input_for("detect")
        if pool is None or detect is None or detect.roles != ("detect",):
            return None
        spec = DetectSpec(
            key="",
            camera=name,
            input=detect,
            reconnect=self.config.reconnect,
            analysis_fps=motion.analysis_fps,
            batch=cfg.motion.batch,
            motion=motion,
            detecting=detecting,
            secrets=secrets,
            records=recorder is not None,
        )
        return pool.input_for(spec, recorder, sources[cfg.inputs.index(detect)].description)

    def start(self, tg: asyncio.TaskGroup) -> None:
        """Start every built camera as a task of `tg`; cameras added later join it."""
        self._tg = tg
        for name in self.cameras:
            self._start(name)

    def _start(self, name: str) -> None:
        assert self._tg is not None
        self._tasks[name] = self._tg.create_task(self.cameras[name].run(), name=f"camera:{name}")

    async def add(self, name: str, cfg: CameraConfig) -> None:
        """Build and start a camera while the hub runs (an adopted one)."""
        if self._tg is None:
            raise RuntimeError("cameras are added only while the hub runs")
        if name in self.cameras:
            raise ValueError(f"camera {name!r} exists")
        self.build(name, cfg)
        if name in self.cameras:
            self._start(name)
        log.info("camera %s added", name)
        if self._bus is not None:
            self._bus.publish(FleetChanged(name, "added"))

    async def remove(self, name: str, forget: bool = True) -> None:
        """Stop a camera (its open clip is closed) and drop it; its clips stay under retention."""
        task = self._tasks.pop(name, None)
        if task is not None:
            task.cancel()
            await asyncio.wait([task])
        self.cameras.pop(name, None)
        self.live_views.pop(name, None)
        self.live_streams.pop(name, None)
        self._motions.pop(name, None)
        self._recorders.pop(name, None)
        self.configs.pop(name, None)
        if forget:
            self.names.discard(name)
            if self._bus is not None:
                self._bus.publish(FleetChanged(name, "removed"))

    async def replace(self, name: str, cfg: CameraConfig) -> None:
        """Restart a camera with a new config (a new address or new credentials)."""
        await self.remove(name, forget=False)
        await self.add(name, cfg)

    def stop_all(self) -> None:
        """Cancel every camera's task (the hub stops); the TaskGroup awaits them."""
        for task in self._tasks.values():
            task.cancel()
