"""Motion detection: luma frames in, motion samples and motion events out.

This module owns two pure, synchronous pieces the camera pipeline runs in its
decode thread:

- `MotionDetector`: one camera's background model. It takes the luma (Y)
  plane of a decoded detect frame (2-D uint8) and its capture time, and
  returns a `MotionSample`: the changed fraction of the frame, whether that
  is motion, and where.
- `MotionStateMachine`: one camera's event logic. It takes samples and
  returns `MotionStarted` / `MotionEnded` events (start after N motion
  frames, end after a quiet post-roll, split events longer than a maximum).

Neither reads a clock: every time is the frame's capture time in Unix
seconds, so tests replay recorded or simulated frames without sleeping.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from camhub.config import MotionConfig

# OpenCV's worker pool only spins on images this small; every camera has its own thread anyway.
cv2.setNumThreads(1)

# Weight of each new frame in the running-average background. At 5 fps this is
# a time constant of about 4 s: slow enough that a moving object barely marks
# the background, fast enough to follow shadows and clouds.
BACKGROUND_WEIGHT = 0.05
# After a global change the background is reset to the new frame and then
# follows quickly for a few frames, so codec and exposure settling is absorbed.
CALIBRATION_WEIGHT = 0.5
CALIBRATION_FRAMES = 3
# Brightness compensation samples every Nth pixel in both directions: the
# median of a few thousand ratios is as good as all of them and 4x cheaper.
GAIN_STRIDE = 2
# A gain outside these bounds is not lighting we can model; treat it as a
# global change and relearn the background.
GAIN_LIMITS = (0.25, 4.0)
# Brightness that moves this much (as a ratio) since the previous analysed
# frame is a light switched or an exposure step, not dawn (well under 1% a
# frame). Clipped highlights make such a step uneven, so gain compensation
# alone would leave patches that look like motion; relearn instead.
LIGHT_STEP = 0.1

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class MotionSample:
    """What the detector saw in one frame."""

    time: float  # capture time, Unix seconds
    score: float  # changed fraction of the frame, 0..1
    motion: bool  # score reached min_area
    box: Box | None = None  # changed region as fractions of the frame: x, y, width, height
    recalibrated: bool = False  # a global change (light switch, camera moved) reset the background


@dataclass(frozen=True)
class MotionStarted:
    camera: str
    time: float  # capture time of the first frame of the motion run, Unix seconds
    raised_at: float = 0.0  # capture time of the frame that completed the run and started the event
    score: float = 0.0  # that frame's changed fraction, 0..1
    box: Box | None = None  # that frame's changed region, fractions of the frame: x, y, width, height


@dataclass(frozen=True)
class MotionEnded:
    camera: str
    start: float  # Unix seconds, as in the matching MotionStarted
    end: float  # capture time of the frame that ended the event (post-roll included)
    peak_score: float  # the highest score in the event, 0..1
    peak_time: float  # capture time of the frame with that score


MotionEvent = MotionStarted | MotionEnded


class MotionDetector:
    """Frame differencing against a running average, on a small luma image.

    A pixel counts as changed when it differs by more than `threshold` from
    both the background and the previous analysed frame. The background test
    alone would keep reporting a parked car or a person who sat down until
    the average absorbed them (seconds), and the wake a moving object leaves
    in the average; requiring change since the last frame too means "moving
    now". Before differencing, the background is scaled to the frame's
    brightness, so a light switch or dawn does not look like change.
    """

    def __init__(self, config: MotionConfig | None = None) -> None:
        self.config = config or MotionConfig()
        self._size: tuple[int, int] | None = None  # (width, height) after downscaling
        self._source_shape: tuple[int, int] | None = None
        self._background: np.ndarray | None = None  # float32, running average
        self._previous: np.ndarray | None = None  # float32, last analysed frame
        self._calibrating = 0
        self._kernel = np.ones((3, 3), np.uint8)

    def reset(self) -> None:
        """Forget the background, e.g. after the stream reconnects."""
        self._background = None
        self._previous = None
        self._source_shape = None

    def analyse(self, luma: np.ndarray, time: float) -> MotionSample:
        """Compare one luma plane (height x width, uint8) with the background."""
        if luma.ndim != 2 or luma.dtype != np.uint8:
            raise ValueError(f"expected a 2-D uint8 luma plane, got {luma.dtype} {luma.shape}")
        if luma.shape != self._source_shape:
            self.reset()
            self._source_shape = (luma.shape[0], luma.shape[1])
            self._size = self._small_size(luma.shape[1], luma.shape[0])
        assert self._size is not None
        frame = self._downscale(luma)

        if self._background is None or self._previous is None:
            return self._recalibrate(frame, time)

        bg_gain = _gain(frame, self._background)
        prev_gain = _gain(frame, self._previous)
        low, high = GAIN_LIMITS
        if not (low <= bg_gain <= high and abs(prev_gain - 1.0) <= LIGHT_STEP):
            return self._recalibrate(frame, time)
        # Scaling the stored background (not just this comparison) makes a
        # step in brightness part of the background at once.
        self._background *= bg_gain
        threshold = self.config.threshold
        from_background = cv2.absdiff(frame, self._background)
        if np.count_nonzero(from_background > threshold) > self.config.global_change * frame.size:
            # Lighting that compensation could not model (infrared switching,
            # a lamp lighting one side of the room) or a moved camera.
            return self._recalibrate(frame, time)
        from_previous = cv2.absdiff(frame, self._previous * prev_gain)
        mask = (np.minimum(from_background, from_previous) > threshold).astype(np.uint8)
        changed = int(np.count_nonzero(mask))

        weight = BACKGROUND_WEIGHT
        if self._calibrating:
            self._calibrating -= 1
            weight = CALIBRATION_WEIGHT
            changed = 0  # the background is still settling; its differences are not motion
        cv2.accumulateWeighted(frame, self._background, weight)
        self._previous = frame

        score = changed / frame.size
        motion = score >= self.config.min_area
        return MotionSample(time=time, score=score, motion=motion, box=self._box(mask) if motion else None)

    def _recalibrate(self, frame: np.ndarray, time: float) -> MotionSample:
        self._background = frame.copy()
        self._previous = frame
        self._calibrating = CALIBRATION_FRAMES
        return MotionSample(time=time, score=0.0, motion=False, recalibrated=True)

    def _downscale(self, luma: np.ndarray) -> np.ndarray:
        """The small, smoothed float32 image the model works on."""
        assert self._size is not None
        small = luma
        # Halving with pyrDown blurs before it decimates, which averages away
        # sensor noise and codec blocking; it is also about twice as fast as
        # one INTER_AREA resize over the same span.
        while small.shape[0] >= 2 * self._size[1]:
            small = cv2.pyrDown(small)
        if small.shape[0] != self._size[1]:
            small = cv2.resize(small, self._size, interpolation=cv2.INTER_AREA)
        return cv2.GaussianBlur(small, (3, 3), 0).astype(np.float32)

    def _small_size(self, width: int, height: int) -> tuple[int, int]:
        rows = min(self.config.frame_height, height)
        return max(1, round(width * rows / height)), rows

    def _box(self, mask: np.ndarray) -> Box:
        # One dilation joins the fragments of one object (frame differencing
        # sees its edges) into one region before taking the bounding box.
        x, y, w, h = cv2.boundingRect(cv2.dilate(mask, self._kernel))
        rows, cols = mask.shape
        return (x / cols, y / rows, w / cols, h / rows)


def _gain(frame: np.ndarray, reference: np.ndarray) -> float:
    """Brightness of `frame` relative to `reference`, robust to what moved.

    The median of per-pixel ratios ignores an object covering less than half
    of the frame (a mean would let a bright car brighten the whole
    background). The +1 keeps black pixels from dividing by zero.
    """
    s = GAIN_STRIDE
    ratios = ((frame[::s, ::s] + 1.0) / (reference[::s, ::s] + 1.0)).ravel()
    # np.partition is np.median without its NaN checks: a third of the cost.
    middle = ratios.size // 2
    return float(np.partition(ratios, middle)[middle])


class MotionStateMachine:
    """Turns one camera's samples into motion events.

    An event starts after `start_frames` consecutive motion samples (its start
    is the first of them, so a recorder's pre-roll covers the whole run), ends
    once no motion has been seen for `post_roll` seconds, and is split (ended
    and restarted at the same time) when it reaches `max_event_length` while
    motion continues. Sample times must not decrease.
    """

    def __init__(self, camera: str, config: MotionConfig | None = None) -> None:
        self.camera = camera
        self.config = config or MotionConfig()
        self._run = 0  # consecutive motion samples while idle
        self._start: float | None = None  # start of the run or of the open event
        self._last_motion = 0.0
        self._peak: tuple[float, float] = (0.0, 0.0)  # (score, time)
        self._active = False

    @property
    def active(self) -> bool:
        """True while an event is open (started and not yet ended)."""
        return self._active

    def update(self, sample: MotionSample) -> list[MotionEvent]:
        """Feed one sample; return the events it causes (usually none)."""
        if not self._active:
            return self._update_idle(sample)
        events: list[MotionEvent] = []
        assert self._start is not None
        if sample.motion:
            self._last_motion = sample.time
            self._note_peak(sample)
        if sample.time - self._start >= self.config.max_event_length:
            events.append(self._end(sample.time))
            if sample.motion:
                self._begin(sample)
                self._active = True
                events.append(MotionStarted(self.camera, sample.time, sample.time, sample.score, sample.box))
        elif not sample.motion and sample.time - self._last_motion >= self.config.post_roll:
            events.append(self._end(sample.time))
        return events

    def close(self, time: float) -> list[MotionEvent]:
        """End an open event at `time`, e.g. when the stream stops."""
        if not self._active:
            self._run = 0
            return []
        return [self._end(time)]

    def _update_idle(self, sample: MotionSample) -> list[MotionEvent]:
        if not sample.motion:
            self._run = 0
            return []
        if self._run == 0:
            self._begin(sample)
        else:
            self._note_peak(sample)
        self._run += 1
        self._last_motion = sample.time
        if self._run < self.config.start_frames:
            return []
        self._active = True
        assert self._start is not None
        return [MotionStarted(self.camera, self._start, sample.time, sample.score, sample.box)]

    def _begin(self, sample: MotionSample) -> None:
        self._start = sample.time
        self._peak = (sample.score, sample.time)
        self._last_motion = sample.time

    def _note_peak(self, sample: MotionSample) -> None:
        if sample.score > self._peak[0]:
            self._peak = (sample.score, sample.time)

    def _end(self, time: float) -> MotionEnded:
        assert self._start is not None
        ended = MotionEnded(self.camera, self._start, time, self._peak[0], self._peak[1])
        self._active = False
        self._run = 0
        self._start = None
        return ended
