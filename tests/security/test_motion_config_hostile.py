"""Hostile motion zones and masks: each is a config error naming the key, quickly, never a crash or a hang.

A config file is written by the owner, but it may be edited by a script, pasted
from a forum or produced by a future settings API from a browser's input.
Whatever it holds, the hub must stop with one clear line per mistake: no
traceback, no error message that echoes a megabyte, and no validation whose
cost grows without bound (point and polygon counts are capped before anything
is read item by item).
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import pytest

from camhub.config import load_config, parse_config
from camhub.errors import ConfigError

# Generous for a loaded 2-core machine; the checks below take milliseconds.
DEADLINE_S = 5.0
TRIANGLE = [[0.1, 0.1], [0.9, 0.1], [0.5, 0.9]]


def camera(motion: dict[str, Any]) -> dict[str, Any]:
    return {"cameras": {"porch": {"inputs": [{"url": "porch.mp4"}], "motion": motion}}}


def refused(raw: Any, source: str = "camhub.yaml") -> str:
    started = time.monotonic()
    with pytest.raises(ConfigError) as info:
        parse_config(raw, source)
    assert time.monotonic() - started < DEADLINE_S
    message = str(info.value)
    assert "Traceback" not in message
    assert len(message) < 2000, message[:300]
    return message


def refused_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "camhub.yaml"
    path.write_text(text)
    started = time.monotonic()
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert time.monotonic() - started < DEADLINE_S
    message = str(info.value)
    assert message.startswith(str(path)) and "Traceback" not in message
    assert len(message) < 2000, message[:300]
    return message


def test_a_million_points_is_refused_by_count() -> None:
    message = refused(camera({"zones": {"drive": {"points": [[0.5, 0.5]] * 1_000_000}}}))
    assert "cameras.porch.motion.zones.drive.points has 1000000 points; at most 100 are allowed" in message


def test_a_million_masks_or_zones_is_refused_by_count() -> None:
    assert "cameras.porch.motion.masks has 1000000 entries; at most 32" in refused(camera({"masks": ["x"] * 1_000_000}))
    zones = {f"z{n}": {"points": "x"} for n in range(100_000)}
    assert "cameras.porch.motion.zones has 100000 entries; at most 32" in refused(camera({"zones": zones}))


def test_thirty_two_masks_of_a_hundred_points_are_checked_quickly() -> None:
    circle = [[0.5 + 0.4 * math.cos(k * math.pi / 50), 0.5 + 0.4 * math.sin(k * math.pi / 50)] for k in range(100)]
    started = time.monotonic()
    config = parse_config(camera({"masks": [circle] * 32, "zones": {f"z{n}": {"points": circle} for n in range(32)}}))
    assert time.monotonic() - started < DEADLINE_S
    assert len(config.cameras["porch"].motion.masks) == 32


def test_yaml_aliases_that_expand_to_billions_of_points_are_refused_by_count(tmp_path: Path) -> None:
    # Each anchor refers to the one before ten times: a8 stands for 10^8 points, held as shared lists.
    anchors = ["  - &a0 [0.5, 0.5]"] + [f"  - &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]" for n in range(1, 9)]
    big = ", ".join(["*a8"] * 200)
    text = "\n".join(
        [
            "anchors:",
            *anchors,
            "cameras:",
            "  porch:",
            "    inputs: [{url: porch.mp4}]",
            "    motion:",
            f"      masks: [&big [{big}]]",
            "      zones: {x: {points: *a8}}",
            "",
        ]
    )
    message = refused_file(tmp_path, text)
    assert "cameras.porch.motion.masks[0] has 200 points; at most 100 are allowed" in message
    assert "cameras.porch.motion.zones.x.points point 0 is [[[[...], [...]" in message
    assert "anchors is not a known key" in message  # named, its value not shown


def test_nesting_deeper_than_the_yaml_reader_can_follow_is_a_config_error(tmp_path: Path) -> None:
    text = "cameras:\n  porch:\n    inputs: [{url: porch.mp4}]\n    motion:\n      masks: "
    message = refused_file(tmp_path, text + "[" * 5000 + "]" * 5000 + "\n")
    assert "nested too deeply" in message


@pytest.mark.parametrize(
    ("motion", "key", "said"),
    [
        ({"masks": "abc"}, "masks", "Input should be a valid tuple"),
        ({"masks": {"a": 1}}, "masks", "Input should be a valid tuple"),
        ({"masks": [None]}, "masks[0]", "is not a list of points"),
        ({"masks": [[[[[0]]], [0, 0], [1, 1]]]}, "masks[0]", "point 0 is [[[0]]]"),
        ({"masks": [[[0, 0], None, [1, 1]]]}, "masks[0]", "point 1 is None"),
        ({"zones": [1, 2]}, "zones", "Input should be a valid dictionary"),
        ({"zones": "x"}, "zones", "Input should be a valid dictionary"),
        ({"zones": {"x": None}}, "zones.x", "Input should be a valid dictionary"),
        ({"zones": {"x": {"points": {"x": 1}}}}, "zones.x.points", "is not a list of points"),
        ({"zones": {"x": {"points": TRIANGLE, "min_area": "a lot"}}}, "zones.x.min_area", "valid number"),
        ({"zones": {"x": {"points": TRIANGLE, "min_area": [0.1]}}}, "zones.x.min_area", "valid number"),
        ({"zones": {"x": {"points": TRIANGLE, "min_area": 1e308}}}, "zones.x.min_area", "less than or equal to 1"),
        ({"zones": {1: {"points": TRIANGLE}}}, "zones[1].[key]", "valid string"),
    ],
)
def test_garbage_in_place_of_zones_and_masks_is_named_by_key(motion: dict[str, Any], key: str, said: str) -> None:
    message = refused(camera(motion))
    assert f"camhub.yaml: cameras.porch.motion.{key} " in message
    assert said in message


@pytest.mark.parametrize(
    ("point", "said"),
    [
        (["0.5", "0.5"], "has '0.5', not a number"),
        ([0.5, "1e-3"], "has '1e-3', not a number"),  # YAML 1.1 reads 1e-3 (no dot) as a string
        ([1e308, 0.5], "[1e+308, 0.5] is outside 0..1"),
        ([0.5, -1e308], "[0.5, -1e+308] is outside 0..1"),
        ([10**400, 0.5], "is outside 0..1"),  # float() of it would overflow
        ([math.inf, 0.5], "[inf, 0.5] is outside 0..1"),
        ([math.nan, 0.5], "is not a number (NaN)"),
        ([False, 0.5], "has False, not a number"),
        ([{"x": 1}, 0.5], "has {'x': 1}, not a number"),
    ],
)
def test_a_hostile_coordinate_is_named_with_its_point(point: list[Any], said: str) -> None:
    message = refused(camera({"zones": {"x": {"points": [[0.1, 0.1], [0.9, 0.1], point]}}}))
    assert "cameras.porch.motion.zones.x.points point 2" in message
    assert said in message


def test_a_long_string_is_not_echoed_whole() -> None:
    message = refused(camera({"zones": {"x": {"points": [[0.1, 0.1], [0.9, 0.1], ["9" * 100_000, 0.5]]}}}))
    assert "not a number" in message and "9" * 100 not in message


def test_negative_zero_is_zero() -> None:
    motion = parse_config(camera({"masks": [[[-0.0, -0.0], [1, -0.0], [1, 1]]]})).cameras["porch"].motion
    assert all(math.copysign(1.0, v) == 1.0 for point in motion.masks[0] for v in point)


@pytest.mark.parametrize(
    "name",
    [
        "a/b",
        "..",
        "../../etc/passwd",
        "",
        "zöne",
        "drive\u202eway",  # a right-to-left override
        "x'; DROP TABLE clips;--",
        'x" OR "1"="1',
        "a%2Fb",
        "a&camera=back",
        "a\x00b",
        "a" * 10_000,
    ],
)
def test_a_hostile_zone_name_is_refused_by_the_name_rule(name: str) -> None:
    message = refused(camera({"zones": {name: {"points": TRIANGLE}}}))
    assert "is not a valid zone name; expected lower-case letters, digits, '_' or '-'" in message
    assert ".[key] " in message


def test_a_zone_name_that_fits_the_rule_is_kept_as_given() -> None:
    config = parse_config(camera({"zones": {"key": {"points": TRIANGLE}, "0-drive_way": {"points": TRIANGLE}}}))
    assert set(config.cameras["porch"].motion.zones) == {"key", "0-drive_way"}


@pytest.mark.parametrize(
    ("value", "said"),
    [
        (-1, "greater than or equal to 0 (got -1)"),
        (3, "less than or equal to 2 (got 3)"),
        (math.nan, "less than or equal to 2 (got nan)"),
        (math.inf, "less than or equal to 2 (got inf)"),
        ("1e999", "less than or equal to 2"),
        ("soon", "a valid number"),
    ],
)
def test_a_hostile_batch_is_named_with_its_range(value: Any, said: str) -> None:
    """motion.batch paces a reader thread's sleeps: a negative, endless or NaN one must never reach it."""
    message = refused(camera({"batch": value}))
    assert "cameras.porch.motion.batch" in message and said in message, message
