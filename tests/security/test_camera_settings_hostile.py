"""PATCH /api/cameras/{name}/settings with hostile bodies: a 400 or 413 naming the problem, never a 500,
and nothing logged, kept or applied.

A running hub with a real camera (the HTTP simulator's stream), an owner with
a fresh password. Each case is a body an attacker (or a broken client) could
send: oversized, deeply nested, numbers that overflow, polygons at and past
every cap, names that are paths or markup, types that a lax parser would
coerce. The camera keeps running with the config's settings throughout.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from camhub.motion.watcher import CameraMotion
from camhub.sim.http_server import SimHttpServer

from ..conftest import HOUSEHOLD_PASSWORD, HouseholdLogin
from ..hubs import detecting_camera, hub_config, running

pytestmark = pytest.mark.timeout(180)

SQUARE = [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9], [0.1, 0.9]]
MANY_POINTS = [[0.5 + 0.4 * (i % 2), i / 20000] for i in range(20000)]

HOSTILE: list[tuple[str, Any, str]] = [
    ("a number as text", {"post_roll": "5"}, "post_roll: expected a number"),
    ("a bool as a number", {"min_area": True}, "min_area: expected a number"),
    ("a huge integer", {"retain_days": 10**39}, "retain_days: 1e+39 is out of range"),
    ("a huge float", {"analysis_fps": 1.7e308}, "analysis_fps: 1.7e+308 is out of range"),
    ("a tiny negative roll", {"pre_roll": -1e-300}, "pre_roll: -1e-300 is out of range"),
    ("a list for a switch", {"detect": [True]}, "detect: expected on or off"),
    ("null for a number", {"motion_threshold": None}, "motion_threshold: expected a number"),
    ("a path as a zone name", {"zones": {"../../etc": {"points": SQUARE}}}, "zones: the zone name"),
    ("markup as a zone name", {"zones": {"<img src=x>": {"points": SQUARE}}}, "zones: the zone name"),
    ("a prototype as a zone name", {"zones": {"__proto__": {"points": SQUARE}}}, "zones: the zone name"),
    ("a NUL in a zone name", {"zones": {"a\x00b": {"points": SQUARE}}}, "zones: the zone name"),
    ("an over-long zone name", {"zones": {"a" * 64: {"points": SQUARE}}}, "zones: the zone name"),
    ("33 zones", {"zones": {f"z{i}": {"points": SQUARE} for i in range(33)}}, "zones: 33 zones; at most 32"),
    ("20,000 points", {"masks": [MANY_POINTS]}, "masks[0]: has 20000 points; at most 100"),
    ("points as text", {"masks": [[["0.1", "0.1"], [0.9, 0.1], [0.9, 0.9]]]}, "masks[0]: point 0 has '0.1'"),
    ("bool coordinates", {"masks": [[[True, False], [0.9, 0.1], [0.9, 0.9]]]}, "masks[0]: point 0 has True"),
    ("a point of three numbers", {"masks": [[[0.1, 0.1, 0.1], [0.9, 0.1], [0.9, 0.9]]]}, "masks[0]: point 0 is"),
    ("a point outside the frame", {"masks": [[[-0.1, 0.1], [0.9, 0.1], [0.9, 0.9]]]}, "masks[0]: point 0"),
    ("a repeated point", {"masks": [[[0.1, 0.1], [0.9, 0.1], [0.1, 0.1], [0.9, 0.9]]]}, "masks[0]: point 2"),
    ("a bow-tie", {"masks": [[[0, 0], [1, 1], [1, 0], [0, 1]]]}, "masks[0]: crosses itself"),
    ("a text polygon", {"masks": ["0,0 1,0 1,1"]}, "masks[0]: is not a list of points"),
    ("an object for the masks", {"masks": {"a": SQUARE}}, "masks: expected a list"),
    ("a zone without points", {"zones": {"drive": {"min_area": 0.1}}}, "zones.drive: expected"),
    ("an unknown key", {"camera": "porch"}, "'camera' is not a camera setting"),
    ("an unknown key beside good ones", {"post_roll": 2, "config": {}}, "'config' is not a camera setting"),
]


async def test_hostile_setting_bodies_are_refused_naming_the_problem_and_change_nothing(
    http_sim: SimHttpServer, tmp_path: Path, household_login: HouseholdLogin
) -> None:
    data = tmp_path / "data"
    async with running(hub_config(data, {"yard": detecting_camera(http_sim)})) as hub:
        http, _ = await household_login(hub.url, hub.initial_password)
        async with http:
            async with http.post(f"{hub.url}/api/auth/reauth", json={"password": HOUSEHOLD_PASSWORD}) as r:
                assert r.status == 200
            assert hub.audit is not None
            size = hub.audit.size
            url = f"{hub.url}/api/cameras/yard/settings"
            for what, body, message in HOSTILE:
                async with http.patch(url, json=body) as r:
                    answer = await r.json()
                assert r.status == 400, (what, answer)
                assert answer["error"] == "setting_refused", (what, answer)
                assert answer["message"].startswith(message), (what, answer["message"])
                assert len(answer["message"]) < 400, (what, answer["message"])  # the body is not echoed

            raw_bodies: list[tuple[str, bytes, str, int, str]] = [
                (
                    "deep nesting",
                    b'{"masks":' + b"[" * 5000 + b"]" * 5000 + b"}",
                    "application/json",
                    400,
                    "invalid_body",
                ),
                ("NaN", b'{"post_roll": NaN}', "application/json", 400, "invalid_body"),
                ("Infinity", b'{"min_area": Infinity}', "application/json", 400, "invalid_body"),
                (
                    "a 1,000-digit number",
                    b'{"post_roll": 1' + b"0" * 1000 + b"}",
                    "application/json",
                    400,
                    "invalid_body",
                ),
                ("a key twice", b'{"post_roll": 1, "post_roll": 2}', "application/json", 400, "invalid_body"),
                (
                    "a lone surrogate",
                    b'{"zones": {"\\ud800": {"points": []}}}',
                    "application/json",
                    400,
                    "invalid_body",
                ),
                ("a form", b"post_roll=1", "application/x-www-form-urlencoded", 400, "invalid_body"),
                ("not UTF-8", b'{"zones": {"\xff": 1}}', "application/json", 400, "invalid_body"),
                ("a list", b"[]", "application/json", 400, "invalid_body"),
                ("over 512 KiB", b'{"masks": [' + b"[0.5, 0.5]," * 60000 + b"[0, 0]]}", "application/json", 413, ""),
            ]
            for what, raw, kind, status, key in raw_bodies:
                async with http.patch(url, data=raw, headers={"Content-Type": kind}) as r:
                    answer = await r.json()
                assert r.status == status, (what, answer)
                assert not key or answer["error"] == key, (what, answer)

            # Nothing was logged, kept or applied; the camera still runs with the config's settings.
            assert hub.audit.size == size
            assert not (data / "camera-settings.json").exists()
            async with http.get(url) as r:
                assert (await r.json())["kept"] == []
            watcher = hub.cameras["yard"].motion
            assert isinstance(watcher, CameraMotion)
            assert watcher.engine.config.masks == () and watcher.engine.config.zones == {}

            # At the caps, a body is taken: 32 zones of 100 corners each.
            turn = [2 * math.pi * i / 100 for i in range(100)]
            ring = [[round(0.5 + 0.4 * math.cos(a), 6), round(0.5 + 0.4 * math.sin(a), 6)] for a in turn]
            zones = {f"z{i}": {"points": ring} for i in range(32)}
            async with http.patch(url, json={"zones": zones, "masks": [ring] * 32}) as r:
                assert r.status == 200, await r.text()
            stored = json.loads((data / "camera-settings.json").read_text())
            assert len(stored["cameras"]["yard"]["zones"]["value"]) == 32
