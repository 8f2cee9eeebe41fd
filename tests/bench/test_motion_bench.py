"""bench/motion's scoring and its reference detectors, on hand-made inputs (no timings asserted)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from motion_detectors import FrigateStyle, Mog2, rasterised
from motion_metrics import (
    Event,
    Score,
    events_from_flags,
    movement_seconds,
    percentile,
    score_events,
)

FPS = 5


def flags_at(spans: list[tuple[float, float]], seconds: float) -> tuple[list[float], list[bool]]:
    times = [n / FPS for n in range(round(seconds * FPS))]
    return times, [any(a <= t <= b for a, b in spans) for t in times]


def test_flags_become_events_through_the_hubs_state_machine() -> None:
    times, flags = flags_at([(2.0, 3.0), (3.6, 4.0), (20.0, 20.0), (30.0, 31.0)], 40)
    events = events_from_flags(times, flags, 1 / FPS)
    # 2.0-4.0 is one event (gaps under the 5 s post-roll); the lone frame at 20 s needs a second one.
    assert [(e.start, e.raised) for e in events] == [(2.0, 2.2), (30.0, 30.2)]
    assert events[0].end == pytest.approx(9.0)  # 5 s after the last motion frame
    times, flags = flags_at([(38.0, 40.0)], 40)
    (open_at_end,) = events_from_flags(times, flags, 1 / FPS)
    assert open_at_end.end == pytest.approx(40.0)  # closed where the video ends


def test_events_match_windows_by_overlap_and_onset_counts_from_the_first_frame_inside() -> None:
    windows = [(10.0, 15.0), (30.1, 31.0), (50.0, 55.0)]
    events = [
        Event(start=10.4, raised=10.6, end=20.0),  # hits the first window, 2 frames late
        Event(start=29.0, raised=29.2, end=36.0),  # already open when the second opens: onset 0
        Event(start=40.0, raised=40.2, end=45.0),  # matches nothing
    ]
    score = score_events(events, windows, FPS)
    assert (score.events, score.true_events, score.false_events) == (3, 2, 1)
    assert (score.windows_hit, score.windows) == (2, 3)
    assert score.onsets == pytest.approx([0.4, 0.0])
    assert score.raise_delays == pytest.approx([0.6, 0.0])
    assert score.precision == pytest.approx(2 / 3)
    assert score.recall == pytest.approx(2 / 3)
    assert score.f1 == pytest.approx(2 / 3)
    # A window opening between frames is measured from the next frame (30.2 s here).
    late = score_events([Event(30.4, 30.6, 40.0)], [(30.1, 31.0)], FPS)
    assert late.onsets == pytest.approx([0.2])


def test_scores_add_up_and_rates_handle_empty_sides() -> None:
    quiet = score_events([Event(1.0, 1.2, 7.0)], [], FPS)  # an event where none was expected
    assert (quiet.false_events, quiet.precision, quiet.recall, quiet.f1) == (1, 0.0, None, 0.0)
    missed = score_events([], [(1.0, 2.0)], FPS)
    assert (missed.precision, missed.recall, missed.f1) == (None, 0.0, 0.0)
    assert Score().f1 is None
    total = Score()
    total.add(quiet)
    total.add(missed)
    total.add(score_events([Event(1.0, 1.2, 7.0)], [(1.0, 2.0)], FPS))
    assert (total.events, total.true_events, total.windows, total.windows_hit) == (2, 1, 2, 1)
    assert total.f1 == pytest.approx(0.5)


def test_movement_seconds_counts_seconds_with_any_flagged_frame() -> None:
    times = [n / FPS for n in range(20)]  # 4 seconds
    moving = [t >= 1.0 for t in times]  # seconds 1, 2, 3
    flags = [t in (1.4, 3.8) for t in times]
    assert movement_seconds(times, moving, flags) == (3, 2)
    assert movement_seconds(times, moving, [t < 1.0 for t in times]) == (3, 0)  # flags outside movement


def test_percentile_is_a_value_that_occurred() -> None:
    values = list(range(1, 101))
    assert percentile(values, 99) == 99
    assert percentile(values, 50) == 50
    assert percentile([5.0], 99) == 5.0


def square_frames(count: int, shift: int = 0, height: int = 360, width: int = 640) -> list[np.ndarray]:
    """A textured background with a bright square moving 12 px a frame; x offset `shift`."""
    rng = np.random.default_rng(1)
    base = np.kron(rng.integers(40, 200, (height // 20, width // 20)), np.ones((20, 20))).astype(np.uint8)
    frames = []
    for n in range(count):
        frame = base.copy()
        x = shift + 12 * n
        frame[150:210, x : x + 60] = 255
        frames.append(frame)
    return frames


def learn(detector: FrigateStyle | Mog2, still: np.ndarray) -> None:
    """Feed a still frame until the detector has been quiet for 20 frames in a row after its first 60
    (Frigate's start-up drifts while its 50-frame contrast history fills; it reports no motion while
    calibrating, so a quiet run inside those 60 frames does not mean it has settled)."""
    quiet = 0
    for n in range(2000):
        quiet = 0 if detector.analyse(still) else quiet + 1
        if quiet >= 20 and n >= 60:
            return
    raise AssertionError(f"{type(detector).__name__} never settled on a still frame")


@pytest.mark.parametrize("detector", [FrigateStyle, Mog2])
def test_reference_detectors_see_a_moving_square_but_not_inside_a_mask(detector: type) -> None:
    still = square_frames(1)[0]
    plain, masked = detector(), detector([((0.0, 0.3), (1.0, 0.3), (1.0, 0.7), (0.0, 0.7))])
    for detector_ in (plain, masked):
        learn(detector_, still)
    moving = square_frames(20, shift=100)
    assert sum(plain.analyse(f) for f in moving) >= 15
    assert sum(masked.analyse(f) for f in moving) == 0


def test_frigate_style_recalibrates_on_a_global_change() -> None:
    frigate = FrigateStyle()
    rng = np.random.default_rng(2)
    frame = rng.integers(0, 255, (360, 640)).astype(np.uint8)
    for _ in range(60):
        frigate.analyse(frame)
    assert not frigate.calibrating
    assert not frigate.analyse(255 - frame)  # everything changed: lightning, IR
    assert frigate.calibrating


def test_masks_rasterise_to_the_polygon() -> None:
    mask = rasterised([((0.25, 0.5), (0.75, 0.5), (0.75, 1.0), (0.25, 1.0))], 8, 4)
    assert mask.tolist() == [[0] * 8, [0] * 8, [0, 0, 1, 1, 1, 1, 1, 0], [0, 0, 1, 1, 1, 1, 1, 0]]
