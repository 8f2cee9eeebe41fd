"""Scenes as data: ground truth, validation and the renderer's pixels."""

from __future__ import annotations

import numpy as np
import pytest

from camhub.sim.render import frames
from camhub.sim.scene import BUILTIN_SCENES, Background, Dawn, LightSwitch, MovingObject, Scene, SceneError


def test_builtin_ground_truth() -> None:
    assert BUILTIN_SCENES["driveway"].motion_windows() == [(4.0, 8.0), (18.0, 22.0)]
    # The porch light switches on at 18 s: lighting is not motion.
    assert BUILTIN_SCENES["porch"].motion_windows() == [(5.0, 10.0)]
    assert BUILTIN_SCENES["garden"].motion_windows() == [(12.0, 17.0)]
    assert BUILTIN_SCENES["still"].motion_windows() == []
    assert BUILTIN_SCENES["driveway-hevc"].codec == "hevc"
    assert {s.codec for s in BUILTIN_SCENES.values()} == {"h264", "hevc"}


def test_overlapping_objects_merge_into_one_window() -> None:
    a = MovingObject(start=(0, 0), end=(1, 1), t0=1.0, t1=4.0)
    b = MovingObject(start=(0, 0), end=(1, 1), t0=3.0, t1=6.0)
    c = MovingObject(start=(0, 0), end=(1, 1), t0=8.0, t1=9.0)
    scene = Scene(name="x", duration=10, objects=(c, b, a), lights=(LightSwitch(t=7.0, level=0.2),))
    assert scene.motion_windows() == [(1.0, 6.0), (8.0, 9.0)]


def test_brightness_steps_and_ramps() -> None:
    scene = Scene(
        name="x",
        duration=30,
        brightness=0.5,
        lights=(LightSwitch(t=20.0, level=1.2),),
        dawns=(Dawn(t0=5.0, t1=15.0, start_level=0.5, end_level=1.0),),
    )
    assert scene.brightness_at(0) == 0.5
    assert scene.brightness_at(10) == pytest.approx(0.75)
    assert scene.brightness_at(16) == pytest.approx(1.0)
    assert scene.brightness_at(25) == pytest.approx(1.2)


def test_defaults_and_gop() -> None:
    scene = Scene(name="x")
    assert (scene.width, scene.height, scene.fps, scene.gop) == (1280, 720, 15, 30)
    assert Scene(name="hd", width=1920, height=1080, fps=10).gop == 20


def test_from_dict_round_trip() -> None:
    scene = BUILTIN_SCENES["porch"]
    again = Scene.from_dict(scene.to_dict())
    assert again == scene
    assert again.digest() == scene.digest()


def test_from_dict_yaml_shapes() -> None:
    scene = Scene.from_dict(
        {
            "name": "yard",
            "width": 1920,
            "height": 1080,
            "codec": "hevc",
            "background": {"style": "room", "seed": 9},
            "objects": [{"start": [0, 0.5], "end": [1, 0.5], "t0": 1, "t1": 3, "shape": "ellipse"}],
            "lights": [{"t": 5, "level": 0.3}],
        }
    )
    assert scene.objects[0].start == (0, 0.5)
    assert scene.motion_windows() == [(1, 3)]
    assert scene.background.seed == 9


@pytest.mark.parametrize(
    "data, needle",
    [
        ({"name": "x", "colour": 1}, "'colour'"),
        ({"name": "x", "background": {"style": "yard", "sead": 1}}, "scene.background: unknown key 'sead'"),
        (
            {"name": "x", "objects": [{"start": [0, 0], "end": [1, 1], "t0": 0, "t1": 1, "speed": 2}]},
            "scene.objects[0]: unknown key 'speed'",
        ),
        ({"name": "x", "codec": "vp9"}, "codec must be 'h264' or 'hevc', got 'vp9'"),
        ({"name": "x", "width": 1281}, "width/height must be even"),
        (
            {"name": "x", "duration": 5, "objects": [{"start": [0, 0], "end": [1, 1], "t0": 4, "t1": 6}]},
            "objects[0] needs 0 <= t0 < t1 <= duration",
        ),
        ({"name": "x", "objects": [{"start": [0, 0], "end": [1, 1]}]}, "scene.objects[0]"),
    ],
)
def test_from_dict_rejects_bad_input_naming_it(data: dict, needle: str) -> None:
    with pytest.raises(SceneError) as err:
        Scene.from_dict(data)
    assert needle in str(err.value)


def test_digest_changes_with_definition() -> None:
    a = Scene(name="x")
    assert a.digest() == Scene(name="x").digest()
    assert a.digest() != Scene(name="x", noise_sigma=3.0).digest()


def test_pixels_change_only_inside_motion_windows_or_lighting() -> None:
    """Without noise, consecutive frames differ exactly when ground truth or light says."""
    scene = Scene(
        name="px",
        width=160,
        height=90,
        fps=10,
        duration=6.0,
        noise_sigma=0.0,
        objects=(MovingObject(start=(0.1, 0.5), end=(0.9, 0.5), t0=1.0, t1=2.5),),
        lights=(LightSwitch(t=4.0, level=0.5),),
    )
    luma = [f[:90].astype(np.int16) for f in frames(scene, 160, 90)]
    changed = [n for n in range(1, len(luma)) if np.abs(luma[n] - luma[n - 1]).max() > 0]
    moving = [n for n in changed if 1.0 <= n / scene.fps <= 2.5 + 1 / scene.fps]
    assert moving and len(moving) >= 14  # the object moves in every frame of its window
    assert set(changed) - set(moving) == {40}  # the light switch at 4.0 s, and nothing else


def test_noise_has_the_requested_sigma() -> None:
    scene = Scene(name="n", width=160, height=90, fps=5, duration=1.0, noise_sigma=4.0, background=Background("flat"))
    clean = Scene(name="n", width=160, height=90, fps=5, duration=1.0, noise_sigma=0.0, background=scene.background)
    noisy = next(frames(scene, 160, 90))[:90].astype(np.float32)
    base = next(frames(clean, 160, 90))[:90].astype(np.float32)
    assert np.std(noisy - base) == pytest.approx(4.0, rel=0.15)


def test_a_negative_sub_kbps_is_refused_by_name() -> None:
    with pytest.raises(SceneError, match="sub_kbps must be >= 0"):
        Scene(name="x", sub_kbps=-1)
