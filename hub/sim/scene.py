"""Simulated-camera scenes as plain data, and their ground truth.

A `Scene` says everything the renderer needs: resolution, frame rate, loop
length, codec and GOP, a procedural background, moving objects, sensor noise
and lighting changes. Positions and sizes are fractions of the frame (0..1),
so one scene renders at any resolution (main and sub-stream alike).

`Scene.motion_windows()` is the ground truth tests compare the hub against:
only objects moving count as motion; noise, light switches, dawn, rain, swaying
leaves, exposure and infrared switches and a nudged camera do not (they are the
disturbances a motion detector must ride out; `camhub.sim.effects` draws them).
`Scene.from_dict` builds a scene from YAML-able data and rejects unknown keys
by name, so a typo in a scene file is an error rather than a silent default.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

Codec = Literal["h264", "hevc"]
Shape = Literal["rect", "ellipse"]
BackgroundStyle = Literal["yard", "room", "flat"]
RGB = tuple[int, int, int]
Point = tuple[float, float]


class SceneError(ValueError):
    """A scene definition is invalid; the message names the bad key or value."""


@dataclass(frozen=True)
class Background:
    """A procedural, deterministic backdrop: the same seed gives the same pixels."""

    style: BackgroundStyle = "yard"
    seed: int = 0


@dataclass(frozen=True)
class MovingObject:
    """A filled shape that travels from `start` to `end` between t0 and t1.

    It is drawn only during [t0, t1] unless `show_before`/`show_after` keep it
    parked at its start/end point outside that window (a parked car, a person
    who walks in and stays).
    """

    start: Point
    end: Point
    t0: float
    t1: float
    size: Point = (0.1, 0.1)
    color: RGB = (200, 40, 40)
    shape: Shape = "rect"
    show_before: bool = False
    show_after: bool = False
    blur: float = 0.0  # gaussian sigma, fraction of the frame height (out of focus: an insect on the lens)

    def position(self, t: float) -> Point | None:
        """Centre of the object at time t (seconds), or None when not drawn."""
        if t < self.t0:
            return self.start if self.show_before else None
        if t > self.t1:
            return self.end if self.show_after else None
        a = (t - self.t0) / (self.t1 - self.t0)
        return (self.start[0] + a * (self.end[0] - self.start[0]), self.start[1] + a * (self.end[1] - self.start[1]))


@dataclass(frozen=True)
class LightSwitch:
    """At time t the global brightness steps to `level` (1.0 = as rendered)."""

    t: float
    level: float


@dataclass(frozen=True)
class Dawn:
    """Brightness ramps linearly from `start_level` to `end_level` over [t0, t1]."""

    t0: float
    t1: float
    start_level: float
    end_level: float


@dataclass(frozen=True)
class Rain:
    """Thin bright streaks at random places, different in every frame, during [t0, t1]."""

    t0: float
    t1: float
    streaks: int = 300  # per frame
    length: float = 0.04  # of the frame height
    seed: int = 0


@dataclass(frozen=True)
class Leaves:
    """Foliage filling `box` (x, y, width, height as fractions) whose pixels sway all the time.

    The texture moves by up to `amplitude` (fraction of the frame height) with
    a phase that varies across the patch; nothing outside `box` changes.
    """

    box: tuple[float, float, float, float]
    amplitude: float = 0.01
    period: float = 2.0  # seconds
    seed: int = 0


@dataclass(frozen=True)
class Exposure:
    """From t on, auto-exposure multiplies luma by `gain` after stretching it by `contrast` around mid-grey."""

    t: float
    gain: float = 1.0
    contrast: float = 1.0


@dataclass(frozen=True)
class Infrared:
    """During [t0, t1] the camera sees by infrared: no colour, and luma changed by `gain` and `contrast`."""

    t0: float
    t1: float
    gain: float = 1.8
    contrast: float = 0.8


@dataclass(frozen=True)
class Nudge:
    """During [t0, t1] the whole picture is shifted by (dx, dy), fractions of the frame: the camera shook."""

    t0: float
    t1: float
    dx: float
    dy: float


@dataclass(frozen=True)
class Tone:
    """The global tone of a frame: luma' = gain * (128 + contrast * (level * luma - 128)); grey drops colour."""

    level: float = 1.0
    gain: float = 1.0
    contrast: float = 1.0
    grey: bool = False


@dataclass(frozen=True)
class Scene:
    name: str
    width: int = 1280
    height: int = 720
    fps: int = 15
    duration: float = 30.0  # seconds; the loop length
    codec: Codec = "h264"
    gop: int = 0  # keyframe interval in frames; 0 means 2 * fps
    background: Background = field(default_factory=Background)
    objects: tuple[MovingObject, ...] = ()
    noise_sigma: float = 2.0  # gaussian sensor noise, in luma levels
    brightness: float = 1.0  # level at loop start
    lights: tuple[LightSwitch, ...] = ()
    # The sub-stream's average bit rate in kbit/s, as a camera's encoder is set; 0 keeps constant quality.
    # Sensor noise at constant quality makes a 5 fps sub-stream's frames three times the size of a camera's.
    sub_kbps: int = 0
    dawns: tuple[Dawn, ...] = ()
    rain: tuple[Rain, ...] = ()
    leaves: tuple[Leaves, ...] = ()
    exposures: tuple[Exposure, ...] = ()
    infrared: tuple[Infrared, ...] = ()
    nudges: tuple[Nudge, ...] = ()

    def __post_init__(self) -> None:
        if self.gop == 0:
            object.__setattr__(self, "gop", 2 * self.fps)
        self._validate()

    @property
    def frame_count(self) -> int:
        return round(self.duration * self.fps)

    def brightness_at(self, t: float) -> float:
        """Global brightness at time t: later-starting changes override earlier."""
        level = self.brightness
        changes: list[tuple[float, Any]] = [(s.t, s) for s in self.lights]
        changes += [(d.t0, d) for d in self.dawns]
        for start, change in sorted(changes, key=lambda c: c[0]):
            if t < start:
                break
            if isinstance(change, LightSwitch):
                level = change.level
            else:
                span = change.t1 - change.t0
                a = min(1.0, (t - change.t0) / span) if span > 0 else 1.0
                level = change.start_level + a * (change.end_level - change.start_level)
        return level

    def tone_at(self, t: float) -> Tone:
        """Brightness, the latest exposure step, and infrared if it is on at time t."""
        gain, contrast = 1.0, 1.0
        for step in sorted(self.exposures, key=lambda e: e.t):
            if t >= step.t:
                gain, contrast = step.gain, step.contrast
        grey = False
        for ir in self.infrared:
            if ir.t0 <= t < ir.t1:
                gain, contrast, grey = gain * ir.gain, contrast * ir.contrast, True
        return Tone(round(self.brightness_at(t), 3), round(gain, 3), round(contrast, 3), grey)

    def shift_at(self, t: float) -> tuple[float, float] | None:
        """The picture's shift at time t (fractions of the frame), or None when the camera is still."""
        for nudge in self.nudges:
            if nudge.t0 <= t < nudge.t1:
                return (nudge.dx, nudge.dy)
        return None

    def motion_windows(self) -> list[tuple[float, float]]:
        """Merged [start, end] seconds (from loop start) in which something moves.

        Appearing and vanishing happen at t0/t1, inside the window, so they are
        covered too. Lighting and noise never contribute.
        """
        spans = sorted((max(0.0, o.t0), min(self.duration, o.t1)) for o in self.objects)
        merged: list[tuple[float, float]] = []
        for a, b in spans:
            if merged and a <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], b))
            else:
                merged.append((a, b))
        return merged

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        if not self.sub_kbps:
            del data["sub_kbps"]  # so scenes from before the key keep their digest and cached renders
        return data

    def digest(self) -> str:
        """A short stable hash of the definition; renders are cached under it."""
        blob = json.dumps(self.to_dict(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scene:
        """Build a scene from YAML-able data; unknown keys raise `SceneError`."""
        fields = _checked(cls, data, "scene")
        if "background" in fields:
            fields["background"] = _build(Background, fields["background"], "scene.background")
        for key, kind in _EFFECT_KINDS.items():
            if key in fields:
                fields[key] = tuple(_build(kind, item, f"scene.{key}[{i}]") for i, item in enumerate(fields[key]))
        try:
            return cls(**fields)
        except TypeError as exc:
            raise SceneError(f"scene: {exc}") from exc

    def _validate(self) -> None:
        where = f"scene {self.name!r}"
        if not self.name or "/" in self.name:
            raise SceneError(f"{where}: name must be non-empty without '/'")
        if self.width % 2 or self.height % 2 or self.width < 16 or self.height < 16:
            raise SceneError(f"{where}: width/height must be even and >= 16, got {self.width}x{self.height}")
        if not 1 <= self.fps <= 60:
            raise SceneError(f"{where}: fps must be 1..60, got {self.fps}")
        if self.duration <= 0 or self.frame_count < 1:
            raise SceneError(f"{where}: duration must be > 0, got {self.duration}")
        if self.codec not in ("h264", "hevc"):
            raise SceneError(f"{where}: codec must be 'h264' or 'hevc', got {self.codec!r}")
        if self.gop < 1:
            raise SceneError(f"{where}: gop must be >= 1, got {self.gop}")
        if self.background.style not in ("yard", "room", "flat"):
            raise SceneError(f"{where}: background.style must be yard, room or flat, got {self.background.style!r}")
        if self.sub_kbps < 0:
            raise SceneError(f"{where}: sub_kbps must be >= 0, got {self.sub_kbps}")
        if self.noise_sigma < 0:
            raise SceneError(f"{where}: noise_sigma must be >= 0, got {self.noise_sigma}")
        for i, o in enumerate(self.objects):
            if not 0 <= o.t0 < o.t1 <= self.duration:
                raise SceneError(f"{where}: objects[{i}] needs 0 <= t0 < t1 <= duration, got t0={o.t0} t1={o.t1}")
            if o.shape not in ("rect", "ellipse"):
                raise SceneError(f"{where}: objects[{i}].shape must be rect or ellipse, got {o.shape!r}")
        for key in ("dawns", "rain", "infrared", "nudges"):
            for i, span in enumerate(getattr(self, key)):
                if span.t1 < span.t0:
                    raise SceneError(f"{where}: {key}[{i}] needs t0 <= t1, got t0={span.t0} t1={span.t1}")
        for i, o in enumerate(self.objects):
            if o.blur < 0:
                raise SceneError(f"{where}: objects[{i}].blur must be >= 0, got {o.blur}")
        for i, leaves in enumerate(self.leaves):
            x, y, w, h = leaves.box
            if not (x >= 0 and y >= 0 and w > 0 and h > 0 and x + w <= 1 and y + h <= 1):
                raise SceneError(f"{where}: leaves[{i}].box must lie inside the frame (0..1), got {leaves.box}")
            if leaves.period <= 0:
                raise SceneError(f"{where}: leaves[{i}].period must be > 0, got {leaves.period}")
        for key in ("exposures", "infrared"):
            for i, step in enumerate(getattr(self, key)):
                if step.gain <= 0 or step.contrast <= 0:
                    raise SceneError(f"{where}: {key}[{i}]: gain and contrast must be > 0, got {step}")


# The list-valued keys of a scene and the type of their items.
_EFFECT_KINDS: dict[str, type] = {
    "objects": MovingObject,
    "lights": LightSwitch,
    "dawns": Dawn,
    "rain": Rain,
    "leaves": Leaves,
    "exposures": Exposure,
    "infrared": Infrared,
    "nudges": Nudge,
}

T = TypeVar("T")


def _checked(cls: type, data: Any, where: str) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise SceneError(f"{where}: expected a mapping, got {type(data).__name__}")
    known = {f.name for f in dataclasses.fields(cls)}
    for key in data:
        if key not in known:
            raise SceneError(f"{where}: unknown key {key!r} (known: {', '.join(sorted(known))})")
    out = dict(data)
    # YAML gives lists; the frozen dataclasses want tuples so they stay hashable.
    for key, value in out.items():
        if isinstance(value, list) and key not in _EFFECT_KINDS:
            out[key] = tuple(value)
    return out


def _build(cls: type[T], data: Any, where: str) -> T:
    if isinstance(data, cls):
        return data
    try:
        return cls(**_checked(cls, data, where))
    except TypeError as exc:
        raise SceneError(f"{where}: {exc}") from exc


def _car(t0: float, t1: float, leftward: bool = False, color: RGB = (30, 60, 200)) -> MovingObject:
    a, b = (-0.15, 0.7), (1.15, 0.7)
    return MovingObject(
        start=b if leftward else a, end=a if leftward else b, t0=t0, t1=t1, size=(0.22, 0.14), color=color, shape="rect"
    )


BUILTIN_SCENES: dict[str, Scene] = {
    # A car crosses left to right, and later back.
    "driveway": Scene(
        name="driveway",
        background=Background("yard", seed=1),
        objects=(_car(4.0, 8.0), _car(18.0, 22.0, leftward=True)),
    ),
    # A person walks in and stays; the porch light comes on later, in a quiet time.
    "porch": Scene(
        name="porch",
        background=Background("room", seed=2),
        brightness=0.55,
        objects=(
            MovingObject(
                start=(1.1, 0.6),
                end=(0.6, 0.6),
                t0=5.0,
                t1=10.0,
                size=(0.08, 0.35),
                color=(180, 120, 90),
                shape="ellipse",
                show_after=True,
            ),
        ),
        lights=(LightSwitch(t=18.0, level=1.0),),
    ),
    # Slow dawn over the whole loop, one cat crossing the lawn.
    "garden": Scene(
        name="garden",
        background=Background("yard", seed=3),
        brightness=0.3,
        dawns=(Dawn(t0=0.0, t1=30.0, start_level=0.3, end_level=1.0),),
        objects=(
            MovingObject(
                start=(0.2, 0.85),
                end=(0.8, 0.8),
                t0=12.0,
                t1=17.0,
                size=(0.07, 0.05),
                color=(60, 50, 40),
                shape="ellipse",
            ),
        ),
    ),
    # Noise only: a motion detector must stay quiet.
    "still": Scene(name="still", background=Background("room", seed=4), noise_sigma=3.0),
    # The driveway encoded as HEVC, for cameras that only offer H.265.
    "driveway-hevc": Scene(
        name="driveway-hevc",
        codec="hevc",
        background=Background("yard", seed=1),
        objects=(_car(4.0, 8.0), _car(18.0, 22.0, leftward=True)),
    ),
}
