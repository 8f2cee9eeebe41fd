"""The motion engine's behaviours, each on synthetic luma planes, each able to fail if it regresses.

Frames are drawn with numpy: a blocky textured background, Gaussian sensor
noise, and filled rectangles for movers. Times do not matter to the engine
(it has no clock); the analysis rate is MotionConfig's default, 5 fps, so
one frame is 0.2 s.
"""

from __future__ import annotations

import numpy as np
import pytest

from camhub.config import MotionConfig
from camhub.motion.detector import MotionEnded, MotionStarted, MotionStateMachine
from camhub.motion.engine import MOVING_LAG, MotionEngine, MotionResult
from camhub.motion.watcher import sample_of
from camhub.motion.zones import ZoneConfig

FPS = 5.0
HEIGHT, WIDTH = 1080, 1920


def textured(seed: int = 0, shape: tuple[int, int] = (HEIGHT, WIDTH), block: int = 60) -> np.ndarray:
    rng = np.random.default_rng(seed)
    coarse = rng.integers(50, 190, (shape[0] // block, shape[1] // block), dtype=np.uint8)
    return np.kron(coarse, np.ones((block, block), np.uint8))


class Noise:
    """Sensor noise from a small bank of Gaussian fields (drawing 2 Mpx afresh per frame is slow)."""

    def __init__(self, sigma: float, shape: tuple[int, int] = (HEIGHT, WIDTH), seed: int = 1) -> None:
        rng = np.random.default_rng(seed)
        self.bank = [rng.normal(0, sigma, shape).astype(np.float32) for _ in range(6)]
        self.n = 0

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        self.n += 1
        return np.clip(frame + self.bank[self.n % len(self.bank)], 0, 255).astype(np.uint8)


def with_box(base: np.ndarray, x: float, y: int, w: int, h: int, value: int = 235) -> np.ndarray:
    frame = base.copy()
    frame[y : y + h, round(x) : round(x) + w] = value
    return frame


def settle(engine: MotionEngine, frames: list[np.ndarray] | np.ndarray, n: int = 30) -> list[MotionResult]:
    """Feed a still picture (or a cycle of pictures) n times."""
    cycle = frames if isinstance(frames, list) else [frames]
    return [engine.analyse(cycle[i % len(cycle)]) for i in range(n)]


def test_slow_mover_is_flagged_in_most_seconds_it_moves() -> None:
    # A person-sized box crossing a 1080p frame at 9 pixels a second: the case the first detector missed.
    base, noise = textured(), Noise(3.0)
    engine = MotionEngine()
    settle(engine, [noise(base) for _ in range(6)])
    speed = 9.0 / FPS  # pixels per analysed frame
    flags = []
    for n in range(int(60 * FPS)):  # one minute
        flags.append(engine.analyse(noise(with_box(base, 300 + n * speed, 400, 100, 300))).motion)
    seconds = [any(flags[i : i + int(FPS)]) for i in range(0, len(flags), int(FPS))]
    assert sum(seconds) >= 0.8 * len(seconds), f"flagged {sum(seconds)} of {len(seconds)} seconds"


def test_a_mover_that_stops_stops_counting_after_the_lag() -> None:
    base, noise = textured(2), Noise(3.0)
    engine = MotionEngine()
    settle(engine, [noise(base) for _ in range(6)])
    for n in range(20):  # walks in at 30 px a frame
        engine.analyse(noise(with_box(base, 200 + 30 * n, 300, 120, 360)))
    parked = with_box(base, 200 + 30 * 19, 300, 120, 360)
    after = [engine.analyse(noise(parked)).motion for _ in range(int(4 * MOVING_LAG * FPS))]
    lag_frames = int(MOVING_LAG * FPS)
    assert not any(after[lag_frames + 2 :]), after


def test_moving_box_is_found_in_source_pixels() -> None:
    base, noise = textured(3), Noise(3.0)
    engine = MotionEngine()
    settle(engine, [noise(base) for _ in range(6)])
    results = [engine.analyse(noise(with_box(base, 400 + 40 * n, 500, 200, 240))) for n in range(12)]
    last = results[-1]
    assert last.motion and last.boxes
    x, y, w, h = last.boxes[0]
    # The mover is at x 840..1040, y 500..740; regions are whole 12-pixel cells, dilated by one cell.
    assert 840 - 40 <= x <= 840 and 500 - 40 <= y <= 500
    assert 1040 <= x + w <= 1040 + 40 and 740 <= y + h <= 740 + 40


def test_small_far_object_is_found() -> None:
    # 40 x 60 pixels at 1080p (a person far down the garden): about 3 x 5 analysis pixels.
    base, noise = textured(4), Noise(2.0)
    engine = MotionEngine()
    settle(engine, [noise(base) for _ in range(6)])
    flags = [engine.analyse(noise(with_box(base, 900 + 15 * n, 600, 40, 60, value=30))).motion for n in range(15)]
    assert sum(flags) >= 12, flags


def test_noise_alone_is_not_motion_day_and_night() -> None:
    for sigma, level in ((2.0, 1.0), (12.0, 0.25)):  # day; night: dark and grainy
        base = (textured(5).astype(np.float32) * level).astype(np.uint8)
        noise = Noise(sigma)
        engine = MotionEngine()
        results = [engine.analyse(noise(base)) for _ in range(150)]
        assert not any(r.motion for r in results), (sigma, [r.score for r in results if r.motion][:5])


def test_automatic_noise_level_follows_the_sensor() -> None:
    base = (textured(6).astype(np.float32) * 0.3).astype(np.uint8)
    learnt = []
    for sigma in (1.0, 12.0):
        engine = MotionEngine(MotionConfig(threshold=4.0))
        noise = Noise(sigma)
        for _ in range(150):
            engine.analyse(noise(base))
        learnt.append(engine.threshold)
    assert learnt[0] < 8 and learnt[1] > 3 * learnt[0], learnt
    fixed = MotionEngine(MotionConfig(threshold=4.0, auto_threshold=False))
    settle(fixed, base, 20)
    assert fixed.threshold == 4.0


def test_night_grain_with_a_fixed_low_threshold_would_alarm() -> None:
    # The counterpart of the test above: without learning, the same grain is "motion", so learning is what helps.
    base = (textured(6).astype(np.float32) * 0.3).astype(np.uint8)
    noise = Noise(12.0)
    engine = MotionEngine(MotionConfig(threshold=4.0, auto_threshold=False))
    assert any(engine.analyse(noise(base)).motion for _ in range(60))


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda f: np.clip(f * 1.7, 0, 255), id="light-on-with-clipping"),
        pytest.param(lambda f: f * 0.45, id="light-off"),
        pytest.param(lambda f: np.clip((f - 120.0) * 1.5 + 140, 0, 255), id="exposure-jump"),
        pytest.param(lambda f: 255.0 - f, id="infrared-switch"),
    ],
)
def test_global_changes_are_relearnt_not_reported(change: object) -> None:
    assert callable(change)
    base, noise = textured(7), Noise(3.0)
    engine = MotionEngine()
    before = settle(engine, [noise(base) for _ in range(6)])
    changed = np.asarray(change(base.astype(np.float32))).astype(np.uint8)
    after = [engine.analyse(noise(changed)) for _ in range(40)]
    assert not any(r.motion for r in before + after)
    # And the engine is not blind afterwards: a mover in the new light is seen.
    moving = [engine.analyse(noise(with_box(changed, 300 + 40 * n, 300, 150, 300, value=5))) for n in range(10)]
    assert sum(r.motion for r in moving) >= 7, [(r.score, r.global_change) for r in moving]


def test_rain_streaks_are_not_motion_but_a_mover_in_the_rain_is() -> None:
    # A plain wall: the 3x3 median removes a streak one sampled column wide. On a textured scene it
    # also moves the median by the local gradient, so there the corpus's rain scenario (bench/motion.py,
    # no event at any resolution) is the check.
    base, noise = np.full((HEIGHT, WIDTH), 120, np.uint8), Noise(3.0)
    rng = np.random.default_rng(15)

    def rainy(frame: np.ndarray) -> np.ndarray:
        # 150 thin bright streaks, 1 or 2 pixels wide and 20 to 40 long, new in every frame.
        out = frame.copy()
        for x, y, w, h in zip(
            rng.integers(0, WIDTH - 2, 150),
            rng.integers(0, HEIGHT - 50, 150),
            rng.integers(1, 3, 150),
            rng.integers(20, 40, 150),
            strict=True,
        ):
            out[y : y + h, x : x + w] = np.minimum(255, out[y : y + h, x : x + w].astype(np.int16) + 60)
        return out

    engine = MotionEngine()
    results = [engine.analyse(noise(rainy(base))) for _ in range(100)]
    assert not any(r.motion for r in results), [r.score for r in results if r.motion][:5]
    moving = [engine.analyse(noise(rainy(with_box(base, 300 + 40 * n, 400, 150, 300)))) for n in range(10)]
    assert sum(r.motion for r in moving) >= 8


def test_slow_dawn_is_followed() -> None:
    base, noise = textured(8).astype(np.float32), Noise(3.0)
    engine = MotionEngine()
    # From dark to full light in 2 minutes at 5 fps: 0.5% brighter a frame.
    results = [engine.analyse(noise(base * (0.3 + 0.7 * n / 600))) for n in range(600)]
    assert not any(r.motion for r in results)


def test_masked_area_never_counts() -> None:
    base, noise = textured(9), Noise(3.0)
    mask = ((0.0, 0.0), (0.5, 0.0), (0.5, 0.5), (0.0, 0.5))  # the top left quarter
    engine = MotionEngine(MotionConfig(masks=(mask,)))
    settle(engine, [noise(base) for _ in range(6)])
    # Leaves swaying: a box flickering inside the masked quarter, every frame.
    inside = [
        engine.analyse(noise(with_box(base, 100 + 60 * (n % 3), 100, 300, 300, 20 + 200 * (n % 2)))) for n in range(40)
    ]
    assert not any(r.motion for r in inside)
    assert max(r.score for r in inside) < MotionConfig().min_area
    # The same outside the mask is motion.
    outside = [
        engine.analyse(noise(with_box(base, 1200 + 60 * (n % 3), 700, 300, 300, 20 + 200 * (n % 2)))) for n in range(40)
    ]
    assert sum(r.motion for r in outside) >= 25


def test_zones_touched_and_motion_outside_zones_does_not_count() -> None:
    base, noise = textured(10), Noise(3.0)
    zones = {
        "driveway": ZoneConfig(points=((0.5, 0.5), (1.0, 0.5), (1.0, 1.0), (0.5, 1.0))),
        "door": ZoneConfig(points=((0.0, 0.0), (0.25, 0.0), (0.25, 0.25), (0.0, 0.25)), min_area=0.02),
    }
    engine = MotionEngine(MotionConfig(zones=zones))
    settle(engine, [noise(base) for _ in range(6)])
    # Bottom right: inside "driveway".
    in_driveway = [engine.analyse(noise(with_box(base, 1200 + 40 * n, 700, 200, 200))) for n in range(10)]
    assert sum(r.motion for r in in_driveway[1:]) >= 8
    assert {z for r in in_driveway for z in r.zones} == {"driveway"}
    # Top right: in no zone, so not motion however big.
    settle(engine, [noise(base) for _ in range(30)])
    elsewhere = [engine.analyse(noise(with_box(base, 1100 + 40 * n, 50, 300, 300))) for n in range(10)]
    assert not any(r.motion for r in elsewhere)
    # A small change in "door" stays under its minimum (2% of the frame); a big one reaches it.
    settle(engine, [noise(base) for _ in range(30)])
    small = [engine.analyse(noise(with_box(base, 50 + 10 * n, 50, 60, 60))) for n in range(10)]
    assert not any(r.motion for r in small)
    settle(engine, [noise(base) for _ in range(30)])
    big = [engine.analyse(noise(with_box(base, 20 + 20 * n, 20, 300, 200))) for n in range(10)]
    assert any("door" in r.zones for r in big)


def test_settings_change_without_losing_the_background() -> None:
    base, noise = textured(11), Noise(3.0)
    engine = MotionEngine()
    settle(engine, [noise(base) for _ in range(6)], 40)
    learnt = engine.threshold
    # Zones, masks, threshold, minimum area and analysis rate change mid-stream.
    engine.configure(
        MotionConfig(
            threshold=12.0,
            min_area=0.002,
            analysis_fps=2.0,
            masks=(((0.0, 0.0), (0.2, 0.0), (0.2, 0.2)),),
            zones={"all": ZoneConfig(points=((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)))},
        )
    )
    first = engine.analyse(noise(base))
    # Still learnt: no relearning (which would report score 0 for the calibration frames), no motion.
    assert not first.global_change and not first.motion and engine.threshold >= 12.0
    assert learnt <= 12.0
    moving = [engine.analyse(noise(with_box(base, 800 + 40 * n, 500, 200, 200))) for n in range(6)]
    assert moving[0].motion, "a learnt background sees the first moving frame"
    assert all(r.zones == ("all",) for r in moving if r.motion)


def test_resolution_does_not_change_what_is_seen() -> None:
    for shape in ((360, 640), (720, 1280), (1080, 1920)):
        base = textured(12, shape=shape, block=shape[0] // 18)
        noise = Noise(3.0, shape)
        engine = MotionEngine()
        settle(engine, [noise(base) for _ in range(6)])
        s = shape[0] / 1080
        flags = [
            engine.analyse(
                noise(with_box(base, (300 + 40 * n) * s, round(400 * s), round(150 * s), round(300 * s)))
            ).motion
            for n in range(10)
        ]
        assert sum(flags) >= 8, (shape, flags)


def test_state_machine_keeps_zones_and_score_history() -> None:
    base, noise = textured(13), Noise(3.0)
    zones = {
        "left": ZoneConfig(points=((0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0))),
        "right": ZoneConfig(points=((0.5, 0.0), (1.0, 0.0), (1.0, 1.0), (0.5, 1.0))),
    }
    config = MotionConfig(zones=zones, post_roll=1.0)
    engine, machine = MotionEngine(config), MotionStateMachine("cam", config)
    events = []
    t = 0.0
    for frame in (
        [noise(base) for _ in range(10)]
        + [noise(with_box(base, 200 + 90 * n, 400, 200, 300)) for n in range(18)]
        + [noise(base) for _ in range(20)]
    ):
        t += 1 / FPS
        events += machine.update(sample_of(engine.analyse(frame), t, WIDTH, HEIGHT))
        if machine.active:
            history = machine.history
            assert history and history[-1][0] <= t and machine.peak[0] == max(s for _, s in history)
    started = [e for e in events if isinstance(e, MotionStarted)]
    ended = [e for e in events if isinstance(e, MotionEnded)]
    assert len(started) == len(ended) == 1
    assert started[0].zones == ("left",)
    assert ended[0].zones == ("left", "right"), "the mover crossed from the left half into the right"
    assert started[0].time <= ended[0].peak_time <= ended[0].end
