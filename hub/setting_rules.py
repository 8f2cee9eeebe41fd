"""What each camera setting changed at run time may hold: its key, its check, the config's value for it.

A value is held in its JSON form, the same in memory, in
`<data>/camera-settings.json` and in the API: a switch is a bool, a number a
float (`retain_days` may be None: the hub's `retention.days`), `zones` an
object of zone name to `{"points": [[x, y], ...], "min_area": float|None}`
and `masks` a list of polygons (lists of [x, y]). `checked_value` is the
one gate: the API, MQTT and the file's reader all pass values through it,
and it refuses with `SettingRefused`, whose message starts with the key
(`zones.porch.points: point 2 ...`) and says what would be right. Ranges
are those of the config's own fields (camhub.config), and polygons follow
camhub.motion.zones's rules.

The audit log keeps no floats, so `logged` writes numbers as decimal text
and a polygon as "x,y x,y ..." text.
"""

from __future__ import annotations

import math
import re
from typing import Any

from camhub.config import CAMERA_NAME, CameraConfig
from camhub.errors import HubError
from camhub.motion.zones import MAX_POLYGONS, PolygonError, check_polygon

DETECT, RECORD, MOTION_THRESHOLD = "detect", "record", "motion_threshold"
MIN_AREA, ANALYSIS_FPS, POST_ROLL = "min_area", "analysis_fps", "post_roll"
PRE_ROLL, RETAIN_DAYS = "pre_roll", "retain_days"
ZONES, MASKS = "zones", "masks"
SWITCHES = (DETECT, RECORD)
# Each number's range as (low, low included, high, high included, unit), as the config's fields allow.
NUMBERS: dict[str, tuple[float, bool, float, bool, str]] = {
    MOTION_THRESHOLD: (0.0, False, 255.0, False, "luma levels"),
    MIN_AREA: (0.0, False, 1.0, True, "fraction of the frame"),
    ANALYSIS_FPS: (0.0, False, 60.0, True, "frames per second"),
    PRE_ROLL: (0.0, True, 60.0, True, "seconds"),
    POST_ROLL: (0.0, True, 3600.0, True, "seconds"),
    RETAIN_DAYS: (0.0, False, 36500.0, True, "days"),
}
KEYS = (*SWITCHES, *NUMBERS, ZONES, MASKS)
# The keys whose change goes to the motion watcher (camhub.capture.camera.CameraPipeline.configure_motion).
MOTION_KEYS = frozenset({MOTION_THRESHOLD, MIN_AREA, ANALYSIS_FPS, POST_ROLL, ZONES, MASKS})
ZONE_FIELDS = ("points", "min_area")
# The motion threshold's range in luma levels, as config's cameras.<name>.motion.threshold allows.
THRESHOLD_LOW, THRESHOLD_HIGH = NUMBERS[MOTION_THRESHOLD][0], NUMBERS[MOTION_THRESHOLD][2]

Value = bool | float  # a switch's or the motion threshold's value (what MQTT shows)


class SettingRefused(HubError):
    """A setting change names an unknown camera or key, or a value out of range."""

    key = "setting_refused"
    status = 400


def config_value(cfg: CameraConfig, key: str) -> Any:
    """What the config (file or adoption) says for `key`, in the JSON form."""
    motion, record = cfg.motion, cfg.record
    plain: dict[str, Any] = {
        DETECT: motion.enabled,
        RECORD: record.enabled,
        MOTION_THRESHOLD: motion.threshold,
        MIN_AREA: motion.min_area,
        ANALYSIS_FPS: motion.analysis_fps,
        POST_ROLL: motion.post_roll,
        PRE_ROLL: record.pre_roll,
        RETAIN_DAYS: record.retain_days,
    }
    if key in plain:
        value = plain[key]
        return value if value is None or isinstance(value, bool) else float(value)
    if key == ZONES:
        return {name: {"points": _listed(z.points), "min_area": z.min_area} for name, z in motion.zones.items()}
    if key == MASKS:
        return [_listed(mask) for mask in motion.masks]
    raise SettingRefused(f"{key!r} is not a camera setting; settings: {', '.join(KEYS)}")


def checked_value(key: str, value: object) -> Any:
    """`value` as `key` holds it, or SettingRefused naming the key and what would be right."""
    if key in SWITCHES:
        if not isinstance(value, bool):
            raise SettingRefused(f"{key}: expected on or off (true or false), got {_shown(value)}")
        return value
    if key in NUMBERS:
        if key == RETAIN_DAYS and value is None:
            return None  # the hub's retention.days
        return _number(key, value)
    if key == ZONES:
        return _zones(value)
    if key == MASKS:
        return _masks(value)
    raise SettingRefused(f"{key!r} is not a camera setting; settings: {', '.join(KEYS)}")


def _number(key: str, value: object, where: str | None = None) -> float:
    where = where or key
    low, low_in, high, high_in, unit = NUMBERS.get(key, (0.0, False, 1.0, True, "fraction of the frame"))
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SettingRefused(f"{where}: expected a number ({unit}), got {_shown(value)}")
    if not ((low <= value) if low_in else (low < value)) or not ((value <= high) if high_in else (value < high)):
        above = f"{'at least' if low_in else 'above'} {low:g}"
        below = f"{'at most' if high_in else 'below'} {high:g}"
        raise SettingRefused(f"{where}: {value:g} is out of range; give a number {above} and {below} ({unit})")
    # The threshold keeps MQTT's two decimals (a slider's step); the rest keep what a form can show.
    return round(float(value), 2 if key == MOTION_THRESHOLD else 6) + 0.0


def _zones(value: object) -> dict[str, dict[str, Any]]:
    if not isinstance(value, dict):
        raise SettingRefused(
            f'{ZONES}: expected an object of zone name to {{"points": [[x, y], ...], "min_area": number or null}}'
        )
    if len(value) > MAX_POLYGONS:
        raise SettingRefused(f"{ZONES}: {len(value)} zones; at most {MAX_POLYGONS} are allowed")
    zones: dict[str, dict[str, Any]] = {}
    for name, zone in value.items():
        if not isinstance(name, str) or not re.match(CAMERA_NAME, name):
            raise SettingRefused(
                f"{ZONES}: the zone name {_shown(name)} must be 1 to 63 lower-case letters, digits, '-' and '_', "
                "starting with a letter or digit"
            )
        where = f"{ZONES}.{name}"
        if not isinstance(zone, dict) or "points" not in zone:
            raise SettingRefused(f'{where}: expected {{"points": [[x, y], ...], "min_area": number or null}}')
        unknown = sorted(set(zone) - set(ZONE_FIELDS))
        if unknown:
            raise SettingRefused(f"{where}: unknown field {unknown[0]!r}; a zone has {', '.join(ZONE_FIELDS)}")
        min_area = zone.get("min_area")
        zones[name] = {
            "points": _polygon(zone["points"], f"{where}.points"),
            "min_area": None if min_area is None else _number(MIN_AREA, min_area, f"{where}.min_area"),
        }
    return zones


def _masks(value: object) -> list[list[list[float]]]:
    if not isinstance(value, list):
        raise SettingRefused(f"{MASKS}: expected a list of polygons, each a list of [x, y] points in 0..1")
    if len(value) > MAX_POLYGONS:
        raise SettingRefused(f"{MASKS}: {len(value)} masks; at most {MAX_POLYGONS} are allowed")
    return [_polygon(mask, f"{MASKS}[{n}]") for n, mask in enumerate(value)]


def _polygon(points: object, where: str) -> list[list[float]]:
    try:
        return _listed(check_polygon(points, where))
    except PolygonError as exc:
        raise SettingRefused(str(exc)) from None


def _listed(polygon: tuple[tuple[float, float], ...]) -> list[list[float]]:
    return [[float(x), float(y)] for x, y in polygon]


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def logged(value: Any) -> Any:
    """As the audit log takes it (no floats): numbers as decimal text, a polygon as "x,y x,y ..." text."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict):  # zones
        return {
            name: {"points": _polygon_text(z["points"]), "min_area": logged(z["min_area"])} for name, z in value.items()
        }
    return [_polygon_text(mask) for mask in value]  # masks


def _polygon_text(points: list[list[float]]) -> str:
    return " ".join(f"{x:g},{y:g}" for x, y in points)


def shown(value: Any) -> str:
    """For the hub's log line: a switch as on/off, a number as itself, polygons counted."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    if value is None:
        return "the hub's default"
    return f"{len(value)} polygon(s)"
