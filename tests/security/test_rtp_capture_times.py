"""A camera's RTP timestamps are its to get wrong: the capture times the hub gives its frames must not be.

Property test (hypothesis) of `ArrivalClock` (integrations/rtsp/clock.py), which places the frames of
each read by their RTP time: for any media times (going back, standing still, jumping by years, out of
order within a read) read at any rising wall-clock times, every capture time is finite, never after
the read that brought the frame, never more than the pace and MAX_AGE before it, and never before the
capture time handed out just before it. Clips are cut and pre-rolls kept by these times.
"""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from camhub.integrations.rtsp.clock import MAX_AGE, ArrivalClock

# Media seconds as RtspStream makes them: the unwrapped 90 kHz timestamp, which a camera can push
# about 24,000 s a unit in either direction.
MEDIA = st.floats(-1e9, 1e9, allow_nan=False)
READ = st.tuples(st.floats(0.0, 30.0), st.lists(MEDIA, min_size=1, max_size=20))


@given(reads=st.lists(READ, min_size=1, max_size=60), pace=st.sampled_from([0.0, 0.25, 0.5]))
def test_no_timestamps_move_capture_times_out_of_their_reads(
    reads: list[tuple[float, list[float]]], pace: float
) -> None:
    clock = ArrivalClock()
    now, last = 1_800_000_000.0, 0.0
    for gap, media in reads:
        now += gap
        clock.read(now, media[-1], pace)
        for m in media:
            at = clock.capture_time(m, now, pace)
            assert math.isfinite(at)
            assert now - pace - MAX_AGE <= at <= now
            assert at >= last
            last = at
