"""Zones and masks: polygons in normalized coordinates, their validation and their rasterisation.

A polygon is a tuple of points (x, y), each in 0..1 of the frame's width and
height: x to the right, y down, (0, 0) the top left corner and (1, 1) the
bottom right, so one polygon fits every resolution of a camera's streams.
The polygon closes itself (its last point joins its first); a config does not
repeat the first point.

`check_polygon` is the one place that says what a polygon may be: 3 to
`MAX_POINTS` points, each a pair of finite numbers in 0..1, no point given
twice, no edge crossing or touching another (a bow-tie is refused: which side
of it is "inside" is a guess), and some area. The bound on points keeps the
all-pairs crossing test (MAX_POINTS² / 2 edge pairs, one numpy pass) cheap
whatever a config holds.

`rasterise` turns polygons into a mask for an analysis grid: pixel (row i,
column j) is inside when its centre ((j + 0.5) / width, (i + 0.5) / height)
is inside a polygon by the even-odd rule. For the simple polygons
`check_polygon` accepts, even-odd and winding agree; a centre exactly on an
edge may fall either way.

`ZoneConfig` and `Masks` are the config's types for `motion.zones` and
`motion.masks`. They live here, next to the rules they apply, and this module
imports nothing from camhub: `camhub.config` imports it, and so can the motion
engine, which rasterises what the config holds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated, Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

Point = tuple[float, float]
Polygon = tuple[Point, ...]

MAX_POINTS = 100
# Zones and masks per camera. Each one costs a rasterisation per settings change and a
# count per analysed frame; 32 is far more than a camera view has distinct areas.
MAX_POLYGONS = 32

_POINT_HINT = "expected [x, y] with x and y numbers from 0 to 1 (0, 0: top left; 1, 1: bottom right)"


class PolygonError(ValueError):
    """A polygon `check_polygon` refuses; `problem` is the message without the key, for config errors."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}" if where else problem)
        self.where = where
        self.problem = problem


def check_polygon(points: Any, where: str) -> Polygon:
    """The polygon `points` describes, as a tuple of float pairs, or PolygonError naming `where`."""
    if isinstance(points, (str, bytes)) or not isinstance(points, Sequence):
        raise PolygonError(where, f"is not a list of points; {_POINT_HINT}")
    if len(points) < 3:
        raise PolygonError(where, f"has {len(points)} point(s); a polygon needs at least 3")
    if len(points) > MAX_POINTS:
        raise PolygonError(where, f"has {len(points)} points; at most {MAX_POINTS} are allowed")
    polygon = tuple(_point(given, n, where) for n, given in enumerate(points))
    seen: dict[Point, int] = {}
    for n, point in enumerate(polygon):
        if point in seen:
            raise PolygonError(
                where,
                f"point {n} {list(point)} repeats point {seen[point]}; give each corner once "
                "(the polygon closes itself, so do not repeat the first point at the end)",
            )
        seen[point] = n
    if _on_one_line(polygon):
        raise PolygonError(where, "has no area: its points lie on one line")
    if crossing := _first_crossing(np.array(polygon, dtype=np.float64)):
        (a, b), (c, d) = crossing
        raise PolygonError(
            where,
            f"crosses itself: the edge from point {a} to point {b} meets the edge from point {c} to point {d}; "
            "list the corners in order around the area (clockwise or anticlockwise)",
        )
    if _area(polygon) == 0.0:  # not expected once the tests above pass; kept so a mask is never empty by rounding
        raise PolygonError(where, "has no area; list the corners in order around the area")
    return polygon


def _point(given: Any, n: int, where: str) -> Point:
    if isinstance(given, (str, bytes)) or not isinstance(given, Sequence) or len(given) != 2:
        raise PolygonError(where, f"point {n} is {_shown(given)}; {_POINT_HINT}")
    out = []
    for value in given:
        # bool is an int to Python, and a YAML string like "0.5" or 1e-3 (no dot: YAML 1.1 reads a string)
        # would be read as a number by a lax parser; both are refused rather than guessed at.
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise PolygonError(where, f"point {n} has {_shown(value)}, not a number; {_POINT_HINT}")
        if value != value:
            raise PolygonError(where, f"point {n} {_shown(list(given))} is not a number (NaN); {_POINT_HINT}")
        # Compare before converting: float() of a huge int raises OverflowError; NaN fails both tests.
        if not 0 <= value <= 1:
            raise PolygonError(where, f"point {n} {_shown(list(given))} is outside 0..1; {_POINT_HINT}")
        out.append(float(value) + 0.0)  # + 0.0 makes -0.0 plain 0.0
    return out[0], out[1]


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _first_crossing(corners: npt.NDArray[np.float64]) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """The first two edges that meet other than at their shared corner, as ((a, b), (c, d)), or None.

    Edge k runs from corner k to corner k + 1 (the last back to 0). Two edges
    that share no corner must not meet at all (crossing, touching, or lying on
    each other); two that share a corner must not fold back over each other.
    """
    n = len(corners)
    start, end = corners, np.roll(corners, -1, axis=0)
    i, j = np.triu_indices(n, k=1)
    adjacent = (j == i + 1) | ((i == 0) & (j == n - 1))
    p1, p2, q1, q2 = start[i], end[i], start[j], end[j]
    o1, o2 = _orientation(p1, p2, q1), _orientation(p1, p2, q2)
    o3, o4 = _orientation(q1, q2, p1), _orientation(q1, q2, p2)
    collinear = (o1 == 0) & (o2 == 0)
    # Collinear segments meet when their extents overlap on both axes (touching counts).
    overlap = np.all(
        (np.minimum(p1, p2) <= np.maximum(q1, q2)) & (np.minimum(q1, q2) <= np.maximum(p1, p2)),
        axis=1,
    )
    meets = np.where(collinear, overlap, (o1 * o2 <= 0) & (o3 * o4 <= 0))
    # Adjacent edges share one corner; they fold back when the far corners lie on the same ray from it.
    shared = np.where(j == i + 1, j, i)
    far_a = np.where(j == i + 1, i, (i + 1) % n)
    far_b = np.where(j == i + 1, (j + 1) % n, j)
    ray_a, ray_b = corners[far_a] - corners[shared], corners[far_b] - corners[shared]
    cross = ray_a[:, 0] * ray_b[:, 1] - ray_a[:, 1] * ray_b[:, 0]
    folds = (cross == 0) & (np.sum(ray_a * ray_b, axis=1) > 0)
    bad = np.flatnonzero(np.where(adjacent, folds, meets))
    if not len(bad):
        return None
    first, second = int(i[bad[0]]), int(j[bad[0]])
    return (first, (first + 1) % n), (second, (second + 1) % n)


def _orientation(
    a: npt.NDArray[np.float64], b: npt.NDArray[np.float64], c: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Sign of the turn a -> b -> c per row: 1 anticlockwise (y up), -1 clockwise, 0 on one line."""
    return np.sign((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0]))


def _on_one_line(polygon: Polygon) -> bool:
    (x0, y0), (x1, y1) = polygon[0], polygon[1]  # two different points: repeats are refused first
    return all((x1 - x0) * (y - y0) == (y1 - y0) * (x - x0) for x, y in polygon[2:])


def _area(polygon: Polygon) -> float:
    """Twice the signed area (shoelace); only its being zero matters."""
    return math.fsum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in zip(polygon, polygon[1:] + polygon[:1], strict=True))


def _config_polygon(value: Any) -> Polygon:
    return check_polygon(value, where="")  # pydantic's error location names the key


def at_most_polygons(value: Any) -> Any:
    """Refuse an over-long list or mapping before pydantic reads every item (and reports each one)."""
    if isinstance(value, (list, tuple, dict)) and len(value) > MAX_POLYGONS:
        raise ValueError(f"has {len(value)} entries; at most {MAX_POLYGONS} are allowed")
    return value


ConfigPolygon = Annotated[Polygon, BeforeValidator(_config_polygon)]
Masks = Annotated[tuple[ConfigPolygon, ...], BeforeValidator(at_most_polygons)]


class ZoneConfig(BaseModel):
    """A named area of a camera's view where motion counts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    points: ConfigPolygon = Field(description="corners [x, y] in 0..1 of the frame, in order around the area")
    min_area: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description="fraction of the frame that must change inside the zone for it to count; none: motion.min_area",
    )


def rasterise(polygons: Sequence[Polygon], width: int, height: int) -> npt.NDArray[np.uint8]:
    """A (height, width) uint8 mask: 1 where a pixel's centre is inside any of `polygons`, else 0.

    Per polygon, each edge is cut with every row of pixel centres it spans
    (half-open in y, so a corner on a row counts once); a pixel is inside when
    an odd number of those cuts lie left of its centre. The cuts are counted
    with one bincount and a running sum along each row, so the cost is
    edges x rows plus one pass over the grid, not edges x pixels.
    """
    if width < 1 or height < 1:
        raise ValueError(f"a mask needs a width and height of at least 1, got {width}x{height}")
    centres_x = (np.arange(width) + 0.5) / width
    centres_y = (np.arange(height) + 0.5) / height
    mask = np.zeros((height, width), dtype=bool)
    for polygon in polygons:
        corners = np.asarray(polygon, dtype=np.float64)
        x1, y1 = corners[:, 0:1], corners[:, 1:2]
        x2, y2 = np.roll(corners[:, 0], -1)[:, None], np.roll(corners[:, 1], -1)[:, None]
        spans = (y1 > centres_y) != (y2 > centres_y)  # (edges, rows)
        edge, row = np.nonzero(spans)
        y = centres_y[row]
        cut = x1[edge, 0] + (y - y1[edge, 0]) * (x2[edge, 0] - x1[edge, 0]) / (y2[edge, 0] - y1[edge, 0])
        # The first column whose centre lies right of the cut; width means none does.
        first_right = np.searchsorted(centres_x, cut, side="right")
        toggles = np.bincount(row * (width + 1) + first_right, minlength=height * (width + 1))
        parity = np.cumsum(toggles.reshape(height, width + 1)[:, :width], axis=1) & 1
        mask |= parity.astype(bool)
    return mask.astype(np.uint8)
