"""The motion engine: one camera's background model, pure and synchronous.

`MotionEngine.analyse` takes the luma (Y) plane of a decoded detect frame, a
2-D uint8 array that may be a strided view of the decoder's buffer (no copy
of the full plane and no colour conversion is made), and returns a
`MotionResult`: the changed fraction of the unmasked frame, the changed
regions as boxes in source pixels, the zones they touched, and whether the
whole picture changed (a light, the exposure, the camera moved). It reads no
clock and does no I/O; times belong to the caller (`camhub.motion.watcher`).

The pipeline is a handful of OpenCV calls on a small image, so its cost is
nearly the same at 360p and at 4K:

1. nearest-neighbour sampling to about `frame_height` rows: every n-th pixel
   of every n-th row of the source, a strided view that only the next call
   reads (n is the source height over frame_height, rounded; a 1080p frame
   is sampled every 12 pixels to 90 x 160);
2. a 3x3 median: thin specks (rain, single noisy pixels) vanish and sensor
   noise is more than halved (a box blur left rain streaks that counted);
3. difference against the running-average background, a threshold, the
   masks and a count: most frames end here;
4. only a frame where enough changed pays for the light model (the
   background scaled to the frame's mean and standard deviation, so dawn, an
   exposure step or a light switch does not look like change), the
   comparison with the frame `MOVING_LAG` back, the zones and the regions.

docs/motion.md tells the whole order and why; docs/decisions.md the choices.

Slow movers are seen because a pixel counts when it differs from a slow
background (it absorbs a still object over about `1 / BACKGROUND_WEIGHT`
analysed frames, 20 s at 5 fps) and from the frame of `MOVING_LAG` seconds
ago. Something crossing a few pixels a second has moved a whole analysis
pixel or more in that time, where the previous frame would have shown it a
tenth of one; and something that stopped (a person who sat down, a parked
car) stops counting `MOVING_LAG` seconds later, not when the slow background
has absorbed it. The second comparison is made only in frames that already
changed enough against the background, so a quiet frame never pays for it.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import cv2
import numpy as np

from camhub.config import MotionConfig
from camhub.motion.zones import rasterise

# OpenCV's worker pool only spins on images this small; every camera has its own thread anyway.
cv2.setNumThreads(1)

# Weight of each analysed frame in the running-average background: a time
# constant of 100 frames (20 s at 5 fps). Long enough that something crossing
# a few pixels a second stands out against it; short enough to absorb a parked
# car or moved chair within a minute.
BACKGROUND_WEIGHT = 0.01
# A pixel must also differ from the frame this many seconds back to count as moving now.
MOVING_LAG = 2.0
# After a global change the background restarts from the new frame and follows
# fast for a few frames (codec and exposure settling), reporting no motion.
CALIBRATION_WEIGHT = 0.2
CALIBRATION_FRAMES = 5
# A frame whose brightness or contrast moved this much (as a ratio) against the
# previous one is a light switch, an exposure step or an infrared switch: if
# it also changed a fair part of the picture after compensation (clipped
# highlights, surfaces that reflect infrared differently), that is the global
# change, not motion.
STEP_RATIO = 0.08
STEP_CHANGED = 0.05
# Light changes smaller than this (a gain within 1%, half a luma level on average) leave the
# background as it is: scaling it would change no pixel by a whole level.
SAME_GAIN = 0.01
SAME_LEVEL = 0.5
# Automatic noise level: the mean absolute difference of the pixels under the
# threshold, followed with this weight, times NOISE_FACTOR is the next
# threshold. For Gaussian noise the mean absolute deviation is 0.8 sigma, so
# this settles near 4 sigma; a threshold set too low truncates the mean to
# about half of itself, which lifts the next one 2.5 times, so it climbs to
# that point from below too, and moving objects (over the threshold) do not
# count. Learnt on every NOISE_EVERY-th frame: noise does not change faster.
NOISE_WEIGHT = 0.1
NOISE_FACTOR = 5.0
NOISE_EVERY = 5
CALIBRATION_NOISE_WEIGHT = 0.5
STATS_EVERY = 5
AUTO_THRESHOLD_MAX = 60.0
# Frames are refused beyond these sides (pixels): no camera sends more, and an
# absurd shape from a hostile stream must not allocate without bound.
MIN_SIDE = 2
MAX_SIDE = 16384
# Regions whose dilated bounding box covers fewer analysis pixels than this
# are specks (one changed pixel dilates to 3 x 3), not movers.
MIN_REGION = 12

PixelBox = tuple[int, int, int, int]  # x, y, width, height in source pixels
_JOIN = np.ones((3, 3), np.uint8)  # the dilation that joins an object's fragments


class MotionResult(NamedTuple):
    """What the engine saw in one frame.

    A NamedTuple rather than a frozen dataclass: one is made per analysed frame, and a frozen
    dataclass's __init__ (a setattr per field) cost 2.6 us here, a twentieth of the whole budget.
    """

    score: float  # changed fraction of the unmasked frame, 0..1
    motion: bool  # enough change where it counts (inside a zone, when zones are set)
    boxes: tuple[PixelBox, ...] = ()  # changed regions, source pixels, largest first
    zones: tuple[str, ...] = ()  # zones whose minimum area was reached, sorted
    global_change: bool = False  # the whole picture changed: the background was learnt again
    threshold: float = 0.0  # luma levels a pixel had to change by (learnt when auto_threshold)


@dataclass(frozen=True)
class _Zone:
    name: str
    raster: np.ndarray  # uint8 255 inside, analysis size
    min_pixels: int


class MotionEngine:
    """One camera's motion model. Not thread-safe: one caller at a time (the detect reader)."""

    def __init__(self, config: MotionConfig | None = None) -> None:
        self.config = config or MotionConfig()
        self._source: tuple[int, int] | None = None  # (height, width) of the frames being analysed
        self._size = (0, 0)  # (width, height) of the analysis image
        self._step = 1  # the source is sampled every `step` pixels in both directions
        self._background: np.ndarray | None = None  # float32 running average
        self._stats = (0.0, 0.0)  # mean and standard deviation of the previous frame
        self._calibrating = 0
        self._noise: float | None = None  # learnt mean absolute difference under the threshold
        self._frames = 0
        self._age = 0
        # Analysis images with their mean and standard deviation, newest last.
        self._recent: deque[tuple[np.ndarray, float, float]] = deque(maxlen=_lag_frames(self.config))
        self._background8: np.ndarray = np.zeros((1, 1), np.uint8)  # the background as uint8, refreshed now and then
        self._background_stats = (0.0, 0.0)  # its mean and deviation outside the masks
        self._quiet: np.ndarray | None = None  # where brightness is measured: unmasked, unchanged last frame
        self._difference: np.ndarray = np.zeros((1, 1), np.uint8)  # the last frame's difference from the background
        self._keep: np.ndarray | None = None  # 255 where change counts (outside every mask); None: everywhere
        self._counted = 1  # pixels where change counts
        self._zones: tuple[_Zone, ...] = ()
        self._min_pixels = 1
        self._threshold = self.config.threshold

    # -- settings
    def configure(self, config: MotionConfig) -> None:
        """New settings from the next frame on; the learnt background and noise level are kept."""
        old, self.config = self.config, config
        self._update_threshold()
        if _lag_frames(config) != self._recent.maxlen:
            self._recent = deque(self._recent, maxlen=_lag_frames(config))
        if self._source is None:
            return
        if config.frame_height != old.frame_height:
            height, width = self._source
            self._step, self._size = _sampling(width, height, config.frame_height)
            if self._background is not None:  # the background is kept, resampled; what was recent is not
                self._background = cv2.resize(self._background, self._size, interpolation=cv2.INTER_AREA)
                self._background8 = cv2.convertScaleAbs(self._background)
            self._recent.clear()
        self._rasterise()

    def reset(self) -> None:
        """Forget the background, e.g. after the stream reconnects. The noise level is kept."""
        self._background = None
        self._source = None
        self._age = 0

    @property
    def background_age(self) -> int:
        """Frames analysed since the background was last learnt from scratch (0: not learnt yet)."""
        return self._age

    @property
    def threshold(self) -> float:
        """The pixel threshold in force: the configured one, or the learnt one with auto_threshold."""
        return self._threshold

    def _update_threshold(self) -> None:
        floor = self.config.threshold
        if not self.config.auto_threshold or self._noise is None:
            self._threshold = floor
            return
        self._threshold = min(AUTO_THRESHOLD_MAX, max(floor, NOISE_FACTOR * self._noise))

    # -- frames
    def analyse(self, luma: np.ndarray) -> MotionResult:
        """Compare one luma plane (height x width, uint8) with the background."""
        _check_frame(luma)
        if self._source != luma.shape:
            self._start(luma.shape[0], luma.shape[1])
        step, first = self._step, self._step // 2
        small = cv2.medianBlur(luma[first::step, first::step], 3)
        background = self._background
        if background is None:
            return self._relearn(small)
        refresh = self._frames % STATS_EVERY == 0
        if refresh:  # the background moves 1% a frame: a uint8 copy may lag a little
            self._background8 = cv2.convertScaleAbs(background)
            self._background_stats = _stats(self._background8, self._keep)
        threshold = self._threshold
        # Most frames change nowhere: against the background as it is, they are done in four calls.
        # Only a frame where enough changed pays for the light model, the movers and the regions.
        changed_mask, changed = self._changed(small, self._background8, threshold)
        if refresh and changed < self._min_pixels:  # a still frame keeps the light model's memory current
            self._stats = _stats(small, self._quiet)
        mean, std = self._stats
        if changed >= self._min_pixels or self._calibrating:
            outcome = self._light(small, threshold)
            if outcome is None:
                return self._relearn(small, self._stats, global_change=True)
            changed_mask, changed, mean, std = outcome
        fraction = changed / self._counted
        self._frames += 1
        self._age += 1
        if self._calibrating:
            self._calibrating -= 1
            cv2.accumulateWeighted(small, background, CALIBRATION_WEIGHT)
            self._background8 = cv2.convertScaleAbs(background)  # it moves fast now: compared fresh
            self._background_stats = _stats(self._background8, self._keep)
            if self.config.auto_threshold:  # learn the noise at once, while nothing is reported anyway
                self._learn_noise(changed_mask, CALIBRATION_NOISE_WEIGHT)
            return MotionResult(score=0.0, motion=False, threshold=threshold)
        if self.config.auto_threshold and self._frames % NOISE_EVERY == 0:
            self._learn_noise(changed_mask, NOISE_WEIGHT)
        if self._frames % 2 == 0:  # every other frame at twice the weight: the same time constant, half the calls
            cv2.accumulateWeighted(small, background, 2 * BACKGROUND_WEIGHT)
        lagged = self._recent[0] if len(self._recent) == self._recent.maxlen else None
        self._recent.append((small, mean, std))
        if changed < self._min_pixels:
            return MotionResult(score=fraction, motion=False, threshold=threshold)
        if lagged is not None:  # what differs from the background and changed in the last MOVING_LAG seconds
            before, before_mean, before_std = lagged
            moved = cv2.absdiff(small, _matched(before, (before_mean, before_std), mean, std))
            changed_mask = cv2.bitwise_and(changed_mask, cv2.threshold(moved, threshold, 255, cv2.THRESH_BINARY)[1])
            changed = cv2.countNonZero(changed_mask)
            fraction = changed / self._counted
            if changed < self._min_pixels:
                return MotionResult(score=fraction, motion=False, threshold=threshold)
        return self._regions(changed_mask, fraction, threshold)

    def _light(self, small: np.ndarray, threshold: float) -> tuple[np.ndarray, int, float, float] | None:
        """Where the frame changed against the background matched to its light, or None for a global change.

        Brightness and contrast are measured where nothing changed in the previous frame (nor in a mask),
        so a mover or swaying leaves do not shift the model of the light for the whole picture; and when
        movers just came into a still picture, measured again without them, lest a bright car entering
        "brighten" the whole background. The result is the changed pixels, their count, and the light.
        """
        quiet = self._quiet
        mean, std = _stats(small, quiet)
        matched = _matched(self._background8, self._background_stats_where(quiet), mean, std)
        changed_mask, changed = self._changed(small, matched, threshold)
        if quiet is self._keep and self._min_pixels <= changed < self.config.global_change * self._counted:
            quiet = _outside(changed_mask, self._keep)
            mean, std = _stats(small, quiet)
            matched = _matched(self._background8, self._background_stats_where(quiet), mean, std)
            changed_mask, changed = self._changed(small, matched, threshold)
        previous_mean, previous_std = self._stats
        self._stats = (mean, std)
        stepped = abs(mean - previous_mean) > STEP_RATIO * (previous_mean + 1.0) or abs(
            std - previous_std
        ) > STEP_RATIO * (previous_std + 1.0)
        fraction = changed / self._counted
        if fraction > self.config.global_change or (stepped and fraction > STEP_CHANGED):
            return None
        # A few noisy pixels do not move the measured light: only motion-sized change measures the next frame
        # elsewhere.
        self._quiet = self._keep if changed < self._min_pixels else _outside(changed_mask, self._keep)
        return changed_mask, changed, mean, std

    def _background_stats_where(self, quiet: np.ndarray | None) -> tuple[float, float]:
        return self._background_stats if quiet is self._keep else _stats(self._background8, quiet)

    # -- internals
    def _changed(self, small: np.ndarray, reference: np.ndarray, threshold: float) -> tuple[np.ndarray, int]:
        """The pixels (255) that differ from `reference` by more than the threshold, outside masks; their count."""
        self._difference = cv2.absdiff(small, reference)
        changed_mask = cv2.threshold(self._difference, threshold, 255, cv2.THRESH_BINARY)[1]
        if self._keep is not None:
            changed_mask = cv2.bitwise_and(changed_mask, self._keep)
        return changed_mask, cv2.countNonZero(changed_mask)

    def _regions(self, changed_mask: np.ndarray, fraction: float, threshold: float) -> MotionResult:
        touched = tuple(
            zone.name
            for zone in self._zones
            if cv2.countNonZero(cv2.bitwise_and(changed_mask, zone.raster)) >= zone.min_pixels
        )
        if self._zones and not touched:
            return MotionResult(score=fraction, motion=False, threshold=threshold)
        # One dilation joins the fragments of one object (differencing sees its edges) into one region.
        contours = cv2.findContours(cv2.dilate(changed_mask, _JOIN), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)[0]
        rects = sorted((_rect(cv2.boundingRect(c)) for c in contours), key=lambda r: r[2] * r[3], reverse=True)
        height, width = self._source or (0, 0)
        boxes = tuple(_source_box(r, self._step, width, height) for r in rects if r[2] * r[3] >= MIN_REGION)
        return MotionResult(score=fraction, motion=bool(boxes), boxes=boxes, zones=touched, threshold=threshold)

    def _start(self, height: int, width: int) -> None:
        self._source = (height, width)
        self._step, self._size = _sampling(width, height, self.config.frame_height)
        self._background = None
        self._recent.clear()
        self._rasterise()

    def _rasterise(self) -> None:
        """The masks and zones at the analysis size; brightness is measured anew outside the masks."""
        width, height = self._size
        masks = self.config.masks
        self._keep = None
        keep_count = width * height
        if masks:
            masked = rasterise(masks, width, height)
            self._keep = np.where(masked > 0, 0, 255).astype(np.uint8)
            keep_count = cv2.countNonZero(self._keep)
        self._counted = max(1, keep_count)
        self._min_pixels = _pixels(self.config.min_area, width * height)
        zones = []
        for name, zone in sorted(self.config.zones.items()):
            raster: np.ndarray = np.where(rasterise((zone.points,), width, height) > 0, 255, 0).astype(np.uint8)
            if self._keep is not None:
                raster = cv2.bitwise_and(raster, self._keep)
            area = zone.min_area if zone.min_area is not None else self.config.min_area
            zones.append(_Zone(name, raster, _pixels(area, width * height)))
        self._zones = tuple(zones)
        self._quiet = self._keep
        if self._background8.shape == (height, width):  # measured again outside the new masks
            self._background_stats = _stats(self._background8, self._keep)
        if self._zones:  # motion counts only inside zones, so the smallest zone area decides whether to look
            self._min_pixels = min(zone.min_pixels for zone in self._zones)

    def _relearn(
        self, small: np.ndarray, light: tuple[float, float] | None = None, *, global_change: bool = False
    ) -> MotionResult:
        """Learn the background from this frame; `light` is the frame's measured light when the caller has it."""
        self._background = small.astype(np.float32)
        self._age = 1
        self._recent.clear()
        self._background8 = small
        self._background_stats = _stats(small, self._keep)
        self._stats = light or self._background_stats
        self._quiet = self._keep
        self._calibrating = CALIBRATION_FRAMES
        return MotionResult(score=0.0, motion=False, global_change=global_change, threshold=self.threshold)

    def _learn_noise(self, changed_mask: np.ndarray, weight: float) -> None:
        level = float(cv2.mean(self._difference, mask=_outside(changed_mask, self._keep))[0])
        self._noise = level if self._noise is None else self._noise + weight * (level - self._noise)
        self._update_threshold()


def _check_frame(luma: object) -> None:
    if not isinstance(luma, np.ndarray):
        raise TypeError(f"expected a luma plane as a numpy array, got {type(luma).__name__}")
    if luma.ndim != 2 or luma.dtype != np.uint8:
        raise ValueError(f"expected a 2-D uint8 luma plane (height, width), got {luma.dtype} with shape {luma.shape}")
    height, width = luma.shape
    if not (MIN_SIDE <= height <= MAX_SIDE and MIN_SIDE <= width <= MAX_SIDE):
        raise ValueError(f"luma plane of {width}x{height}: each side must be {MIN_SIDE} to {MAX_SIDE} pixels")


def _stats(image: np.ndarray, where: np.ndarray | None) -> tuple[float, float]:
    mean, std = cv2.meanStdDev(image, mask=where)
    return float(mean[0, 0]), float(std[0, 0])


def _matched(image: np.ndarray, stats: tuple[float, float], mean: float, std: float) -> np.ndarray:
    """`image` (uint8, with that mean and standard deviation) scaled to the given mean and deviation.

    Within a percent and half a level of unchanged (a steady picture, most frames) it is used as it is.
    """
    image_mean, image_std = stats
    gain = std / image_std if image_std > 1.0 and std > 1.0 else 1.0
    if abs(gain - 1.0) < SAME_GAIN and abs(mean - image_mean) < SAME_LEVEL:
        return image
    return cv2.convertScaleAbs(image, alpha=gain, beta=mean - gain * image_mean)


def _outside(changed_mask: np.ndarray, keep: np.ndarray | None) -> np.ndarray:
    """255 where nothing changed (and no mask covers), for measuring the picture without its movers."""
    quiet = cv2.bitwise_not(changed_mask)
    return quiet if keep is None else cv2.bitwise_and(quiet, keep)


def _sampling(width: int, height: int, frame_height: int) -> tuple[int, tuple[int, int]]:
    """The sampling step and the (width, height) of the analysis image it gives.

    The step never exceeds the narrower side, so an absurdly thin frame still gives an image.
    """
    step = max(1, min(round(height / frame_height), width, height))
    first = step // 2
    return step, (len(range(first, width, step)), len(range(first, height, step)))


def _lag_frames(config: MotionConfig) -> int:
    return max(1, round(MOVING_LAG * config.analysis_fps))


def _pixels(fraction: float, total: int) -> int:
    return max(1, math.ceil(fraction * total))


def _rect(rect: Sequence[int]) -> tuple[int, int, int, int]:
    x, y, w, h = rect
    return (x, y, w, h)


def _source_box(rect: tuple[int, int, int, int], step: int, width: int, height: int) -> PixelBox:
    """An analysis-pixel rectangle as source pixels: each analysis pixel stands for a step x step cell."""
    x, y, w, h = rect
    x0, y0 = x * step, y * step
    return (x0, y0, min(width, (x + w) * step) - x0, min(height, (y + h) * step) - y0)
