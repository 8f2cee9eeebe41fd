"""Pixels of a scene's disturbances: swaying leaves, rain, blurred objects, a nudged camera, tone.

`camhub.sim.render.frames` composes a frame in this order: background, leaves,
objects (sharp or blurred), rain, the camera's shift, then colour conversion,
tone (brightness, exposure, infrared) and sensor noise. Everything here is
deterministic: the same scene, resolution and frame number give the same
pixels, so a cached render and a fresh one agree.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from camhub.sim.scene import Leaves, MovingObject, Rain, Tone

RGB = tuple[int, int, int]


class LeavesPatch:
    """One `Leaves` at one resolution: a fixed foliage texture, warped a little differently each frame."""

    def __init__(self, leaves: Leaves, width: int, height: int) -> None:
        x, y, w, h = leaves.box
        self.x0, self.y0 = round(x * width), round(y * height)
        self.w, self.h = max(1, round(w * width)), max(1, round(h * height))
        self.amplitude = leaves.amplitude * height
        self.omega = 2 * math.pi / leaves.period
        rng = np.random.default_rng(leaves.seed)
        # Sky showing through a crown of leaves: many small blobs of several greens.
        texture = np.empty((self.h, self.w, 3), np.uint8)
        texture[:] = (150, 185, 225)
        blob = max(2, round(0.012 * height))
        for _ in range(self.w * self.h // (blob * blob)):
            centre = (int(rng.integers(0, self.w)), int(rng.integers(0, self.h)))
            axes = (int(rng.integers(blob // 2 + 1, blob + 2)), int(rng.integers(blob // 3 + 1, blob)))
            green = (int(rng.integers(20, 80)), int(rng.integers(70, 170)), int(rng.integers(15, 60)))
            cv2.ellipse(texture, centre, axes, float(rng.uniform(0, 180)), 0, 360, green, thickness=-1)
        self.texture = texture
        ys, xs = np.mgrid[0 : self.h, 0 : self.w].astype(np.float32)
        self.xs, self.ys = xs, ys
        # The phase varies across the crown, so its parts sway out of step.
        self.phase_x = (ys / max(1, self.h) * 5.0 + xs / max(1, self.w) * 1.5).astype(np.float32)
        self.phase_y = (xs / max(1, self.w) * 4.0).astype(np.float32)

    def draw(self, rgb: np.ndarray, t: float) -> None:
        a = self.amplitude
        map_x = self.xs + a * np.sin(self.omega * t + self.phase_x)
        map_y = self.ys + 0.5 * a * np.cos(1.3 * self.omega * t + self.phase_y)
        patch = cv2.remap(self.texture, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        rgb[self.y0 : self.y0 + self.h, self.x0 : self.x0 + self.w] = patch


def draw_rain(rgb: np.ndarray, rain: Rain, frame_number: int) -> None:
    """Thin, bright, slanted streaks; a fresh random set for every frame."""
    height, width = rgb.shape[:2]
    rng = np.random.default_rng((rain.seed, frame_number))
    length = rain.length * height
    # 1 px up to 720 rows, 2 px at 1080: the width of a drop seen by a real camera.
    thickness = max(1, round(height / 720))
    xs = rng.uniform(0, width, rain.streaks)
    ys = rng.uniform(-length, height, rain.streaks)
    lengths = length * rng.uniform(0.6, 1.2, rain.streaks)
    shades = rng.integers(170, 235, rain.streaks)
    slant = 0.2  # horizontal drift per unit of fall
    for x, y, n, shade in zip(xs, ys, lengths, shades, strict=True):
        tip = (round(x + slant * n), round(y + n))
        grey = int(shade)
        cv2.line(rgb, (round(x), round(y)), tip, (grey, grey, grey + 15 if grey < 240 else 255), thickness)


def object_box(obj: MovingObject, centre: tuple[float, float], width: int, height: int) -> tuple[int, int, int, int]:
    """The object's drawn extent in pixels (x, y, w, h), clipped to the frame; blur widens it by 2 sigma."""
    grow = 2 * obj.blur * height
    hw, hh = obj.size[0] * width / 2 + grow, obj.size[1] * height / 2 + grow
    cx, cy = centre[0] * width, centre[1] * height
    x0, y0 = max(0, math.floor(cx - hw)), max(0, math.floor(cy - hh))
    x1, y1 = min(width, math.ceil(cx + hw)), min(height, math.ceil(cy + hh))
    return (x0, y0, max(0, x1 - x0), max(0, y1 - y0))


def draw_object(rgb: np.ndarray, obj: MovingObject, centre: tuple[float, float]) -> None:
    height, width = rgb.shape[:2]
    if obj.blur > 0:
        _draw_blurred(rgb, obj, centre)
        return
    cx, cy = centre[0] * width, centre[1] * height
    hw, hh = obj.size[0] * width / 2, obj.size[1] * height / 2
    if obj.shape == "rect":
        cv2.rectangle(rgb, (round(cx - hw), round(cy - hh)), (round(cx + hw), round(cy + hh)), obj.color, thickness=-1)
    else:
        axes = (max(1, round(hw)), max(1, round(hh)))
        cv2.ellipse(rgb, (round(cx), round(cy)), axes, 0, 0, 360, obj.color, thickness=-1)


def _draw_blurred(rgb: np.ndarray, obj: MovingObject, centre: tuple[float, float]) -> None:
    """An out-of-focus shape: its coverage is blurred, then blended over the picture."""
    height, width = rgb.shape[:2]
    if 0 in object_box(obj, centre, width, height)[2:]:
        return  # wholly outside the frame
    # Draw the coverage on a canvas holding the whole blurred shape, then cut the visible part.
    sigma = obj.blur * height
    margin = math.ceil(3 * sigma)
    hw, hh = obj.size[0] * width / 2, obj.size[1] * height / 2
    cw, ch = math.ceil(2 * (hw + margin)), math.ceil(2 * (hh + margin))
    alpha = np.zeros((ch, cw), np.float32)
    axes = (max(1, round(hw)), max(1, round(hh)))
    if obj.shape == "rect":
        cv2.rectangle(alpha, (margin, margin), (margin + round(2 * hw), margin + round(2 * hh)), 1.0, thickness=-1)
    else:
        cv2.ellipse(alpha, (cw // 2, ch // 2), axes, 0, 0, 360, 1.0, thickness=-1)
    alpha = cv2.GaussianBlur(alpha, (0, 0), sigma) if sigma > 0 else alpha
    left = math.floor(centre[0] * width) - cw // 2
    top = math.floor(centre[1] * height) - ch // 2
    fx0, fy0 = max(0, left), max(0, top)
    fx1, fy1 = min(width, left + cw), min(height, top + ch)
    if fx1 <= fx0 or fy1 <= fy0:
        return
    a = alpha[fy0 - top : fy1 - top, fx0 - left : fx1 - left, None]
    region = rgb[fy0:fy1, fx0:fx1].astype(np.float32)
    colour = np.array(obj.color, np.float32)
    rgb[fy0:fy1, fx0:fx1] = (region * (1 - a) + colour * a).round().astype(np.uint8)


def shifted(rgb: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """The picture moved by (dx, dy) fractions of the frame; edges repeat, as a shaken camera's crop would."""
    height, width = rgb.shape[:2]
    matrix = np.array([[1, 0, dx * width], [0, 1, dy * height]], np.float32)
    return cv2.warpAffine(rgb, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def tone_luts(tone: Tone) -> tuple[np.ndarray, np.ndarray]:
    """Lookup tables for the luma and chroma planes under `tone`."""
    x = np.arange(256, dtype=np.float32)
    luma = np.clip(x * tone.level, 0, 255)
    if tone.gain != 1.0 or tone.contrast != 1.0:
        luma = np.clip(tone.gain * (128 + tone.contrast * (luma - 128)), 0, 255)
    # Infrared has no colour; dim light washes colour out, brighter than rendered keeps it.
    chroma = np.full(256, 128.0, np.float32) if tone.grey else np.clip(128 + (x - 128) * min(tone.level, 1.0), 0, 255)
    return luma.round().astype(np.uint8), chroma.round().astype(np.uint8)
