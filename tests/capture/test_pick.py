"""Which decoded frames the detect input analyses: the analysis rate's cadence, robust to arrival jitter.

A synthetic stream stands in for a camera here (the real thing cannot be made to jitter on purpose);
the reader's own picking loop runs unchanged on its packets.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from typing import Any

import av

from camhub.capture.media import Frame, Packet, StreamInfo
from camhub.capture.reader import InputReader
from camhub.config import InputConfig, ReconnectConfig


class Timed:
    """An open stream whose packets arrive at the given times, each decoding to one frame."""

    info = StreamInfo("h264", 64, 64, None)
    copy_template = None
    description = "synthetic"

    def __init__(self, times: list[float]) -> None:
        self._times = times

    def packets(self) -> Iterator[Packet]:
        for t in self._times:
            yield Packet(av.Packet(b"\0"), t, False)

    def decode(self, packet: Packet) -> list[Any]:
        return [object()]

    def close(self) -> None:
        pass


class Frames:
    def __init__(self) -> None:
        self.times: list[float] = []

    def on_frame(self, frame: Frame) -> None:
        self.times.append(frame.capture_time)

    def on_lost(self) -> None:
        pass


def analysed(times: list[float], analysis_fps: float) -> list[float]:
    frames = Frames()
    config = InputConfig(url="rtsp://127.0.0.1/cam", roles=("detect",))
    stream = Timed(times)
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
