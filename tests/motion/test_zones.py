"""Zones and masks: which polygons the config accepts, the errors it gives, and the pixels a polygon masks.

The property tests check `rasterise` against an independent per-pixel test
written here (the winding number of the polygon around the pixel centre, in
plain Python), on polygons generated so that they are simple: star-shaped
polygons (corners sorted by angle around a centre) and rectilinear shapes on
a half-pixel grid, whose edges and corners can sit exactly on pixel centres.
A pixel whose centre lies within EDGE_EPSILON of an edge is skipped: on the
boundary, "inside" is a matter of rounding and either answer is right.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from camhub.config import MotionConfig, load_config
from camhub.errors import ConfigError
from camhub.motion.zones import MAX_POINTS, Polygon, PolygonError, check_polygon, rasterise

EDGE_EPSILON = 1e-9
SQUARE = [[0.25, 0.25], [0.75, 0.25], [0.75, 0.75], [0.25, 0.75]]
BOW_TIE = [[0.1, 0.1], [0.9, 0.9], [0.9, 0.1], [0.1, 0.9]]
KEY = "cameras.porch.motion.zones.driveway.points"

CONFIG = """
cameras:
  porch:
    inputs: [{url: porch.mp4}]
    motion:
      min_area: 0.001
      zones:
        driveway:
          points: [[0.1, 0.5], [0.6, 0.5], [0.6, 1], [0.1, 1]]
          min_area: 0.002
        door-step_2:
          points: [[0.7, 0.2], [0.9, 0.2], [0.8, 0.6]]
      masks:
        - [[0, 0], [1, 0], [1, 0.1], [0, 0.1]]
"""


def refusal(points: Any, where: str = KEY) -> str:
    with pytest.raises(PolygonError) as info:
        check_polygon(points, where)
    message = str(info.value)
    assert message.startswith(f"{where}: "), message
    return message


def config_error(tmp_path: Path, text: str) -> str:
    path = tmp_path / "camhub.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return str(info.value)


# --- what check_polygon refuses, and how it says so


def test_a_valid_polygon_comes_back_as_float_pairs() -> None:
    assert check_polygon([[0, 0], [1, 0], [0.5, 1]], KEY) == ((0.0, 0.0), (1.0, 0.0), (0.5, 1.0))


@pytest.mark.parametrize("points", [[], [[0, 0]], [[0, 0], [1, 1]]])
def test_fewer_than_three_points_is_refused(points: Any) -> None:
    assert f"has {len(points)} point(s); a polygon needs at least 3" in refusal(points)


@pytest.mark.parametrize(("point", "shown"), [([1.5, 0.5], "[1.5, 0.5]"), ([0.5, -0.01], "[0.5, -0.01]")])
def test_a_point_outside_the_frame_is_named_by_index_and_value(point: list[float], shown: str) -> None:
    message = refusal([[0, 0], [1, 0], point])
    assert f"point 2 {shown} is outside 0..1" in message
    assert "numbers from 0 to 1" in message


def test_a_bow_tie_is_refused_naming_the_edges_that_cross() -> None:
    message = refusal(BOW_TIE)
    assert "crosses itself: the edge from point 0 to point 1 meets the edge from point 2 to point 3" in message
    assert "in order around the area" in message


def test_nan_and_infinity_are_refused() -> None:
    assert "point 1 [nan, 0.5] is not a number (NaN)" in refusal([[0, 0], [math.nan, 0.5], [1, 1]])
    assert "point 1 [inf, 0.5] is outside 0..1" in refusal([[0, 0], [math.inf, 0.5], [1, 1]])
    assert "point 0 [0, -inf] is outside 0..1" in refusal([[0, -math.inf], [1, 0], [1, 1]])


def test_at_most_max_points() -> None:
    circle = [
        (0.5 + 0.4 * math.cos(2 * math.pi * k / MAX_POINTS), 0.5 + 0.4 * math.sin(2 * math.pi * k / MAX_POINTS))
        for k in range(MAX_POINTS)
    ]
    assert len(check_polygon(circle, KEY)) == MAX_POINTS
    assert f"has 101 points; at most {MAX_POINTS} are allowed" in refusal([*circle, (0.5, 0.95)])


def test_a_repeated_point_is_refused_even_when_it_closes_the_polygon() -> None:
    message = refusal([*SQUARE, SQUARE[0]])
    assert "point 4 [0.25, 0.25] repeats point 0" in message
    assert "do not repeat the first point" in message


def test_points_on_one_line_have_no_area() -> None:
    assert "has no area: its points lie on one line" in refusal([[0, 0], [0.5, 0.5], [1, 1]])


@pytest.mark.parametrize(
    "points",
    [
        [[0, 0], [1, 0], [0.5, 0], [0.5, 1]],  # the second edge folds back over the first
        [[0, 0], [1, 0], [1, 1], [0.5, 0], [0, 1]],  # a corner touches an edge (T)
        [[0, 0], [0.6, 0], [0.6, 1], [0.3, 1], [0.3, 0], [0.1, 0], [0.1, 1]],  # two edges overlap on y=0
    ],
)
def test_touching_and_overlapping_edges_are_refused(points: Any) -> None:
    assert "crosses itself" in refusal(points)


@pytest.mark.parametrize(
    ("points", "said"),
    [
        ("0,0 1,0 1,1", "is not a list of points"),
        ({"x": 0, "y": 0}, "is not a list of points"),
        ([[0, 0], [1, 0], [1, 1, 1]], "point 2 is [1, 1, 1]"),
        ([[0, 0], [1, 0], 0.5], "point 2 is 0.5"),
        ([[0, 0], ["0.5", 1], [1, 1]], "point 1 has '0.5', not a number"),
        ([[0, 0], [True, 1], [1, 1]], "point 1 has True, not a number"),
        ([[0, 0], [None, 1], [1, 1]], "point 1 has None, not a number"),
    ],
)
def test_what_is_not_a_point_is_refused(points: Any, said: str) -> None:
    assert said in refusal(points)


def test_the_key_is_left_out_when_not_given() -> None:
    with pytest.raises(PolygonError) as info:
        check_polygon(BOW_TIE, "")
    assert str(info.value).startswith("crosses itself")
    assert info.value.problem == str(info.value)


# --- the config


def test_zones_and_masks_default_to_none() -> None:
    assert MotionConfig().zones == {}
    assert MotionConfig().masks == ()


def test_zones_and_masks_round_trip_through_the_yaml_loader(tmp_path: Path) -> None:
    path = tmp_path / "camhub.yaml"
    path.write_text(CONFIG)
    motion = load_config(path).cameras["porch"].motion
    assert set(motion.zones) == {"driveway", "door-step_2"}
    assert motion.zones["driveway"].points == ((0.1, 0.5), (0.6, 0.5), (0.6, 1.0), (0.1, 1.0))
    assert motion.zones["driveway"].min_area == 0.002
    assert motion.zones["door-step_2"].min_area is None
    assert motion.masks == (((0.0, 0.0), (1.0, 0.0), (1.0, 0.1), (0.0, 0.1)),)
    # What the hub would write back reads in as the same settings.
    again = tmp_path / "again.yaml"
    dumped = {"cameras": {"porch": {"inputs": [{"url": "porch.mp4"}], "motion": motion.model_dump(mode="json")}}}
    again.write_text(yaml.safe_dump(dumped))
    assert load_config(again).cameras["porch"].motion == motion


def test_a_bad_zone_polygon_is_a_config_error_naming_the_file_and_key(tmp_path: Path) -> None:
    message = config_error(tmp_path, CONFIG.replace("[0.6, 1], [0.1, 1]", "[0.1, 1], [0.6, 1]"))
    assert f"{tmp_path / 'camhub.yaml'}: {KEY} crosses itself" in message
    message = config_error(tmp_path, CONFIG.replace("[0.8, 0.6]", "[0.8, 1.6]"))
    assert "cameras.porch.motion.zones.door-step_2.points point 2 [0.8, 1.6] is outside 0..1" in message


def test_a_bad_mask_is_named_by_its_index(tmp_path: Path) -> None:
    message = config_error(tmp_path, CONFIG.replace("[0, 0.1]]", "[0, 0.1]]\n        - [[0, 0], [1, 1]]"))
    assert "cameras.porch.motion.masks[1] has 2 point(s); a polygon needs at least 3" in message


@pytest.mark.parametrize("name", ["Driveway", "drive way", "drive/way", "..", "_drive", "a" * 64, "zöne"])
def test_a_zone_name_follows_the_camera_name_rule(tmp_path: Path, name: str) -> None:
    message = config_error(tmp_path, CONFIG.replace("door-step_2:", f"{name!r}:"))
    assert f"cameras.porch.motion.zones.{name}.[key] is not a valid zone name" in message
    assert f"(got {name!r})" in message


def test_a_zone_needs_points_and_knows_its_keys(tmp_path: Path) -> None:
    message = config_error(tmp_path, CONFIG.replace("points: [[0.7", "corners: [[0.7"))
    assert "cameras.porch.motion.zones.door-step_2.points is required but missing" in message
    assert "cameras.porch.motion.zones.door-step_2.corners is not a known key" in message
    assert "valid keys here: points, min_area" in message


@pytest.mark.parametrize("value", ["0", "1.5", "-0.1"])
def test_a_zone_min_area_is_a_fraction_of_the_frame(tmp_path: Path, value: str) -> None:
    message = config_error(tmp_path, CONFIG.replace("min_area: 0.002", f"min_area: {value}"))
    assert "cameras.porch.motion.zones.driveway.min_area" in message


# --- rasterise: fixed cases


def test_a_square_covers_the_pixels_whose_centres_it_holds() -> None:
    mask = rasterise([check_polygon(SQUARE, "s")], 8, 4)
    assert mask.dtype == np.uint8 and mask.shape == (4, 8)
    expected = np.zeros((4, 8), dtype=np.uint8)
    expected[1:3, 2:6] = 1
    assert np.array_equal(mask, expected)


def test_the_whole_frame_and_no_polygon() -> None:
    whole = check_polygon([[0, 0], [1, 0], [1, 1], [0, 1]], "w")
    assert rasterise([whole], 5, 3).all()
    assert not rasterise([], 5, 3).any()


def test_polygons_are_joined_where_they_overlap() -> None:
    left = check_polygon([[0, 0], [0.6, 0], [0.6, 1], [0, 1]], "l")
    right = check_polygon([[0.4, 0], [1, 0], [1, 1], [0.4, 1]], "r")
    assert rasterise([left, right], 10, 2).all()


def test_a_grid_of_no_pixels_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        rasterise([], 0, 10)


def test_rasterising_100_points_at_320x180_takes_a_few_milliseconds() -> None:
    wavy = tuple(
        (0.5 + r * math.cos(a), 0.5 + r * math.sin(a))
        for a, r in ((2 * math.pi * k / 100, 0.3 + 0.15 * math.sin(14 * math.pi * k / 100)) for k in range(100))
    )
    polygon = check_polygon(wavy, "w")
    took = []
    for _ in range(5):
        started = time.perf_counter()
        rasterise([polygon], 320, 180)
        took.append(time.perf_counter() - started)
    # About 1 ms here; the bound is loose for a loaded machine, tight enough to catch a per-pixel loop.
    assert min(took) < 0.02, took


# --- rasterise: properties against an independent test


def winding(polygon: Polygon, x: float, y: float) -> int:
    """How many times the polygon winds around (x, y) (Sunday's crossing-direction count)."""
    total = 0
    for (x1, y1), (x2, y2) in zip(polygon, polygon[1:] + polygon[:1], strict=True):
        side = (x2 - x1) * (y - y1) - (x - x1) * (y2 - y1)
        if y1 <= y < y2 and side > 0:
            total += 1
        elif y2 <= y < y1 and side < 0:
            total -= 1
    return total


def near_an_edge(polygon: Polygon, x: float, y: float) -> bool:
    for (x1, y1), (x2, y2) in zip(polygon, polygon[1:] + polygon[:1], strict=True):
        dx, dy = x2 - x1, y2 - y1
        t = min(1.0, max(0.0, ((x - x1) * dx + (y - y1) * dy) / (dx * dx + dy * dy)))
        if math.hypot(x - x1 - t * dx, y - y1 - t * dy) < EDGE_EPSILON:
            return True
    return False


@st.composite
def star_polygons(draw: st.DrawFn) -> Polygon:
    """Corners sorted by angle around a centre, no two angles closer than ~1/(2n) turn: always simple."""
    n = draw(st.integers(3, 12))
    cx, cy = draw(st.floats(0.15, 0.85)), draw(st.floats(0.15, 0.85))
    reach = min(cx, cy, 1 - cx, 1 - cy)
    # Gap weights in 1..1.8 keep every gap under half a turn, so the centre is inside and each edge short.
    gaps = draw(st.lists(st.floats(1.0, 1.8), min_size=n, max_size=n))
    start = draw(st.floats(0, 2 * math.pi))
    radii = draw(st.lists(st.floats(0.2 * reach, reach), min_size=n, max_size=n))
    angles = start + 2 * math.pi * np.cumsum([0.0, *gaps[:-1]]) / sum(gaps)
    return tuple((cx + r * math.cos(a), cy + r * math.sin(a)) for a, r in zip(angles, radii, strict=True))


@st.composite
def grid_polygons(draw: st.DrawFn, width: int, height: int) -> Polygon:
    """A rectangle or an L on the half-pixel grid: edges and corners may sit exactly on pixel centres."""
    xs = sorted(draw(st.lists(st.integers(0, 2 * width), min_size=3, max_size=3, unique=True)))
    ys = sorted(draw(st.lists(st.integers(0, 2 * height), min_size=3, max_size=3, unique=True)))
    (x0, x1, x2), (y0, y1, y2) = [x / (2 * width) for x in xs], [y / (2 * height) for y in ys]
    if draw(st.booleans()):
        return ((x0, y0), (x2, y0), (x2, y2), (x0, y2))
    return ((x0, y0), (x2, y0), (x2, y1), (x1, y1), (x1, y2), (x0, y2))


@st.composite
def scenes(draw: st.DrawFn) -> tuple[list[Polygon], int, int]:
    width, height = draw(st.integers(1, 40)), draw(st.integers(1, 30))
    polygons = draw(st.lists(st.one_of(star_polygons(), grid_polygons(width, height)), max_size=3))
    return polygons, width, height


@settings(max_examples=150, deadline=None)
@given(scenes())
def test_a_valid_polygon_set_masks_exactly_the_pixels_inside_it(scene: tuple[list[Polygon], int, int]) -> None:
    polygons, width, height = scene
    checked = [check_polygon(p, f"masks[{n}]") for n, p in enumerate(polygons)]
    mask = rasterise(checked, width, height)
    assert mask.shape == (height, width) and mask.dtype == np.uint8
    for i in range(height):
        for j in range(width):
            x, y = (j + 0.5) / width, (i + 0.5) / height
            if any(near_an_edge(p, x, y) for p in checked):
                continue
            inside = any(winding(p, x, y) != 0 for p in checked)
            assert mask[i, j] == inside, (i, j, x, y)


@settings(max_examples=150, deadline=None)
@given(star_polygons())
def test_generated_simple_polygons_are_accepted_as_given(polygon: Polygon) -> None:
    assert check_polygon([list(p) for p in polygon], "p") == polygon


@st.composite
def convex_polygons(draw: st.DrawFn, min_points: int) -> Polygon:
    """Corners on a circle, angles well apart: convex, so any two chords with interleaved ends cross."""
    n = draw(st.integers(min_points, 12))
    cx, cy = draw(st.floats(0.3, 0.7)), draw(st.floats(0.3, 0.7))
    radius = draw(st.floats(0.1, min(cx, cy, 1 - cx, 1 - cy)))
    start = draw(st.floats(0, 2 * math.pi))
    return tuple(
        (cx + radius * math.cos(start + 2 * math.pi * k / n), cy + radius * math.sin(start + 2 * math.pi * k / n))
        for k in range(n)
    )


@settings(max_examples=100, deadline=None)
@given(convex_polygons(4), st.data())
def test_two_corners_swapped_make_a_crossing_that_is_refused(polygon: Polygon, data: st.DataObject) -> None:
    k = data.draw(st.integers(0, len(polygon) - 1))
    corners = list(polygon)
    a, b = (k + 1) % len(corners), (k + 2) % len(corners)
    corners[a], corners[b] = corners[b], corners[a]
    assert "crosses itself" in refusal(corners, "p")


@settings(max_examples=50, deadline=None)
@given(convex_polygons(5))
def test_a_star_drawn_through_every_other_corner_is_refused(polygon: Polygon) -> None:
    n = len(polygon)
    step = 2 if n % 2 else 1  # with an even count, stepping by 2 closes early: walk 0, 2, 4, ..., 1, 3, ...
    order = [(k * step) % n for k in range(n)] if step == 2 else [*range(0, n, 2), *range(1, n, 2)]
    assert "crosses itself" in refusal([polygon[k] for k in order], "p")


@settings(max_examples=50, deadline=None)
@given(star_polygons(), st.data())
def test_a_corner_given_twice_is_refused(polygon: Polygon, data: st.DataObject) -> None:
    n = len(polygon)
    copied = data.draw(st.integers(0, n - 1))
    at = data.draw(st.integers(0, n))
    corners = list(polygon)
    corners.insert(at, polygon[copied])
    assert "repeats point" in refusal(corners, "p")
