"""A detect stream's timestamps are the camera's to get wrong: the analysis cadence must survive any.

Property test (hypothesis) of `Cadence`, which picks the frames the detect input analyses by their
presentation time: for any sequence of timestamps (missing, standing still, going back, jumping by
years) on frames arriving at any rising times, it never raises and never
goes longer without a pick than STALLED_CLOCK_S (or two analysis intervals) plus the gap between two
arrivals: a camera cannot stop its own motion detection by its clock.
"""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from camhub.capture.reader import STALLED_CLOCK_S, Cadence

MEDIA = st.one_of(st.none(), st.floats(-1e12, 1e12), st.sampled_from([0.0, 1e-9, -1.0]))


@given(
    media=st.lists(MEDIA, min_size=1, max_size=300),
    gaps=st.lists(st.floats(0.0, 1.5), min_size=1, max_size=300),
    fps=st.sampled_from([0.5, 1.0, 5.0, 15.0]),
)
def test_no_timestamps_stop_analysis(media: list[float | None], gaps: list[float], fps: float) -> None:
    cadence = Cadence(1.0 / fps, "camera hostile (detect)")
    arrivals = list(itertools.accumulate(gaps[i % len(gaps)] for i in range(len(media))))
    picked = [now for m, now in zip(media, arrivals, strict=True) if cadence.due(m, now)]
    assert picked and picked[0] == arrivals[0]  # the first frame is always analysed
    longest = max(STALLED_CLOCK_S, 2.0 / fps) + max(gaps)
    for before, after in itertools.pairwise(picked):
        assert after - before <= longest + 1e-9
    # And none left unpicked for longer at the end.
    assert arrivals[-1] - picked[-1] <= longest + 1e-9
