"""A hostile camera against `RtspStream.poll`, the read that never waits (one thread polls many cameras).

A camera that floods must not keep one poll reading for ever (the other cameras in the turn wait for it),
and a camera that goes silent must end in a SourceError, as it does for a reader that waits. The fake
camera is test_rtsp_hostile.py's: a scripted TCP server on 127.0.0.1 sending real H.264.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from camhub.errors import SourceError
from camhub.integrations.rtsp.client import MAX_POLL_READS

from .test_rtsp_hostile import DEADLINE, FakeCamera, Script, camera, garbage_after, open_stream, video

__all__ = ["camera"]  # the fixture, used by name

pytestmark = pytest.mark.timeout(180)


def test_a_flooding_camera_gives_each_poll_a_bounded_number_of_reads(camera: Callable[..., FakeCamera]) -> None:
    cam = camera(Script(after_play=video(fps=1e6)))  # frames as fast as the socket takes them, for ever
    stream = open_stream(cam)
    reads = 0
    fill = stream._conn.fill

    def counted(wait: bool = True) -> int:
        nonlocal reads
        reads += 1
        return fill(wait)

    stream._conn.fill = counted  # type: ignore[method-assign]
    try:
        got = 0
        for _ in range(5):
            time.sleep(0.2)  # the socket fills meanwhile
            reads = 0
            got += len(stream.poll())
            assert reads <= MAX_POLL_READS
        assert got > 0
    finally:
        stream.close()


def test_a_camera_silent_in_the_middle_of_the_stream_times_out_when_polled(camera: Callable[..., FakeCamera]) -> None:
    cam = camera(Script(after_play=video(iter(range(15)))))
    stream = open_stream(cam, timeout=1.0)
    deadline = time.monotonic() + DEADLINE
    try:
        with pytest.raises(SourceError, match="timed out waiting for the camera"):
            while time.monotonic() < deadline:
                stream.poll()
                time.sleep(0.1)
    finally:
        stream.close()


def test_garbage_in_the_middle_of_the_stream_fails_the_poll(camera: Callable[..., FakeCamera]) -> None:
    cam = camera(Script(after_play=garbage_after(12)))
    stream = open_stream(cam, timeout=3.0)
    deadline = time.monotonic() + DEADLINE
    try:
        with pytest.raises(SourceError, match="neither RTSP nor RTP"):
            while time.monotonic() < deadline:
                stream.poll()
                time.sleep(0.05)
    finally:
        stream.close()
