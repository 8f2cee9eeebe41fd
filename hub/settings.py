"""Camera settings changed while the hub runs: detection, recording, motion, zones, masks and retention.

A client (MQTT, the dashboard's settings page through /api/cameras/{name}/settings)
asks `CameraSettings.change` (one key) or `change_many` (several at once, all
or none); every value is checked first (camhub.setting_rules). Each changed
key is written to the audit log first (`setting_changed`, with its source),
then all are kept in `<data>/camera-settings.json` (written whole or not at
all), then applied to the running camera at once, then announced on the bus
(`SettingApplied` for MQTT's settings, `CameraSettingsChanged` for every
change) so every client shows the new state. A change that cannot be logged
is not made.

This store is the one source of a camera's settings: the fleet builds each
camera with `values`, and a change re-applies the whole motion config made
from them, so a threshold set over MQTT and zones set on the dashboard never
undo each other.

A kept value wins over the config file's only while the file still says
what it said when the value was set: editing the key in the file takes it
back (docs/config.md, docs/mqtt.md). Values that match the config are still
kept, so the file records who set what last.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from camhub.audit import AuditLog
from camhub.audit.events import SettingChanged
from camhub.bus import Bus
from camhub.clock import Clock
from camhub.config import CameraConfig, MotionConfig
from camhub.durable import write_durably
from camhub.setting_rules import (
    ANALYSIS_FPS,
    DETECT,
    KEYS,
    MASKS,
    MIN_AREA,
    MOTION_THRESHOLD,
    POST_ROLL,
    RECORD,
    THRESHOLD_HIGH,
    THRESHOLD_LOW,
    ZONES,
    SettingRefused,
    Value,
    checked_value,
    config_value,
    logged,
    shown,
)

__all__ = [
    "DETECT",
    "KEYS",
    "MOTION_THRESHOLD",
    "RECORD",
    "THRESHOLD_HIGH",
    "THRESHOLD_LOW",
    "CameraSettings",
    "CameraSettingsChanged",
    "CameraValues",
    "SettingApplied",
    "SettingRefused",
    "Value",
    "checked_value",
    "config_value",
]

log = logging.getLogger(__name__)

FILE = "camera-settings.json"
FORMAT = 1
# The settings MQTT shows and sets, each announced with `SettingApplied`.
MQTT_KEYS = (DETECT, RECORD, MOTION_THRESHOLD)


@dataclass(frozen=True)
class SettingApplied:
    """A camera's setting has its new value, in force now (for MQTT's state topics and the dashboard)."""

    camera: str
    key: str  # one of MQTT_KEYS
    value: Value
    source: str  # mqtt | api | config


@dataclass(frozen=True)
class CameraSettingsChanged:
    """Some of a camera's settings changed and are in force now (for the dashboard's live updates)."""

    camera: str
    keys: tuple[str, ...]  # of camhub.setting_rules.KEYS
    source: str  # mqtt | api


@dataclass(frozen=True)
class CameraValues:
    """The settings a camera runs with, every key of camhub.setting_rules.KEYS in its JSON form."""

    settings: Mapping[str, Any]

    @property
    def detect(self) -> bool:
        return bool(self.settings[DETECT])

    @property
    def record(self) -> bool:
        return bool(self.settings[RECORD])

    @property
    def motion_threshold(self) -> float:
        return float(self.settings[MOTION_THRESHOLD])

    def get(self, key: str) -> Value:
        """One of MQTT's settings: a switch as a bool, the threshold as a float."""
        return bool(self.settings[key]) if key != MOTION_THRESHOLD else float(self.settings[key])

    def motion(self, base: MotionConfig) -> MotionConfig:
        """`base` (the config's motion settings) with these values in it."""
        s = self.settings
        update = {
            "threshold": s[MOTION_THRESHOLD],
            "min_area": s[MIN_AREA],
            "analysis_fps": s[ANALYSIS_FPS],
            "post_roll": s[POST_ROLL],
            "zones": s[ZONES],
            "masks": s[MASKS],
        }
        return MotionConfig.model_validate({**base.model_dump(), **update})


class CameraSettings:
    """Every camera's changed settings; `change` runs on the event loop, one change at a time."""

    def __init__(
        self,
        data_dir: Path,
        audit: AuditLog,
        clock: Clock,
        bus: Bus,
        configs: Callable[[str], CameraConfig | None],
        apply: Callable[[str, tuple[str, ...]], None],
        retention_days: float = 14.0,
    ) -> None:
        """`configs` gives a running camera's config (None: no such camera); `apply` puts the named keys'
        values (read back from `current`) in force on it."""
        self.path = data_dir / FILE
        self.audit = audit
        self.clock = clock
        self.bus = bus
        self._configs = configs
        self._apply = apply
        self.retention_days = retention_days  # the hub's retention.days, what retain_days None stands for
        self._kept: dict[str, dict[str, dict[str, Any]]] = self._read()
        self._lock = asyncio.Lock()

    def _read(self) -> dict[str, dict[str, dict[str, Any]]]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            aside = self.path.with_name(self.path.name + ".damaged")
            log.error(
                "%s cannot be read (%s); the config's settings apply, the file is kept as %s", self.path, exc, aside
            )
            self.path.replace(aside)
            return {}
        cameras = raw.get("cameras") if isinstance(raw, dict) else None
        if not isinstance(cameras, dict):
            log.error("%s holds no 'cameras' object; the config's settings apply", self.path)
            return {}
        kept: dict[str, dict[str, dict[str, Any]]] = {}
        for camera, entries in cameras.items():
            if not isinstance(entries, dict):
                continue
            for key, entry in entries.items():
                try:
                    value = checked_value(key, entry["value"])
                    checked_value(key, entry["config"])
                except (SettingRefused, KeyError, TypeError) as exc:
                    log.warning(
                        "%s: cameras.%s.%s is not a setting camhub keeps (%s); ignored", self.path, camera, key, exc
                    )
                    continue
                kept.setdefault(camera, {})[key] = {**entry, "value": value}
        return kept

    def values(self, camera: str, cfg: CameraConfig) -> CameraValues:
        """The values `camera` runs with: kept ones while the config still says what it said then."""
        return CameraValues({key: self._effective(camera, cfg, key) for key in KEYS})

    def kept_keys(self, camera: str, cfg: CameraConfig) -> list[str]:
        """The keys whose value in force is a kept one, not the config's."""
        entries = self._kept.get(camera, {})
        return [key for key in KEYS if key in entries and entries[key]["config"] == config_value(cfg, key)]

    def _effective(self, camera: str, cfg: CameraConfig, key: str) -> Any:
        configured = config_value(cfg, key)
        entry = self._kept.get(camera, {}).get(key)
        if entry is not None and entry["config"] == configured:
            return entry["value"]
        return configured

    def config_of(self, camera: str) -> CameraConfig | None:
        """A running camera's config (file or adoption); None when no camera of that name runs."""
        return self._configs(camera)

    def current(self, camera: str) -> CameraValues | None:
        """A running camera's values, None when there is no such camera."""
        cfg = self._configs(camera)
        return None if cfg is None else self.values(camera, cfg)

    async def change(self, camera: str, key: str, value: object, actor: str, source: str) -> Value:
        """Set one of MQTT's settings of `camera` (see `change_many`). Returns the value in force."""
        return (await self.change_many(camera, {key: value}, actor, source)).get(key)

    async def change_many(self, camera: str, changes: Mapping[str, object], actor: str, source: str) -> CameraValues:
        """Set `changes` of `camera`, all or none: logged, kept, applied, announced. Returns the values in force.

        Raises SettingRefused for an unknown camera, key or value (naming the first one wrong), and the
        audit log's AuditUnavailable when the change cannot be logged (then nothing changes).
        """
        checked = {key: checked_value(key, value) for key, value in changes.items()}
        async with self._lock:
            cfg = self._configs(camera)
            if cfg is None:
                raise SettingRefused(f"there is no running camera named {camera!r}")
            before = self.values(camera, cfg)
            changed = {key: new for key, new in checked.items() if new != before.settings[key]}
            if not changed:
                return before
            # Checked as a whole before anything is logged: the motion settings must make a config together.
            after = CameraValues({**before.settings, **changed})
            try:
                after.motion(cfg.motion)
            except ValueError as exc:
                raise SettingRefused(f"the motion settings do not fit together: {exc}") from None
            # One entry per changed key, all in one audit transaction: logged together or not at all.
            await self.audit.append_many(
                [
                    SettingChanged(
                        time=self.clock(),
                        actor=actor,
                        key=f"cameras.{camera}.{key}",
                        old=logged(before.settings[key]),
                        new=logged(new),
                        source=source,
                    )
                    for key, new in changed.items()
                ]
            )
            kept = {c: dict(entries) for c, entries in self._kept.items()}
            for key, new in changed.items():
                entry = {
                    "value": new,
                    "config": config_value(cfg, key),
                    "changed_s": int(self.clock()),
                    "source": source,
                }
                kept.setdefault(camera, {})[key] = entry
            await asyncio.to_thread(self._write, kept)
            self._kept = kept
            self._apply(camera, tuple(changed))
        for key, new in changed.items():
            log.info("camera %s: %s set to %s by %s (%s)", camera, key, shown(new), actor, source)
            if key in MQTT_KEYS:
                self.bus.publish(SettingApplied(camera, key, after.get(key), source))
        self.bus.publish(CameraSettingsChanged(camera, tuple(changed), source))
        return after

    def _write(self, kept: dict[str, dict[str, dict[str, Any]]]) -> None:
        document = {"format": FORMAT, "cameras": kept}
        write_durably(self.path, json.dumps(document, indent=2, sort_keys=True).encode(), mode=0o600)
