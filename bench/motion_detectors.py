"""The three motion detectors bench/motion.py compares, each behind `analyse(luma) -> bool`.

- `Camhub`: the hub's `MotionEngine`, default `MotionConfig` with the scenario's masks.
- `FrigateStyle`: our reimplementation of Frigate's ImprovedMotionDetector
  (frigate/motion/improved_motion.py as of blakeblackshear/frigate commit
  e3fa7018, 2026-07-23) with Frigate's defaults: the luma plane resized to 100
  rows by nearest neighbour; contrast stretched to the running mean (50 frames)
  of the 4th and 96th percentiles; masked pixels set to 0; a 3x3 Gaussian blur
  (sigma 1: Frigate calls scipy's gaussian_filter(sigma=1, radius=1), we call
  OpenCV's equal kernel with the same reflecting border, which is faster, so
  this errs in Frigate's favour); absolute difference against a running
  average, threshold 30, one 3x3 dilation, external contours; a contour over
  10 pixels is a motion box. The average learns with weight 0.01 (0.2 while
  calibrating), and only after 10 frames in a row with boxes while motion
  lasts; calibration starts at start-up and whenever contours cover over 80%
  of the frame, and ends when they cover under 5% with at most 4 boxes. As in
  Frigate's detect loop, boxes seen while calibrating do not count as motion.
- `Mog2`: OpenCV's MOG2 background subtractor (history 500, variance
  threshold 16, no shadow detection) on the plane resized to 300 pixels wide
  (area interpolation); motion when a foreground blob (external contour) of at
  least 0.1% of that image survives the mask.

Masks are normalized polygons; each detector rasterises them at its own
working size once, when it sees the first frame.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from camhub.config import MotionConfig
from camhub.motion.engine import MotionEngine

Polygon = Sequence[tuple[float, float]]


def rasterised(masks: Sequence[Polygon], width: int, height: int) -> np.ndarray:
    """1 where a pixel of a width x height image is inside any mask polygon, else 0."""
    out = np.zeros((height, width), np.uint8)
    for polygon in masks:
        points = np.array([(x * width, y * height) for x, y in polygon], np.float32).round().astype(np.int32)
        cv2.fillPoly(out, [points], 1)
    return out


class Camhub:
    name = "camhub"
    version = "camhub.motion.engine.MotionEngine"

    def __init__(self, masks: Sequence[Polygon] = ()) -> None:
        polygons = [[list(point) for point in polygon] for polygon in masks]
        self.engine = MotionEngine(MotionConfig.model_validate({"masks": polygons}))

    def analyse(self, luma: np.ndarray) -> bool:
        return self.engine.analyse(luma).motion


class FrigateStyle:
    name = "frigate"
    FRAME_HEIGHT = 100
    THRESHOLD = 30
    CONTOUR_AREA = 10
    FRAME_ALPHA = 0.01
    CALIBRATING_ALPHA = 0.2
    LIGHTNING = 0.8
    CONTRAST_HISTORY = 50

    def __init__(self, masks: Sequence[Polygon] = ()) -> None:
        self.masks = masks
        self._shape: tuple[int, int] | None = None

    def _start(self, height: int, width: int) -> None:
        self._shape = (height, width)
        self.size = (self.FRAME_HEIGHT, self.FRAME_HEIGHT * width // height)  # rows, columns
        self.avg_frame = np.zeros(self.size, np.float32)
        self.motion_frame_count = 0
        self.calibrating = True
        self.contrast_values = np.zeros((self.CONTRAST_HISTORY, 2), np.uint8)
        self.contrast_values[:, 1:2] = 255
        self.contrast_index = 0
        # Frigate rasterises at full size, then resizes with area interpolation; 0 there means masked.
        keep = 1 - rasterised(self.masks, width, height)
        small = cv2.resize(keep * 255, (self.size[1], self.size[0]), interpolation=cv2.INTER_AREA)
        self.mask = np.where(small == 0)

    def analyse(self, luma: np.ndarray) -> bool:
        if luma.shape != self._shape:
            self._start(*luma.shape)
        assert self._shape is not None
        frame = cv2.resize(luma, (self.size[1], self.size[0]), interpolation=cv2.INTER_NEAREST)
        low = np.percentile(frame, 4).astype(np.uint8)
        high = np.percentile(frame, 96).astype(np.uint8)
        if low < high:
            self.contrast_values[self.contrast_index] = [low, high]
            self.contrast_index = (self.contrast_index + 1) % len(self.contrast_values)
            avg_min, avg_max = np.mean(self.contrast_values, axis=0)
            frame = np.clip(frame, avg_min, avg_max)
            frame = (((frame - avg_min) / (avg_max - avg_min)) * 255).astype(np.uint8)
        frame[self.mask] = 0
        frame = cv2.GaussianBlur(frame, (3, 3), 1, borderType=cv2.BORDER_REFLECT)
        delta = cv2.absdiff(frame, cv2.convertScaleAbs(self.avg_frame))
        thresh = cv2.threshold(delta, self.THRESHOLD, 255, cv2.THRESH_BINARY)[1]
        dilated = cv2.dilate(thresh, None, iterations=1)  # type: ignore[call-overload]
        contours = cv2.findContours(dilated, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)[0]
        total = 0.0
        boxes = []
        scale = self._shape[0] / self.FRAME_HEIGHT
        for contour in contours:
            area = cv2.contourArea(contour)
            total += area
            if area > self.CONTOUR_AREA:
                x, y, w, h = cv2.boundingRect(contour)
                boxes.append((int(x * scale), int(y * scale), int((x + w) * scale), int((y + h) * scale)))
        pct_motion = total / (self.size[0] * self.size[1])
        if pct_motion < 0.05 and len(boxes) <= 4:
            self.calibrating = False
        if self.calibrating or pct_motion > self.LIGHTNING:
            self.calibrating = True
        alpha = self.CALIBRATING_ALPHA if self.calibrating else self.FRAME_ALPHA
        if boxes:
            self.motion_frame_count += 1
            if self.motion_frame_count >= 10:
                cv2.accumulateWeighted(frame, self.avg_frame, alpha)
        else:
            cv2.accumulateWeighted(frame, self.avg_frame, alpha)
            self.motion_frame_count = 0
        return bool(boxes) and not self.calibrating


class Mog2:
    name = "mog2"
    WIDTH = 300
    MIN_BLOB = 0.001  # of the resized image

    def __init__(self, masks: Sequence[Polygon] = ()) -> None:
        self.masks = masks
        self._shape: tuple[int, int] | None = None

    def _start(self, height: int, width: int) -> None:
        self._shape = (height, width)
        self.size = (self.WIDTH, round(self.WIDTH * height / width))  # columns, rows
        self.subtractor = cv2.createBackgroundSubtractorMOG2(history=500, varThreshold=16, detectShadows=False)
        self.keep = 1 - rasterised(self.masks, *self.size)
        self.min_area = self.MIN_BLOB * self.size[0] * self.size[1]

    def analyse(self, luma: np.ndarray) -> bool:
        if luma.shape != self._shape:
            self._start(*luma.shape)
        small = cv2.resize(luma, self.size, interpolation=cv2.INTER_AREA)
        foreground = self.subtractor.apply(small)
        if self.masks:
            foreground = cv2.multiply(foreground, self.keep)
        contours = cv2.findContours(foreground, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)[0]
        return any(cv2.contourArea(c) >= self.min_area for c in contours)


DETECTORS = (Camhub, FrigateStyle, Mog2)
