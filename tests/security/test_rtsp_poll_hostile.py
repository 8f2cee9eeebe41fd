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
from camhub.integrations.rtsp.client import MAX_POLL_READS, RtspStream

from ..rtp_media import ReadCounter
from .test_rtsp_hostile import DEADLINE, FakeCamera, Script, camera, garbage_after, open_stream, video

__all__ = ["camera"]  # the fixture, used by name

pytestmark = pytest.mark.timeout(180)


def poll_until_error(stream: RtspStream) -> str:
    """Poll an opened stream a few times a second until it fails (within DEADLINE); the message."""
    deadline = time.monotonic() + DEADLINE
    try:
        with pytest.raises(SourceError) as caught:
            while time.monotonic() < deadline:
                stream.poll()
                time.sleep(0.05)
    finally:
        stream.close()
    return str(caught.value)


def test_a_flooding_camera_gives_each_poll_a_bounded_number_of_reads(camera: Callable[..., FakeCamera]) -> None:
    cam = camera(Script(after_play=video(fps=1e6)))  # frames as fast as the socket takes them, for ever
    stream = open_stream(cam)
    counter = ReadCounter(stream)
    try:
        got = 0
        for _ in range(5):
            time.sleep(0.2)  # the socket fills meanwhile
            counter.reads = 0
            got += len(stream.poll())
            assert counter.reads <= MAX_POLL_READS
        assert got > 0
    finally:
        stream.close()


def test_a_camera_silent_in_the_middle_of_the_stream_times_out_when_polled(camera: Callable[..., FakeCamera]) -> None:
    cam = camera(Script(after_play=video(iter(range(15)))))
    assert "timed out waiting for the camera" in poll_until_error(open_stream(cam, timeout=1.0))


def test_garbage_in_the_middle_of_the_stream_fails_the_poll(camera: Callable[..., FakeCamera]) -> None:
    cam = camera(Script(after_play=garbage_after(12)))
    assert "neither RTSP nor RTP" in poll_until_error(open_stream(cam, timeout=3.0))
