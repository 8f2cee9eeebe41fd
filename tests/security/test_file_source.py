"""A raw `.h264` file source loops, at real time.

Defect (issue 9, item 11): a raw H.264 elementary stream has no container
timestamps and its demuxer cannot seek, so the `file` source read it
unpaced (up to 13 times real time) and stopped at its end with "Operation
not permitted". It now paces untimed packets by their duration (or the
stream's guessed rate) and reopens the file when seeking back fails.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from camhub.capture.media import ContainerStream
from camhub.config import InputConfig
from camhub.integrations.file import FileSource

pytestmark = pytest.mark.timeout(120)

FPS = 10
FRAMES = 10  # one second of video


@pytest.fixture(scope="module")
def raw_h264(make_video: Callable[..., Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real raw H.264 elementary stream (Annex B, no container), cut from a real MP4 by ffmpeg."""
    mp4 = make_video(size="160x120", rate=FPS, seconds=FRAMES / FPS, gop=5)
    raw = tmp_path_factory.mktemp("raw") / "camera.h264"
    subprocess.run(
        [
            "ffmpeg",
            "-loglevel",
            "error",
            "-i",
            str(mp4),
            "-c:v",
            "copy",
            "-bsf:v",
            "h264_mp4toannexb",
            "-f",
            "h264",
            str(raw),
        ],
        check=True,
        timeout=60,
    )
    return raw


class StepClock:
    """A monotonic clock that moves only when the source sleeps: pacing measured without wall time."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_raw_h264_loops_and_is_paced_by_its_frame_rate(raw_h264: Path) -> None:
    clock = StepClock()
    stream = ContainerStream(str(raw_h264), loop=True, realtime=True, clock=clock, sleep=clock.sleep)
    try:
        assert stream.info.fps == FPS  # the stream's own rate, not FFmpeg's default 25 for raw h264
        wanted = FRAMES * 2 + FRAMES // 2  # two and a half passes of the file
        got = [p for _, p in zip(range(wanted), stream.packets(), strict=False)]
    finally:
        stream.close()
    assert len(got) == wanted
    assert sum(p.keyframe for p in got) >= 5  # each pass starts again with its keyframes
    # Packet n is due at n / FPS seconds after the first; the source must have waited that long.
    due = (wanted - 1) / FPS
    assert 0.8 * due <= clock.now <= 1.25 * due, (clock.now, due)


def test_file_source_reads_past_the_end_of_a_raw_h264_file(raw_h264: Path) -> None:
    """Through the `file` integration, on the real clock: it loops, and never runs ahead of real time."""
    stream = FileSource(InputConfig(url=str(raw_h264))).open()
    try:
        wanted = FRAMES + FRAMES // 2
        got = [p for _, p in zip(range(wanted), stream.packets(), strict=False)]
    finally:
        stream.close()
    assert len(got) == wanted
    # Paced: the capture times it stamps span at least half the media time read (a busy machine only
    # makes the span longer, so this bound cannot fail by load); unpaced, they span almost nothing.
    span = got[-1].capture_time - got[0].capture_time
    assert span >= 0.5 * (wanted - 1) / FPS, span
