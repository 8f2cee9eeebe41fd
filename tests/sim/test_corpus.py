"""The labelled motion corpus: ground truth agrees with the scripts, effects draw what they claim, renders decode."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import cv2
import numpy as np
import pytest

from camhub.sim.corpus import ANALYSIS_FPS, QUIET_KINDS, SCENARIOS, WARMUP, Scenario, load
from camhub.sim.render import frames
from camhub.sim.scene import Background, Exposure, Infrared, MovingObject, Nudge, Rain, Scene

REQUIRED_KINDS = {
    "person_near",
    "person_far",
    "slow_mover",
    "small_far",
    "car_fast",
    "insect",
    "camera_nudged",
    *QUIET_KINDS,
}


def test_corpus_covers_every_kind_for_at_least_30_minutes() -> None:
    assert sum(s.duration for s in SCENARIOS.values()) >= 30 * 60
    assert {s.kind for s in SCENARIOS.values()} == REQUIRED_KINDS
    assert len([s for s in SCENARIOS.values() if s.kind == "slow_mover"]) == 2
    assert all(s.scene.fps == ANALYSIS_FPS for s in SCENARIOS.values())


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_per_frame_truth_matches_the_windows(name: str) -> None:
    scenario = SCENARIOS[name]
    scene = scenario.at(360)
    windows = scenario.windows()
    assert bool(windows) == scenario.expect_events
    assert all(a >= WARMUP + 2 for a, _ in windows)  # detectors have learnt the background by then
    for n in range(scene.frame_count):
        t = n / scene.fps
        truth = scenario.truth(t, scene.width, scene.height)
        assert truth.moving == any(a <= t <= b for a, b in windows), (name, t)
        assert truth.moving == bool(truth.boxes)
        for x, y, w, h in truth.boxes:
            assert w > 0 and h > 0 and x >= 0 and y >= 0 and x + w <= scene.width and y + h <= scene.height


def test_no_event_scenarios_have_no_windows_and_no_moving_objects() -> None:
    quiet = [s for s in SCENARIOS.values() if s.kind in QUIET_KINDS or s.kind == "camera_nudged"]
    assert len(quiet) == 9
    for scenario in quiet:
        assert not scenario.expect_events and scenario.windows() == [] and scenario.scene.objects == ()


def test_slow_movers_move_a_few_pixels_a_second_at_1080p() -> None:
    for scenario in (s for s in SCENARIOS.values() if s.kind == "slow_mover"):
        # One object, or the parts of one (a car's body, windows and tyres) moving together.
        for obj in scenario.scene.objects:
            dx = (obj.end[0] - obj.start[0]) * 1920
            dy = (obj.end[1] - obj.start[1]) * 1080
            speed = float(np.hypot(dx, dy)) / (obj.t1 - obj.t0)
            assert 5 <= speed <= 12, (scenario.name, speed)
            assert obj.t1 - obj.t0 >= 60  # long enough to count seconds of movement
        assert len({(o.t0, o.t1, o.end[0] - o.start[0]) for o in scenario.scene.objects}) == 1, scenario.name


def test_masked_leaves_change_only_inside_the_mask() -> None:
    scenario = SCENARIOS["masked_leaves"]
    (mask,) = scenario.masks
    scene = dataclasses.replace(scenario.at(360), noise_sigma=0.0, duration=3.0)
    polygon = (np.array(mask) * (scene.width, scene.height)).astype(np.int32)
    inside = np.zeros((scene.height, scene.width), np.uint8)
    cv2.fillPoly(inside, [polygon], 1)
    lumas = [yuv[: scene.height].astype(np.int16) for yuv in frames(scene, scene.width, scene.height)]
    changed = np.zeros_like(inside, dtype=bool)
    for a, b in itertools.pairwise(lumas):
        changed |= np.abs(a - b) > 2
    assert changed.sum() > 0.3 * scene.width * scene.height * 0.25 * 0.5  # much of the crown sways
    assert not (changed & (inside == 0)).any()


def _scene(**kw: object) -> Scene:
    return Scene(name="fx", width=320, height=180, fps=5, duration=2.0, background=Background("yard", 1), **kw)  # type: ignore[arg-type]


def _lumas(scene: Scene) -> list[np.ndarray]:
    return [yuv[: scene.height].astype(np.int16) for yuv in frames(scene, scene.width, scene.height)]


def test_rain_differs_in_every_frame_and_stays_thin() -> None:
    lumas = _lumas(_scene(noise_sigma=0.0, rain=(Rain(0, 2, 100, 0.05, 3),)))
    still = _lumas(_scene(noise_sigma=0.0))
    for a, b in itertools.pairwise(lumas):
        assert np.count_nonzero(np.abs(a - b) > 30) > 200
    streaks = (lumas[0] - still[0]) > 30
    # Thin: eroding by a 3x3 square leaves almost nothing.
    assert cv2.erode(streaks.astype(np.uint8), np.ones((3, 3), np.uint8)).sum() < 0.05 * streaks.sum()


def test_infrared_drops_colour_and_exposure_changes_brightness() -> None:
    scene = _scene(noise_sigma=0.0, infrared=(Infrared(1.0, 2.0, 1.5, 0.8),), exposures=(Exposure(0.6, 1.3, 1.0),))
    yuvs = list(frames(scene, scene.width, scene.height))
    chroma = [yuv[scene.height :].astype(np.int16) for yuv in yuvs]
    assert np.abs(chroma[0] - 128).max() > 20  # colour by day
    assert np.abs(chroma[6] - 128).max() == 0  # grey in infrared
    means = [float(yuv[: scene.height].mean()) for yuv in yuvs]
    assert means[4] > 1.2 * means[2]  # the exposure step at 0.6 s
    assert abs(means[9] - means[4]) > 5  # infrared changes brightness and contrast


def test_nudge_shifts_the_picture_and_returns() -> None:
    scene = _scene(noise_sigma=0.0, nudges=(Nudge(0.6, 1.0, 4 / 320, 0.0),))
    lumas = _lumas(scene)
    assert np.array_equal(lumas[0], lumas[2])
    assert not np.array_equal(lumas[0], lumas[3])
    assert np.abs(lumas[3][:, 8:-8] - lumas[0][:, 4:-12]).mean() < 1.0  # moved 4 px right
    assert np.array_equal(lumas[0], lumas[6])


def test_blurred_object_is_soft_edged_and_dark() -> None:
    insect = MovingObject((0.5, 0.5), (0.5, 0.5), 0.0, 2.0, size=(0.3, 0.3), color=(20, 20, 20), blur=0.03)
    (luma, *_) = _lumas(_scene(noise_sigma=0.0, objects=(insect,)))
    (sharp, *_) = _lumas(_scene(noise_sigma=0.0, objects=(dataclasses.replace(insect, blur=0.0),)))
    row = luma[90, 60:160]
    assert luma[90, 160] < 40  # dark at the centre
    assert len(np.unique(row)) > len(np.unique(sharp[90, 60:160])) + 10  # a ramp, not a step


def test_short_scenario_renders_once_and_decodes_to_luma_views(tmp_path: Path) -> None:
    walker = MovingObject((0.1, 0.5), (0.9, 0.5), 0.4, 1.6, size=(0.2, 0.4), color=(250, 250, 250))
    scene = Scene(name="walk", duration=2.0, fps=ANALYSIS_FPS, background=Background("flat"), objects=(walker,))
    scenario = Scenario("walk", "person_near", True, scene)
    messages: list[str] = []
    video = load(scenario, 180, tmp_path, messages.append)
    assert messages  # rendered, with progress
    assert (video.width, video.height, video.frame_count) == (320, 180, 10)
    decoded = list(video)
    assert [round(t, 3) for t, _ in decoded] == [n / 5 for n in range(10)]
    for t, luma in decoded:
        assert luma.shape == (180, 320) and luma.dtype == np.uint8
        truth = video.truth_at(t)
        if truth.moving:
            (x, y, w, h) = truth.boxes[0]
            assert luma[y + h // 2, x + w // 2] > 200  # the walker is where the truth says
    assert video.windows == [(0.4, 1.6)]
    messages.clear()
    again = load(scenario, 180, tmp_path, messages.append)
    assert again.path == video.path and messages == []  # cached
