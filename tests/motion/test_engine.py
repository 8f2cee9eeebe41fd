"""Motion detection against the simulator's ground truth, and the event rules on hand-made samples.

The scene tests decode the rendered 640x360 sub-stream with PyAV, analyse it
at the configured rate the way the camera pipeline does (luma plane, capture
time = pts) and compare the events with `Scene.motion_windows()`.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import av
import numpy as np
import pytest

from camhub.capture.media import luma_plane
from camhub.config import MotionConfig
from camhub.motion.detector import (
    MotionEnded,
    MotionEvent,
    MotionSample,
    MotionStarted,
    MotionStateMachine,
)
from camhub.motion.engine import MOVING_LAG, MotionEngine
from camhub.motion.watcher import sample_of
from camhub.sim.render import render_scene
from camhub.sim.scene import BUILTIN_SCENES, Background, MovingObject, Scene

CONFIG = MotionConfig()  # the defaults are what users get; test those


def analyse(engine: MotionEngine, luma: np.ndarray, time: float) -> MotionSample:
    """One frame through the engine, as the watcher turns it into a sample."""
    return sample_of(engine.analyse(luma), time, luma.shape[1], luma.shape[0])


def analyse_video(path: Path, config: MotionConfig = CONFIG) -> list[MotionSample]:
    """Decode a file and analyse frames at config.analysis_fps, timed by pts."""
    engine = MotionEngine(config)
    samples = []
    step = 1.0 / config.analysis_fps
    next_time = 0.0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            assert frame.pts is not None
            time = float(frame.pts * stream.time_base)
            if time + 1e-6 < next_time:
                continue
            next_time += step
            samples.append(analyse(engine, luma_plane(frame), time))
    return samples


def events_of(
    samples: list[MotionSample], camera: str = "cam", config: MotionConfig = CONFIG
) -> list[tuple[MotionStarted, MotionEnded]]:
    """Run the state machine and pair each start with its end."""
    machine = MotionStateMachine(camera, config)
    events: list[MotionEvent] = []
    for sample in samples:
        events += machine.update(sample)
    events += machine.close(samples[-1].time)
    starts = [e for e in events if isinstance(e, MotionStarted)]
    ends = [e for e in events if isinstance(e, MotionEnded)]
    assert len(starts) == len(ends)
    for started, ended in zip(starts, ends, strict=True):
        assert started.time == ended.start and started.camera == ended.camera == camera
        assert ended.start <= ended.peak_time <= ended.end
    return list(zip(starts, ends, strict=True))


@pytest.fixture(scope="module")
def scene_samples(sim_cache: Path) -> dict[str, list[MotionSample]]:
    names = ("driveway", "porch", "garden", "still")
    return {n: analyse_video(render_scene(BUILTIN_SCENES[n], sim_cache).sub.mp4) for n in names}


@pytest.mark.parametrize("name", ["driveway", "porch", "garden"])
def test_each_ground_truth_window_is_one_event(name: str, scene_samples: dict[str, list[MotionSample]]) -> None:
    windows = BUILTIN_SCENES[name].motion_windows()
    events = events_of(scene_samples[name], name)
    assert len(events) == len(windows), f"events {events} for windows {windows}"
    for (started, ended), (a, b) in zip(events, windows, strict=True):
        assert started.time < b and ended.end > a, "the event must overlap its window"
        assert abs(started.time - a) <= 1.0
        # The event ends post_roll after the last motion; the last motion is at the window's end, give
        # or take an object leaving the frame, and up to MOVING_LAG later for one that stops in view.
        assert b + CONFIG.post_roll - 1.0 <= ended.end <= b + MOVING_LAG + CONFIG.post_roll + 1.0
        assert a <= ended.peak_time <= b
        assert 0 < ended.peak_score <= 1


def test_noise_alone_is_not_motion(scene_samples: dict[str, list[MotionSample]]) -> None:
    samples = scene_samples["still"]
    assert len(samples) == 150
    assert events_of(samples) == []
    assert max(s.score for s in samples) == 0.0


def test_porch_light_switch_is_not_motion(scene_samples: dict[str, list[MotionSample]]) -> None:
    # The person stops at 10 s; the light comes on at 18 s in a quiet scene.
    events = events_of(scene_samples["porch"])
    assert all(ended.end < 18.0 for _, ended in events)
    around_switch = [s for s in scene_samples["porch"] if 17.0 <= s.time <= 20.0]
    assert around_switch and not any(s.motion for s in around_switch)


def test_garden_dawn_is_not_motion(scene_samples: dict[str, list[MotionSample]]) -> None:
    # Brightness more than triples over the loop; only the cat (12-17 s) moves.
    moving = [s.time for s in scene_samples["garden"] if s.motion]
    assert moving and min(moving) >= 12.0 and max(moving) <= 17.5
    cat = next(s for s in scene_samples["garden"] if s.motion and s.time >= 14.0)
    assert cat.box is not None
    _x, y, w, h = cat.box
    assert y > 0.6 and w < 0.2 and h < 0.2, "the box should hold the cat, low in the frame"


def test_long_motion_is_split_at_max_event_length(sim_cache: Path) -> None:
    scene = Scene(
        name="motion-long",
        width=640,
        height=360,
        fps=10,
        duration=14.0,
        background=Background("yard", seed=5),
        objects=(
            MovingObject(start=(0.05, 0.5), end=(0.95, 0.5), t0=1.0, t1=13.0, size=(0.12, 0.2), color=(220, 200, 40)),
        ),
    )
    config = MotionConfig(max_event_length=4.0, post_roll=1.0)
    events = events_of(analyse_video(render_scene(scene, sim_cache).sub.mp4, config), config=config)
    # 12 s of motion: three full-length events. The object vanishing at 13 s, at the edge, is not a
    # fourth: where it was is what was there MOVING_LAG seconds ago.
    assert len(events) == 3, events
    assert abs(events[0][0].time - 1.0) <= 1.0
    for (_, ended), (next_start, _) in itertools.pairwise(events):
        assert ended.end == next_start.time, "a split event restarts at once"
    for _, ended in events:
        assert ended.end - ended.start == pytest.approx(config.max_event_length, abs=0.15)
    assert 13.0 <= events[-1][1].end <= 13.0 + config.post_roll + 1.0


# --- The detector on synthetic luma planes -------------------------------------------


def textured(seed: int = 0, shape: tuple[int, int] = (360, 640)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    coarse = rng.integers(40, 200, (shape[0] // 40, shape[1] // 40), dtype=np.uint8)
    return np.kron(coarse, np.ones((40, 40), np.uint8))


def noisy(base: np.ndarray, rng: np.random.Generator, sigma: float = 3.0) -> np.ndarray:
    return np.clip(base + rng.normal(0, sigma, base.shape), 0, 255).astype(np.uint8)


def test_moving_square_is_found_and_boxed() -> None:
    rng = np.random.default_rng(1)
    base = textured()
    engine = MotionEngine()
    for n in range(10):
        assert not analyse(engine, noisy(base, rng), n * 0.2).motion
    samples = []
    for n in range(10, 20):
        frame = base.copy()
        x = 100 + 20 * (n - 10)
        frame[150:210, x : x + 60] = 250
        samples.append(analyse(engine, noisy(frame, rng), n * 0.2))
    assert all(s.motion for s in samples[1:])
    box = samples[-1].box
    assert box is not None
    assert box[0] == pytest.approx(280 / 640, abs=0.08)
    assert box[1] == pytest.approx(150 / 360, abs=0.05)


def test_global_change_recalibrates_instead_of_reporting_motion() -> None:
    # Inverting the picture cannot be modelled as a brightness gain (think of
    # a camera switching to infrared): the detector must relearn, not alarm.
    rng = np.random.default_rng(2)
    base = textured(3)
    engine = MotionEngine()
    samples = [analyse(engine, noisy(base, rng), n * 0.2) for n in range(8)]
    inverted = 255 - base
    samples += [analyse(engine, noisy(inverted, rng), n * 0.2) for n in range(8, 20)]
    assert samples[8].recalibrated
    assert not any(s.motion for s in samples)


def test_light_switch_with_clipped_highlights_is_not_motion() -> None:
    rng = np.random.default_rng(4)
    base = textured(5)
    engine = MotionEngine()
    samples = [analyse(engine, noisy(base, rng), n * 0.2) for n in range(8)]
    # A quarter of the blocks clip at 255, so the step is not a pure gain.
    brighter = np.clip(base * 1.6, 0, 255).astype(np.uint8)
    samples += [analyse(engine, noisy(brighter, rng), n * 0.2) for n in range(8, 20)]
    assert samples[8].recalibrated
    assert not any(s.motion for s in samples)


def test_fast_brightness_ramp_is_followed_without_relearning() -> None:
    # 3% brighter every frame (dawn in fast forward): compensated frame by frame.
    rng = np.random.default_rng(6)
    base = textured(7).astype(np.float32) * 0.6
    engine = MotionEngine()
    samples = [analyse(engine, noisy(base * 1.03**n, rng), n * 0.2) for n in range(20)]
    assert not any(s.motion for s in samples)
    assert not any(s.recalibrated for s in samples[1:])


def test_engine_rejects_colour_frames_and_adapts_to_a_new_size() -> None:
    engine = MotionEngine()
    with pytest.raises(ValueError, match="2-D uint8"):
        analyse(engine, np.zeros((360, 640, 3), np.uint8), 0.0)
    rng = np.random.default_rng(8)
    assert [analyse(engine, noisy(textured(), rng), n * 0.2).score for n in range(3)] == [0.0] * 3
    # A new size is a new picture: learnt afresh, so a different scene at that size is not motion.
    samples = [analyse(engine, noisy(textured(9, shape=(720, 1280)), rng), n * 0.2) for n in range(3, 15)]
    assert not any(s.motion for s in samples)
    assert engine.analyse(textured(9, shape=(720, 1280))).boxes == ()


# --- The state machine on hand-made samples ------------------------------------------


def sample(time: float, score: float = 0.0) -> MotionSample:
    return MotionSample(time=time, score=score, motion=score > 0)


def feed(machine: MotionStateMachine, samples: list[MotionSample]) -> list[MotionEvent]:
    events: list[MotionEvent] = []
    for s in samples:
        events += machine.update(s)
    return events


def test_motion_starts_after_start_frames_at_the_first_of_them() -> None:
    machine = MotionStateMachine("cam", MotionConfig(start_frames=3, post_roll=2.0))
    # Two motion frames then a quiet one: a blip, no event.
    assert feed(machine, [sample(0.0, 0.1), sample(0.2, 0.1), sample(0.4)]) == []
    assert feed(machine, [sample(0.6, 0.1), sample(0.8, 0.2)]) == []
    assert not machine.active
    assert feed(machine, [sample(1.0, 0.1)]) == [MotionStarted("cam", 0.6, raised_at=1.0, score=0.1)]
    assert machine.active


def test_motion_ends_after_post_roll_of_quiet() -> None:
    machine = MotionStateMachine("cam", MotionConfig(start_frames=1, post_roll=2.0))
    assert feed(machine, [sample(10.0, 0.05)]) == [MotionStarted("cam", 10.0, raised_at=10.0, score=0.05)]
    # Motion within the post-roll keeps the event open and moves its end.
    assert feed(machine, [sample(11.0), sample(11.5, 0.3), sample(12.0)]) == []
    assert feed(machine, [sample(13.0), sample(13.4)]) == []
    assert feed(machine, [sample(13.5)]) == [MotionEnded("cam", 10.0, 13.5, 0.3, 11.5)]
    assert not machine.active
    assert feed(machine, [sample(14.0)]) == []


def test_max_event_length_splits_and_restarts() -> None:
    machine = MotionStateMachine("cam", MotionConfig(start_frames=1, post_roll=1.0, max_event_length=5.0))
    events = feed(machine, [sample(t / 2, 0.01 + t / 1000) for t in range(25)])
    assert events == [
        MotionStarted("cam", 0.0, raised_at=0.0, score=0.01),
        MotionEnded("cam", 0.0, 5.0, 0.02, 5.0),
        MotionStarted("cam", 5.0, raised_at=5.0, score=0.02),
        MotionEnded("cam", 5.0, 10.0, 0.03, 10.0),
        MotionStarted("cam", 10.0, raised_at=10.0, score=0.03),
    ]
    assert machine.close(12.5) == [MotionEnded("cam", 10.0, 12.5, 0.034, 12.0)]
    assert machine.close(13.0) == []


def test_quiet_event_reaching_max_length_ends_without_restarting() -> None:
    machine = MotionStateMachine("cam", MotionConfig(start_frames=1, post_roll=10.0, max_event_length=5.0))
    events = feed(machine, [sample(0.0, 0.1), sample(4.0), sample(5.0), sample(6.0)])
    assert events == [MotionStarted("cam", 0.0, raised_at=0.0, score=0.1), MotionEnded("cam", 0.0, 5.0, 0.1, 0.0)]
