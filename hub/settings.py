"""Camera settings changed while the hub runs: detection, recording and the motion threshold.

A client (MQTT today, the dashboard later) asks `CameraSettings.change`;
the change is written to the audit log first (`setting_changed`, with its
source), then kept in `<data>/camera-settings.json` (written whole or not at
all), then applied to the running camera at once, then announced on the bus
(`SettingApplied`) so every client shows the new state. A change that
cannot be logged is not made.

A kept value wins over the config file's only while the file still says
what it said when the value was set: editing the key in the file takes it
back (docs/mqtt.md). Values that match the config are still kept, so the
file records who set what last.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from camhub.audit import AuditLog
from camhub.audit.events import SettingChanged
from camhub.bus import Bus
from camhub.clock import Clock
from camhub.config import CameraConfig
from camhub.durable import write_durably
from camhub.errors import HubError

log = logging.getLogger(__name__)

FILE = "camera-settings.json"
FORMAT = 1
DETECT, RECORD, MOTION_THRESHOLD = "detect", "record", "motion_threshold"
KEYS = (DETECT, RECORD, MOTION_THRESHOLD)
# The motion threshold's range in luma levels, as config's cameras.<name>.motion.threshold allows.
THRESHOLD_LOW, THRESHOLD_HIGH = 0.0, 255.0

Value = bool | float


class SettingRefused(HubError):
    """A setting change names an unknown camera or key, or a value out of range."""

    key = "setting_refused"
    status = 400


@dataclass(frozen=True)
class SettingApplied:
    """A camera's setting has its new value, in force now (for MQTT's state topics and the dashboard)."""

    camera: str
    key: str  # one of KEYS
    value: Value
    source: str  # mqtt | api | config


@dataclass(frozen=True)
class CameraValues:
    detect: bool
    record: bool
    motion_threshold: float

    def get(self, key: str) -> Value:
        return bool(getattr(self, key)) if key != MOTION_THRESHOLD else float(self.motion_threshold)


def config_value(cfg: CameraConfig, key: str) -> Value:
    """What the config (file or adoption) says for `key`."""
    if key == DETECT:
        return cfg.motion.enabled
    if key == RECORD:
        return cfg.record.enabled
    return cfg.motion.threshold


def checked_value(key: str, value: object) -> Value:
    """`value` as `key` holds it, or SettingRefused naming what would be right."""
    if key in (DETECT, RECORD):
        if not isinstance(value, bool):
            raise SettingRefused(f"{key}: expected on or off, got {value!r}")
        return value
    if key != MOTION_THRESHOLD:
        raise SettingRefused(f"{key!r} is not a camera setting; settings: {', '.join(KEYS)}")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SettingRefused(f"{key}: expected a number of luma levels, got {value!r}")
    if not THRESHOLD_LOW < value < THRESHOLD_HIGH:
        raise SettingRefused(f"{key}: {value} is out of range; give a number above 0 and below 255")
    return round(float(value), 2)


class CameraSettings:
    """Every camera's changed settings; `change` runs on the event loop, one change at a time."""

    def __init__(
        self,
        data_dir: Path,
        audit: AuditLog,
        clock: Clock,
        bus: Bus,
        configs: Callable[[str], CameraConfig | None],
        apply: Callable[[str, str, Value], None],
    ) -> None:
        """`configs` gives a running camera's config (None: no such camera); `apply` sets a value on it."""
        self.path = data_dir / FILE
        self.audit = audit
        self.clock = clock
        self.bus = bus
        self._configs = configs
        self._apply = apply
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
        found = {key: self._effective(camera, cfg, key) for key in KEYS}
        return CameraValues(bool(found[DETECT]), bool(found[RECORD]), float(found[MOTION_THRESHOLD]))

    def _effective(self, camera: str, cfg: CameraConfig, key: str) -> Value:
        configured = config_value(cfg, key)
        entry = self._kept.get(camera, {}).get(key)
        if entry is not None and entry["config"] == configured:
            return entry["value"]  # type: ignore[no-any-return]  # checked when read or kept
        return configured

    def current(self, camera: str) -> CameraValues | None:
        """A running camera's values, None when there is no such camera."""
        cfg = self._configs(camera)
        return None if cfg is None else self.values(camera, cfg)

    async def change(self, camera: str, key: str, value: object, actor: str, source: str) -> Value:
        """Set `key` of `camera`: logged, kept, applied, announced. Returns the value in force.

        Raises SettingRefused for an unknown camera, key or value, and the audit log's
        AuditUnavailable when the change cannot be logged (then nothing changes).
        """
        new = checked_value(key, value)
        async with self._lock:
            cfg = self._configs(camera)
            if cfg is None:
                raise SettingRefused(f"there is no running camera named {camera!r}")
            old = self._effective(camera, cfg, key)
            if new == old:
                return old
            await self.audit.append(
                SettingChanged(
                    time=self.clock(),
                    actor=actor,
                    key=f"cameras.{camera}.{key}",
                    old=_logged(old),
                    new=_logged(new),
                    source=source,
                )
            )
            entry = {"value": new, "config": config_value(cfg, key), "changed_s": int(self.clock()), "source": source}
            kept = {c: dict(entries) for c, entries in self._kept.items()}
            kept.setdefault(camera, {})[key] = entry
            await asyncio.to_thread(self._write, kept)
            self._kept = kept
            self._apply(camera, key, new)
        log.info("camera %s: %s set to %s by %s (%s)", camera, key, _shown(new), actor, source)
        self.bus.publish(SettingApplied(camera, key, new, source))
        return new

    def _write(self, kept: dict[str, dict[str, dict[str, Any]]]) -> None:
        document = {"format": FORMAT, "cameras": kept}
        write_durably(self.path, json.dumps(document, indent=2, sort_keys=True).encode(), mode=0o600)


def _logged(value: Value) -> bool | str:
    """As the audit log takes it: a switch as true/false, a number as its decimal text (the log holds no floats)."""
    return value if isinstance(value, bool) else f"{value:g}"


def _shown(value: Value) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return f"{value:g}"
