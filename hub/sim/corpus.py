"""The labelled motion corpus: scenario scripts with ground truth, rendered, cached and decoded.

A `Scenario` is a resolution-free `Scene` (positions and sizes are fractions of
the frame) plus what a benchmark needs to score a motion detector on it: a
`kind` to group results by, whether it should raise any event at all, and the
camera's masks and zones (normalized polygons, as a camera's motion config
gives them). Every scenario runs at the analysis rate (`ANALYSIS_FPS`), so each
rendered frame is one analysed frame.

Ground truth comes from the scene script alone: a frame is "moving" when an
object is between its t0 and t1 (and visible); its boxes are the objects'
drawn extents in source pixels. Lighting, noise, rain, masked leaves, the
exposure and infrared steps and a nudged camera never count: those scenarios
expect no event. `Scenario.windows()` is `Scene.motion_windows()` (merged
[start, end] seconds); objects are placed so that they are visible from t0 to
t1, which keeps per-frame truth and windows in agreement.

`load(name, height, cache_dir)` renders the scenario at that height (16:9) with
`render.render_main`, cached under its scene digest like the demo's scenes, and
returns a `CorpusVideo` whose iteration decodes the H.264 file with PyAV and
yields `(t, luma)`: t in seconds from the start, luma the decoded Y plane as a
view (`camhub.capture.media.luma_plane`), valid until the next item.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import numpy as np

from camhub.capture.media import luma_plane
from camhub.sim.effects import object_box
from camhub.sim.render import render_main
from camhub.sim.scene import (
    RGB,
    Background,
    BackgroundStyle,
    Dawn,
    Exposure,
    Infrared,
    Leaves,
    LightSwitch,
    MovingObject,
    Nudge,
    Rain,
    Scene,
    Shape,
)

ANALYSIS_FPS = 5
# Detectors learn their background (and Frigate's its contrast history, 50 frames) in the first
# seconds; no window opens before WARMUP + 2 s, and a bench ignores flags before WARMUP.
WARMUP = 10.0
HEIGHTS = (360, 720, 1080)
# Kinds that must raise no event (issue 13). The nudged camera expects none too (nothing in
# the scene moved), but is reported apart: a shaken camera is a harder call.
QUIET_KINDS = frozenset(
    {"light_switch", "dawn", "dusk", "night_noise", "exposure_jump", "infrared_switch", "rain", "masked_leaves"}
)

Point = tuple[float, float]
Polygon = tuple[Point, ...]
PixelBox = tuple[int, int, int, int]  # x, y, width, height in source pixels
Progress = Callable[[str], None]


@dataclass(frozen=True)
class FrameTruth:
    """Ground truth of one frame: is something moving, and where."""

    time: float  # seconds from the start of the scenario
    moving: bool
    boxes: tuple[PixelBox, ...] = ()


@dataclass(frozen=True)
class Scenario:
    name: str
    kind: str  # what the bench groups by: "slow_mover", "rain", ...
    expect_events: bool  # False: any event is a false one
    scene: Scene  # at a nominal 1920x1080; `at(height)` gives the one to render
    masks: tuple[Polygon, ...] = ()  # normalized (x, y) polygons where change never counts
    zones: tuple[tuple[str, Polygon], ...] = ()  # named normalized polygons
    description: str = ""

    @property
    def duration(self) -> float:
        return self.scene.duration

    def at(self, height: int) -> Scene:
        """The scene to render at `height` rows, 16:9."""
        width = 2 * round(height * 16 / 9 / 2)
        return dataclasses.replace(self.scene, name=f"{self.name}-{height}p", width=width, height=height)

    def windows(self) -> list[tuple[float, float]]:
        """Merged [start, end] seconds in which something moves."""
        return self.scene.motion_windows()

    def truth(self, t: float, width: int, height: int) -> FrameTruth:
        boxes = []
        for obj in self.scene.objects:
            centre = obj.position(t)
            if centre is None or not obj.t0 <= t <= obj.t1:
                continue  # parked objects are drawn but do not move
            box = object_box(obj, centre, width, height)
            if box[2] > 0 and box[3] > 0:
                boxes.append(box)
        return FrameTruth(t, bool(boxes), tuple(boxes))


@dataclass
class CorpusVideo:
    """One scenario rendered at one height; iterate for `(t, luma)`."""

    scenario: Scenario
    path: Path  # the MP4 file
    width: int
    height: int
    fps: int = ANALYSIS_FPS
    truth: list[FrameTruth] = field(default_factory=list)  # one per frame

    @property
    def windows(self) -> list[tuple[float, float]]:
        return self.scenario.windows()

    @property
    def frame_count(self) -> int:
        return len(self.truth)

    def truth_at(self, t: float) -> FrameTruth:
        return self.truth[round(t * self.fps)]

    def __iter__(self) -> Iterator[tuple[float, np.ndarray]]:
        with av.open(str(self.path)) as container:
            stream = container.streams.video[0]
            # One decoder thread, as the hub decodes a camera (camhub.capture.media): extra decoder threads
            # would run beside the detectors a bench times, sharing their core and caches.
            stream.codec_context.thread_count = 1
            for n, frame in enumerate(container.decode(stream)):
                yield n / self.fps, luma_plane(frame)


def default_cache_dir() -> Path:
    """Where renders are kept between runs: $CAMHUB_CORPUS_CACHE, else ~/.cache/camhub/corpus."""
    return Path(os.environ.get("CAMHUB_CORPUS_CACHE") or Path.home() / ".cache" / "camhub" / "corpus")


def load(scenario: str | Scenario, height: int, cache_dir: Path | str, progress: Progress | None = None) -> CorpusVideo:
    """Render (or reuse) a scenario, by name or given, at `height` rows and return it ready to decode."""
    if isinstance(scenario, str):
        if scenario not in SCENARIOS:
            raise KeyError(f"corpus: no scenario {scenario!r} (known: {', '.join(SCENARIOS)})")
        scenario = SCENARIOS[scenario]
    scene = scenario.at(height)
    files = render_main(scene, cache_dir, progress)
    truth = [scenario.truth(n / scene.fps, scene.width, scene.height) for n in range(scene.frame_count)]
    return CorpusVideo(scenario, files.mp4, scene.width, scene.height, scene.fps, truth)


def render_all(
    names: Iterable[str], heights: Iterable[int], cache_dir: Path | str, progress: Progress | None = None
) -> list[CorpusVideo]:
    """Render every named scenario at every height (cached ones are reused), reporting each as it is done."""
    jobs = [(name, height) for height in heights for name in names]
    total = sum(SCENARIOS[name].duration for name, _ in jobs)
    done = 0.0
    videos = []
    for k, (name, height) in enumerate(jobs, 1):
        began = time.monotonic()
        videos.append(load(name, height, cache_dir, progress))
        done += SCENARIOS[name].duration
        if progress:
            spent = time.monotonic() - began
            how = f"rendered in {spent:.0f} s" if spent > 1 else "cached"
            progress(f"corpus [{k}/{len(jobs)}] {name} {height}p {how}; {done / total:.0%} of {total / 60:.0f} min")
    return videos


# --- the scenarios ------------------------------------------------------------

_NOMINAL = (1920, 1080)


def _px_per_s(px: float) -> float:
    """A speed in 1080p pixels per second as a fraction of the frame width per second."""
    return px / _NOMINAL[0]


def _across(
    t0: float, t1: float, y: float, size: Point, colour: RGB, leftward: bool = False, shape: Shape = "rect"
) -> MovingObject:
    """An object crossing the whole frame, touching its edge (visible) at t0 and t1."""
    inside = size[0] / 2 - 0.004
    a, b = (-inside, y), (1 + inside, y)
    start, end = (b, a) if leftward else (a, b)
    return MovingObject(start=start, end=end, t0=t0, t1=t1, size=size, color=colour, shape=shape)


_PERSON_NEAR = (0.07, 0.45)
_PERSON_FAR = (0.018, 0.09)
_PERSON_SLOW = (0.035, 0.2)  # 67 x 216 px at 1080p
_CAR = (0.22, 0.14)
_SKIN = (180, 120, 90)
_COAT = (60, 70, 110)


def _slow_person() -> MovingObject:
    # Walks in from the left edge at 9 px/s (1080p) for 100 s, then stands still.
    x0 = -_PERSON_SLOW[0] / 2 + 0.004
    return MovingObject(
        start=(x0, 0.62),
        end=(x0 + 100 * _px_per_s(9), 0.62),
        t0=12.0,
        t1=112.0,
        size=_PERSON_SLOW,
        color=_COAT,
        shape="ellipse",
        show_after=True,
    )


def _slow_car() -> tuple[MovingObject, ...]:
    # Creeps in from the right edge at 9 px/s for 75 s, then stays parked. A grey body of about the grass's
    # luma (a flat slab of it would be invisible to any luma detector), with what makes a car a car in grey
    # levels: dark windows and tyres. The parts move together, drawn body first.
    x0 = 1 + _CAR[0] / 2 - 0.004
    parts: tuple[tuple[Point, Point, RGB, Shape], ...] = (
        ((0.0, 0.0), _CAR, (95, 95, 105), "rect"),
        ((0.0, -0.035), (0.16, 0.045), (35, 40, 50), "rect"),  # windows
        ((-0.07, 0.065), (0.035, 0.04), (25, 25, 25), "ellipse"),  # tyres
        ((0.07, 0.065), (0.035, 0.04), (25, 25, 25), "ellipse"),
    )
    end = x0 - 75 * _px_per_s(9)
    return tuple(
        MovingObject(
            start=(x0 + dx, 0.72 + dy),
            end=(end + dx, 0.72 + dy),
            t0=20.0,
            t1=95.0,
            size=size,
            color=colour,
            shape=shape,
            show_after=True,
        )
        for (dx, dy), size, colour, shape in parts
    )


def _insect(t0: float, y0: float, y1: float) -> MovingObject:
    size, blur = (0.22, 0.16), 0.03
    # Its blurred edge (2 sigma; blur is a fraction of the height) just inside the frame.
    inside = size[0] / 2 + 2 * blur * _NOMINAL[1] / _NOMINAL[0] - 0.004
    return MovingObject(
        start=(-inside, y0),
        end=(1 + inside, y1),
        t0=t0,
        t1=t0 + 1.0,
        size=size,
        color=(25, 22, 20),
        shape="ellipse",
        blur=blur,
    )


_LEAVES_BOX = (0.05, 0.08, 0.25, 0.5)
_LEAVES_MASK: Polygon = ((0.03, 0.06), (0.32, 0.06), (0.32, 0.6), (0.03, 0.6))
_NUDGE = (4 / 1920, 3 / 1080)  # a few pixels at 1080p


def _scenario(
    name: str,
    kind: str,
    duration: float,
    seed: int,
    description: str,
    style: BackgroundStyle = "yard",
    masks: tuple[Polygon, ...] = (),
    **scene: Any,
) -> Scenario:
    """A scenario; it expects events exactly when its scene has moving objects."""
    background = Background(style, seed=seed)
    script = Scene(name, *_NOMINAL, fps=ANALYSIS_FPS, duration=duration, background=background, **scene)
    return Scenario(name, kind, bool(script.objects), script, masks=masks, description=description)


_NEAR = ((12, 17), (30, 36), (55, 60), (80, 86), (103, 108))
_FAR = ((12, 24), (35, 47), (62, 72), (90, 104))
_SMALL = ((12, 32), (45, 60), (75, 95))
_FAST = ((12, 13.5), (30, 31.2), (50, 51.5), (70, 71.4), (95, 96.5))


def _scenarios() -> list[Scenario]:
    near = tuple(_across(a, b, 0.62, _PERSON_NEAR, _SKIN, i % 2 == 1, "ellipse") for i, (a, b) in enumerate(_NEAR))
    far = tuple(_across(a, b, 0.52, _PERSON_FAR, _COAT, i % 2 == 0, "ellipse") for i, (a, b) in enumerate(_FAR))
    small = tuple(
        MovingObject((0.2 + 0.1 * i, 0.55), (0.6 + 0.1 * i, 0.57), a, b, (0.012, 0.03), (40, 35, 30), "ellipse")
        for i, (a, b) in enumerate(_SMALL)
    )
    fast = tuple(_across(a, b, 0.7, _CAR, (30, 60, 200), i % 2 == 1) for i, (a, b) in enumerate(_FAST))
    switches = tuple(LightSwitch(t, 1.0 if i % 2 == 0 else 0.5) for i, t in enumerate((20, 40, 60, 80, 100)))
    exposures = (Exposure(25, 1.35, 1.1), Exposure(55, 1.0, 1.0), Exposure(85, 0.75, 0.9), Exposure(105, 1.0, 1.0))
    insects = (_insect(15, 0.25, 0.45), _insect(40, 0.6, 0.3), _insect(70, 0.4, 0.42), _insect(100, 0.2, 0.7))
    nudges = tuple(Nudge(t, t + 0.6, *_NUDGE) for t in (20, 50, 80, 105))
    leaves = Leaves(_LEAVES_BOX, amplitude=0.012, period=2.5, seed=22)
    return [
        _scenario("person_near", "person_near", 120, 11, "a person walks across close by, five times", objects=near),
        _scenario("person_far", "person_far", 120, 12, "a person walks across far away, four times", objects=far),
        _scenario("slow_person", "slow_mover", 150, 13, "a person loiters in at 9 px/s (1080p) for 100 s, then stands",
                  objects=(_slow_person(),)),
        _scenario("slow_car", "slow_mover", 150, 14, "a car creeps up the drive at 9 px/s (1080p) for 75 s, then parks",
                  objects=_slow_car()),
        _scenario("small_far", "small_far", 120, 15, "a small animal far away crosses part of the lawn, three times",
                  objects=small),
        _scenario("car_fast", "car_fast", 120, 16, "a car passes in 1.2-1.5 s, five times", objects=fast),
        _scenario("light_switch", "light_switch", 120, 17, "a room light switched on and off every 20 s", "room",
                  brightness=0.5, lights=switches),
        _scenario("dawn", "dawn", 300, 18, "brightness rises from 12% to 100% over 5 minutes", brightness=0.12,
                  noise_sigma=3.0, dawns=(Dawn(0, 300, 0.12, 1.0),)),
        _scenario("dusk", "dusk", 300, 19, "brightness falls from 100% to 12% over 5 minutes", noise_sigma=3.0,
                  dawns=(Dawn(0, 300, 1.0, 0.12),)),
        _scenario("night_noise", "night_noise", 120, 20, "a dark yard with heavy sensor grain", brightness=0.22,
                  noise_sigma=9.0),
        _scenario("rain", "rain", 120, 21, "a few hundred thin bright streaks, new in every frame", brightness=0.8,
                  rain=(Rain(0, 120, 250, 0.04, 21),)),
        _scenario("masked_leaves", "masked_leaves", 120, 22, "a tree's leaves sway, inside the camera's mask",
                  masks=(_LEAVES_MASK,), leaves=(leaves,)),
        _scenario("exposure_jump", "exposure_jump", 120, 23, "auto-exposure steps brightness and contrast four times",
                  exposures=exposures),
        _scenario("infrared_switch", "infrared_switch", 120, 24, "at dusk the camera switches to infrared and back",
                  brightness=0.35, noise_sigma=3.0, infrared=(Infrared(40, 90, 1.9, 0.8),)),
        _scenario("insect", "insect", 120, 25, "a big, blurred, dark insect crosses close to the lens in 1 s, 4 times",
                  objects=insects),
        _scenario("camera_nudged", "camera_nudged", 120, 26, "wind shifts the picture a few pixels for 0.6 s, 4 times",
                  nudges=nudges),
    ]  # fmt: skip


SCENARIOS: dict[str, Scenario] = {s.name: s for s in _scenarios()}
