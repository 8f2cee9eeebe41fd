"""Which decoded frames the detect input analyses: the analysis rate's cadence in the stream's own time,
robust to arrival jitter and to frames delivered in bunches.

A synthetic stream stands in for a camera here (the real thing cannot be made to jitter or bunch on
purpose); the reader's own picking loop runs unchanged on its packets. Timestamps a camera gets wrong
are in tests/security/test_detect_timestamps.py.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from typing import Any

import av

from camhub.capture.media import Frame, Packet, StreamInfo
from camhub.capture.reader import STALLED_CLOCK_S, InputReader
from camhub.config import InputConfig, ReconnectConfig


class Image:
    """A decoded frame as the reader sees it: its presentation time in seconds, or None."""

    def __init__(self, time: float | None) -> None:
        self.time = time


class Timed:
    """An open stream whose packets arrive at the given times, each decoding to one frame.

    With `media`, frame i carries media[i] as its presentation time; without, frames are untimed.
    """

    info = StreamInfo("h264", 64, 64, None)
    copy_template = None
    description = "synthetic"

    def __init__(self, times: list[float], media: list[float | None] | None = None) -> None:
        self._times = times
        self._media = iter(media if media is not None else [None] * len(times))

    def packets(self) -> Iterator[Packet]:
        for t in self._times:
            yield Packet(av.Packet(b"\0"), t, False)

    def decode(self, packet: Packet) -> list[Any]:
        return [Image(next(self._media))]

    def close(self) -> None:
        pass


class Frames:
    def __init__(self) -> None:
        self.times: list[float] = []

    def on_frame(self, frame: Frame) -> None:
        self.times.append(frame.capture_time)

    def on_lost(self) -> None:
        pass


def analysed(times: list[float], analysis_fps: float, media: list[float | None] | None = None) -> list[float]:
    """Arrival times of the frames the reader picks from a stream arriving at `times`."""
    frames = Frames()
    config = InputConfig(url="rtsp://127.0.0.1/cam", roles=("detect",))
    stream = Timed(times, media)
    reader = InputReader("cam", config, stream, ReconnectConfig(), analysis_fps, frames=[frames])  # type: ignore[arg-type]
    reader._pump(stream)  # type: ignore[arg-type]
    return frames.times


def test_a_stream_at_the_analysis_rate_is_analysed_frame_by_frame_despite_jitter() -> None:
    rng = random.Random(7)
    times = [1000.0 + i / 5 + rng.uniform(-0.02, 0.02) for i in range(100)]  # 5 fps, +-20 ms
    assert analysed(times, 5.0) == times


def test_a_faster_stream_is_analysed_at_the_analysis_rate() -> None:
    times = [1000.0 + i / 15 for i in range(150)]  # 15 fps for 10 s
    picked = analysed(times, 5.0)
    assert 49 <= len(picked) <= 51
    gaps = [b - a for a, b in itertools.pairwise(picked)]
    assert all(abs(g - 0.2) < 1 / 15 + 1e-9 for g in gaps), gaps


def bunched(count: int, fps: float, every: float) -> list[float]:
    """Arrival times of `count` frames sent at `fps` but delivered all at once every `every` seconds."""
    return [1000.0 + (int(i / fps / every) + 1) * every + i * 1e-4 for i in range(count)]


def test_frames_delivered_in_bunches_are_all_analysed_by_their_timestamps() -> None:
    # 5 fps sent, delivered in bunches of five once a second (a busy machine or network): every frame
    # is 200 ms after the one before in the stream's time, so every one is analysed.
    times = bunched(100, 5, 1.0)
    media = [7.0 + i / 5 for i in range(100)]
    assert analysed(times, 5.0, media) == times


def test_untimed_frames_in_bunches_are_picked_by_arrival() -> None:
    # Without timestamps only the hub's clock is left: one frame of each bunch.
    times = bunched(100, 5, 1.0)
    picked = analysed(times, 5.0)
    assert len(picked) == 20
    assert picked == times[::5]


def test_a_faster_stream_in_bunches_is_analysed_at_the_analysis_rate_of_its_own_time() -> None:
    times = bunched(150, 15, 0.5)  # 15 fps for 10 s, delivered every half second
    media = [i / 15 for i in range(150)]
    picked = analysed(times, 5.0, media)
    assert 49 <= len(picked) <= 51
    picked_media = [media[times.index(t)] for t in picked]
    gaps = [b - a for a, b in itertools.pairwise(picked_media)]
    assert all(abs(g - 0.2) < 1 / 15 + 1e-9 for g in gaps), gaps


def test_timestamps_going_back_restart_the_cadence() -> None:
    # A file looping, or a camera restarting its stream: the first frame of the new run is analysed.
    times = [1000.0 + i / 5 for i in range(20)]
    media: list[float | None] = [50.0 + i / 5 for i in range(10)] + [i / 5 for i in range(10)]
    assert analysed(times, 5.0, media) == times


def test_timestamps_that_stand_still_give_way_to_the_hub_clock() -> None:
    # Every frame stamped 0: after STALLED_CLOCK_S of the hub's clock the frames are picked by arrival.
    times = [1000.0 + i / 5 for i in range(100)]  # 20 s at 5 fps
    picked = analysed(times, 5.0, [0.0] * 100)
    assert picked[0] == times[0]
    assert times[0] + STALLED_CLOCK_S <= picked[1] <= times[0] + STALLED_CLOCK_S + 0.2
    assert picked[1:] == [t for t in times if t >= picked[1]]
