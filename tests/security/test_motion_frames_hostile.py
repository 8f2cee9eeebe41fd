"""Frames the motion engine is handed are data from a camera's stream: hostile until checked.

Property tests (hypothesis): any 2-D uint8 plane of an accepted size, with any
content, any memory layout (strided views as the decoder hands them out) and
any sequence of sizes, is analysed without raising and gives a result in
range; anything else is refused with a TypeError or ValueError that says what
was expected, before any work is done.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from camhub.config import MotionConfig
from camhub.motion.engine import MAX_SIDE, MIN_SIDE, MotionEngine
from camhub.motion.zones import ZoneConfig

SIDES = st.integers(MIN_SIDE, 400)


@st.composite
def planes(draw: st.DrawFn) -> np.ndarray:
    """A uint8 plane, sometimes a view with row padding or a step, as a decoder's buffer would be."""
    height, width = draw(SIDES), draw(SIDES)
    kind = draw(st.sampled_from(["contiguous", "padded", "strided", "constant"]))
    if kind == "constant":
        return np.full((height, width), draw(st.integers(0, 255)), np.uint8)
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if kind == "padded":
        return rng.integers(0, 256, (height, width + draw(st.integers(1, 64))), dtype=np.uint8)[:, :width]
    if kind == "strided":
        return rng.integers(0, 256, (height * 2, width * 2), dtype=np.uint8)[::2, ::2]
    return rng.integers(0, 256, (height, width), dtype=np.uint8)


CONFIGS = st.sampled_from(
    [
        MotionConfig(),
        MotionConfig(auto_threshold=False, threshold=1.0, min_area=1e-6, frame_height=16),
        MotionConfig(frame_height=720, global_change=1.0),
        MotionConfig(
            masks=(((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)),),  # everything masked
            zones={"z": ZoneConfig(points=((0.1, 0.1), (0.9, 0.1), (0.5, 0.9)), min_area=1.0)},
        ),
    ]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config=CONFIGS, frames=st.lists(st.tuples(planes(), st.one_of(st.none(), CONFIGS)), min_size=1, max_size=8))
def test_any_accepted_plane_is_analysed_without_raising(
    config: MotionConfig, frames: list[tuple[np.ndarray, MotionConfig | None]]
) -> None:
    engine = MotionEngine(config)
    for frame, new_config in frames:
        if new_config is not None:  # settings changed while frames flow (sizes, masks, zones, rates)
            config = new_config
            engine.configure(config)
        for _ in range(3):  # past the first frame, so the comparison paths run too
            result = engine.analyse(frame)
            assert 0.0 <= result.score <= 1.0
            assert result.motion == bool(result.motion) and (not result.motion or result.boxes)
            height, width = frame.shape
            for x, y, w, h in result.boxes:
                assert 0 <= x < width and 0 <= y < height and 0 < w <= width - x and 0 < h <= height - y
            assert set(result.zones) <= set(config.zones)


@settings(max_examples=60, deadline=None)
@given(
    shape=st.one_of(
        st.tuples(SIDES, SIDES, st.integers(1, 4)),  # colour or planar
        st.tuples(SIDES),  # one row, flattened
        st.tuples(st.integers(0, MIN_SIDE - 1), SIDES),  # too small
        st.tuples(SIDES, st.integers(0, MIN_SIDE - 1)),
    ),
    dtype=st.sampled_from([np.uint8, np.uint16, np.int8, np.float32, np.float64, np.bool_]),
)
def test_other_arrays_are_refused_with_what_was_expected(shape: tuple[int, ...], dtype: type) -> None:
    array = np.zeros(shape, dtype)
    if array.ndim == 2 and dtype is np.uint8 and min(shape) >= MIN_SIDE:
        return  # accepted: the test above covers it
    engine = MotionEngine()
    with pytest.raises(ValueError, match=r"luma plane") as refused:
        engine.analyse(array)
    assert str(shape[0]) in str(refused.value) or "uint8" in str(refused.value)


@pytest.mark.parametrize("given_value", [None, b"\x00" * 100, "frame", [[0, 1], [2, 3]], 3.0])
def test_non_arrays_are_refused(given_value: object) -> None:
    with pytest.raises(TypeError, match="numpy array"):
        MotionEngine().analyse(given_value)  # type: ignore[arg-type]


def test_an_absurd_size_is_refused_before_any_work() -> None:
    # A hostile stream claiming 100000 x 2 pixels: refused by its shape, nothing is allocated for it.
    huge = np.lib.stride_tricks.as_strided(np.zeros(1, np.uint8), shape=(MAX_SIDE + 1, 2), strides=(0, 0))
    with pytest.raises(ValueError, match=f"{MIN_SIDE} to {MAX_SIDE}"):
        MotionEngine().analyse(huge)
