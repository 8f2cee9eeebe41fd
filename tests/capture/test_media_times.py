"""The presentation times decoded frames carry to the analysis cadence (`camhub.capture.reader.Cadence`).

Real files made by ffmpeg: an MP4 holds the encoder's timestamps, which a frame keeps. A multipart
MJPEG stream (what an MJPEG camera serves over HTTP) has none: FFmpeg makes them up at a guessed 25 fps
whatever the camera's rate, so its frames are handed on untimed and the cadence counts their arrival.
"""

from __future__ import annotations

import itertools
import subprocess
from collections.abc import Callable
from pathlib import Path

from camhub.capture.media import ContainerStream


def frame_times(stream: ContainerStream, count: int) -> list[float | None]:
    times: list[float | None] = []
    try:
        for packet in stream.packets():
            times += [frame.time for frame in stream.decode(packet)]
            if len(times) >= count:
                return times[:count]
    finally:
        stream.close()
    raise AssertionError("the stream ended early")


def test_frames_of_a_timed_stream_keep_their_presentation_times(make_video: Callable[..., Path]) -> None:
    times = frame_times(ContainerStream(str(make_video(rate=5, seconds=3))), 10)
    assert None not in times
    gaps = [b - a for a, b in itertools.pairwise(t for t in times if t is not None)]
    assert all(abs(gap - 0.2) < 1e-6 for gap in gaps), gaps


def test_frames_of_a_stream_without_timestamps_are_untimed(tmp_path: Path) -> None:
    # 5 fps MJPEG: FFmpeg would stamp its frames 0.04 s apart, and a 5 fps analysis would take one in five.
    served = tmp_path / "camera.mjpeg"
    source = "testsrc=size=320x240:rate=5"
    encode = ["-f", "lavfi", "-i", source, "-t", "3", "-c:v", "mjpeg", "-f", "mpjpeg"]
    subprocess.run(["ffmpeg", "-loglevel", "error", *encode, str(served)], check=True)
    stream = ContainerStream(str(served), format="mpjpeg")
    assert frame_times(stream, 10) == [None] * 10
