"""Capture times from RTP timestamps (integrations/rtsp/clock.py), with the times made up.

A camera sends a frame every 1/15 s; the reader reads at made-up times. What a
paced read would have to guess, the tests know: when each frame arrived.
The live reader is tested against a real RTSP server in test_rtsp.py.
"""

from __future__ import annotations

import random

import pytest

from camhub.integrations.rtsp.clock import DRIFT, MAX_AGE, ArrivalClock

FPS = 15
START = 1_800_000_000.0  # wall-clock seconds of the first frame's arrival
LATENCY = 0.03  # seconds from the camera's media clock to arrival


def stream(
    seconds: float, pace: float, rate: float = 1.0, jitter: float = 0.0, seed: int = 1
) -> list[tuple[float, float, float, float]]:
    """(media time, arrival, capture time given, read's time less the frame's media age in the read) for
    each frame, read every `pace` seconds or, unpaced, as each frame arrives.

    `rate` is the camera clock's speed against the host's; `jitter` the most a read is late by.
    """
    rng = random.Random(seed)
    frames = [(i / FPS * rate, START + i / FPS + LATENCY) for i in range(int(seconds * FPS))]
    clock = ArrivalClock()
    out: list[tuple[float, float, float, float]] = []
    read_at = START
    pending: list[tuple[float, float]] = []

    def read(now: float) -> None:
        clock.read(now, pending[-1][0], pace)
        newest = pending[-1][0]
        out.extend((m, a, clock.capture_time(m, now, pace), now - (newest - m) / rate) for m, a in pending)
        pending.clear()

    for media, arrival in frames:
        if not pace:
            pending.append((media, arrival))
            read(arrival + rng.uniform(0, jitter))
            continue
        while arrival > read_at:  # the read before this frame arrives takes what is pending
            if pending:
                read(read_at + rng.uniform(0, jitter))
            read_at += pace
        pending.append((media, arrival))
    return out


@pytest.mark.parametrize("pace", [0.0, 0.25, 0.5])
def test_frames_read_in_batches_are_placed_where_they_arrived(pace: float) -> None:
    frames = stream(30, pace, jitter=0.05)[FPS * 5 :]  # after the first reads
    late = [abs(given - arrival) for _, arrival, given, _ in frames]
    # Stamped by its read (less how much older it is than the read's newest frame), a frame is late by as
    # much as that newest frame waited for the read: up to a frame interval and the read's jitter (50 ms).
    # Placed by its RTP time from the best of the reads, it is a few milliseconds off.
    by_read = [abs(stamp - arrival) for _, arrival, _, stamp in frames]
    assert max(late) < 0.03 and max(late) < max(by_read) / 2, (max(late), max(by_read))
    assert sum(late) < sum(by_read) / 2, (sum(late) / len(late), sum(by_read) / len(by_read))


def test_capture_times_never_go_back_nor_lie_in_the_future() -> None:
    frames = stream(20, 0.5, jitter=0.2, seed=7)
    given = [g for _, _, g, _ in frames]
    assert given == sorted(given)
    assert all(g <= a + 0.5 + 0.2 for _, a, g, _ in frames)  # never after the read that brought it


def test_a_camera_clock_that_runs_slow_is_followed() -> None:
    # The camera's media clock runs 0.1% slow: its frames' media times fall behind the wall clock by 1 ms a second.
    assert DRIFT > 0.001  # the clock allows for it
    frames = stream(60, 0.5, rate=0.999, jitter=0.05)
    late = [given - arrival for _, arrival, given, _ in frames[-FPS * 10 :]]
    assert max(abs(d) for d in late) < 0.04, max(late, key=abs)


def test_a_camera_clock_that_runs_fast_is_followed() -> None:
    frames = stream(60, 0.5, rate=1.001, jitter=0.05)
    late = [given - arrival for _, arrival, given, _ in frames[-FPS * 10 :]]
    assert max(abs(d) for d in late) < 0.04, max(late, key=abs)


def test_a_jump_of_the_camera_clock_starts_the_offset_over() -> None:
    clock = ArrivalClock()
    clock.read(START, 100.0, 0.25)
    assert clock.capture_time(100.0, START, 0.25) == START
    # The camera's clock steps back 30 s; its next frame comes a frame later.
    now = START + 1 / FPS
    clock.read(now, 70.0, 0.25)
    assert clock.capture_time(70.0, now, 0.25) == pytest.approx(now)
    # ... or forward an hour.
    now += 1 / FPS
    clock.read(now, 70.0 + 3600, 0.25)
    assert clock.capture_time(70.0 + 3600, now, 0.25) == pytest.approx(now)


def test_a_frame_far_older_than_its_read_is_placed_at_most_max_age_before_it() -> None:
    # One read's units span an hour of media time (a hostile camera): the oldest is not placed an hour back.
    clock = ArrivalClock()
    clock.read(START, 3600.0, 0.25)
    assert clock.capture_time(0.0, START, 0.25) == pytest.approx(START - 0.25 - MAX_AGE)
