"""Rendering: files ffprobe accepts, fixed GOPs, indexes that match, caching."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from camhub.sim.render import AccessUnits, JpegFrames, Rendering, render_scene
from camhub.sim.scene import Scene

FFPROBE = "/usr/bin/ffprobe"


def probe(path: Path) -> dict:
    out = subprocess.run(
        [FFPROBE, "-v", "error", "-show_streams", "-of", "json", str(path)], capture_output=True, check=True, timeout=60
    ).stdout
    (stream,) = json.loads(out)["streams"]
    return stream


def keyframe_packets(path: Path) -> list[int]:
    out = subprocess.run(
        [FFPROBE, "-v", "error", "-select_streams", "v", "-show_entries", "packet=flags", "-of", "csv=p=0", str(path)],
        capture_output=True,
        check=True,
        timeout=60,
        text=True,
    ).stdout
    return [i for i, flags in enumerate(out.split()) if flags.startswith("K")]


@pytest.mark.parametrize("fixture, codec", [("sim_rendering", "h264"), ("hevc_rendering", "hevc")])
def test_streams_have_codec_size_fps_and_gop(request: pytest.FixtureRequest, fixture: str, codec: str) -> None:
    rendering: Rendering = request.getfixturevalue(fixture)
    scene = rendering.scene
    for files, size in ((rendering.main, (1280, 720)), (rendering.sub, (640, 360))):
        for path in (files.mp4, files.annexb):
            stream = probe(path)
            assert stream["codec_name"] == codec, path
            assert (stream["width"], stream["height"]) == size, path
            assert stream["r_frame_rate"] == f"{scene.fps}/1", path
        assert int(probe(files.mp4)["nb_frames"]) == scene.frame_count
        keys = keyframe_packets(files.mp4)
        assert keys == list(range(0, scene.frame_count, scene.gop))
        units = AccessUnits(files)
        assert len(units) == scene.frame_count
        assert units.keyframes == keys
        assert units.keyframe_at_or_before(scene.gop + 3) == scene.gop


def test_annexb_units_start_with_start_codes_and_keyframes_carry_parameter_sets(sim_rendering: Rendering) -> None:
    units = AccessUnits(sim_rendering.sub)
    for n in range(len(units)):
        assert units.unit(n).startswith(b"\x00\x00\x00\x01") or units.unit(n).startswith(b"\x00\x00\x01")
    key = units.unit(units.keyframes[1])
    nal_types = {key[i + 3] & 0x1F for i in range(len(key) - 3) if key[i : i + 3] == b"\x00\x00\x01"}
    assert {7, 8, 5} <= nal_types  # SPS, PPS, IDR: a decoder can start here


def test_jpegs_decode_at_sub_size(sim_rendering: Rendering) -> None:
    jpegs = JpegFrames(sim_rendering.mjpeg, sim_rendering.mjpeg_index)
    assert len(jpegs) == sim_rendering.scene.frame_count
    img = cv2.imdecode(np.frombuffer(jpegs.frame(len(jpegs) - 1), np.uint8), cv2.IMREAD_COLOR)
    assert img.shape == (360, 640, 3)


def test_second_render_reuses_the_cache(sim_cache: Path, sim_rendering: Rendering) -> None:
    before = sim_rendering.main.annexb.stat().st_mtime_ns
    again = render_scene(sim_rendering.scene, sim_cache)
    assert again.directory == sim_rendering.directory
    assert again.seconds == 0.0
    assert again.main.annexb.stat().st_mtime_ns == before


def test_failed_render_leaves_nothing_that_looks_complete(tmp_path: Path) -> None:
    scene = Scene(name="boom", width=320, height=180, duration=2.0)

    def explode(message: str) -> None:
        raise KeyboardInterrupt("killed mid-render")

    with pytest.raises(KeyboardInterrupt):
        render_scene(Scene(name="boom", width=320, height=180, duration=20.0), tmp_path, progress=explode)
    assert list(tmp_path.iterdir()) == []
    done = render_scene(scene, tmp_path)
    assert done.seconds > 0 and [p.name for p in tmp_path.iterdir()] == [done.directory.name]


def test_full_hd_renders(tmp_path: Path) -> None:
    rendering = render_scene(Scene(name="hd", width=1920, height=1080, duration=1.0), tmp_path)
    stream = probe(rendering.main.mp4)
    assert (stream["width"], stream["height"]) == (1920, 1080)


def test_sub_kbps_sets_the_sub_streams_bit_rate_and_leaves_other_scenes_digests_alone(tmp_path: Path) -> None:
    plain = Scene(name="rate", width=320, height=180, fps=5, duration=4.0, noise_sigma=4.0)
    capped = Scene(name="rate", width=320, height=180, fps=5, duration=4.0, noise_sigma=4.0, sub_kbps=150)
    assert "sub_kbps" not in plain.to_dict()  # digests of scenes made before the key stay the same
    assert capped.digest() != plain.digest()
    rates = []
    for scene in (plain, capped):
        units = AccessUnits(render_scene(scene, tmp_path).sub)
        rates.append(sum(units.sizes) * 8 / scene.duration / 1000)
    free, limited = rates
    assert free > 300, f"constant quality with noise makes a big stream ({free:.0f} kbit/s); the cap would not show"
    assert 0.6 * 150 <= limited <= 1.4 * 150, f"{limited:.0f} kbit/s for sub_kbps=150"
