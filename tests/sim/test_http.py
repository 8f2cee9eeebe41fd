"""HTTP endpoints, read the way the hub's sources read them: with PyAV."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import av
import cv2
import numpy as np
import pytest

from camhub.sim.http_server import SimHttpServer

pytestmark = pytest.mark.timeout(60)
# Raw elementary streams carry no timing; probe briefly instead of 5 s.
RAW_OPTIONS = {"probesize": "200000", "analyzeduration": "500000"}


def read_frames(url: str, fmt: str, seconds: float, options: dict | None = None) -> list[av.VideoFrame]:
    out = []
    with av.open(url, format=fmt, options=options or {}, timeout=(5, 5)) as container:
        start = time.monotonic()
        for frame in container.decode(video=0):
            out.append(frame)
            if time.monotonic() - start > seconds:
                break
    return out


def test_mjpeg_is_readable_by_ffmpeg_mpjpeg_at_about_fps(http_sim: SimHttpServer) -> None:
    frames = read_frames(http_sim.url("cam", "mjpeg"), "mpjpeg", 2.0)
    assert (frames[0].width, frames[0].height) == (640, 360)
    # Paced at 15 fps: about 30 frames in 2 s. Loose bounds, never strict timing.
    assert 15 <= len(frames) <= 60


def test_snapshot_is_a_jpeg_of_the_sub_size(http_sim: SimHttpServer) -> None:
    with urllib.request.urlopen(http_sim.url("cam", "snapshot.jpg"), timeout=5) as resp:
        assert resp.headers["Content-Type"] == "image/jpeg"
        body = resp.read()
    img = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)
    assert img is not None and img.shape == (360, 640, 3)


@pytest.mark.parametrize(
    "camera, path, fmt, codec, size",
    [
        ("cam", "main.h264", "h264", "h264", (1280, 720)),
        ("cam", "sub.h264", "h264", "h264", (640, 360)),
        ("hevc", "main.h265", "hevc", "hevc", (1280, 720)),
    ],
)
def test_elementary_streams_decode(
    http_sim: SimHttpServer, camera: str, path: str, fmt: str, codec: str, size: tuple[int, int]
) -> None:
    frames = read_frames(http_sim.url(camera, path), fmt, 1.5, RAW_OPTIONS)
    # The stream begins at a keyframe, so the very first frame decodes.
    assert frames[0].key_frame
    assert (frames[0].width, frames[0].height) == size
    assert len(frames) >= 10
    with av.open(http_sim.url(camera, path), format=fmt, options=RAW_OPTIONS, timeout=(5, 5)) as container:
        assert container.streams.video[0].codec_context.name == codec


@pytest.mark.parametrize("path", ["nope/mjpeg", "cam/main.h265", "hevc/sub.h264", "cam/other"])
def test_unknown_paths_are_404(http_sim: SimHttpServer, path: str) -> None:
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"http://127.0.0.1:{http_sim.port}/{path}", timeout=5)
    assert err.value.code == 404
    err.value.close()


def test_cameras_index_lists_paths_and_ground_truth(http_sim: SimHttpServer) -> None:
    with urllib.request.urlopen(f"http://127.0.0.1:{http_sim.port}/cameras.json", timeout=5) as r:
        body = json.load(r)
    assert body["cameras"]["hevc"]["main"] == "/hevc/main.h265"
    assert body["cameras"]["cam"]["motion_windows"] == [[2.0, 5.0]]
