"""`/api/clips?zone=`: hostile zone names are a 400 naming the problem, never a 500 nor SQL.

A whole hub (`privacy_hub`) with real clips on two cameras; zone rows are
written into its real index file beside it, as the recorder's would be. The
zone filter never widens what a caller may see: a member limited to one
camera gets only that camera's clips, whatever zone they ask for.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from camhub.store.db import connect
from camhub.store.index import INDEX_FILE

pytestmark = pytest.mark.timeout(120)

T0 = 1_790_000_000.0
HOSTILE = [
    "x' OR '1'='1",
    "drive'); DROP TABLE clips; --",
    "%",
    "_",  # a LIKE wildcard, and not a name's first character
    "-drive",
    "../../index.db",
    "drive\x00gate",
    "drïve",
    "Ａ",  # fullwidth A: a letter to str.isalnum, not to the zone name rule
    "drive gate",
    "drive\n",
    "*",
]


async def hub_with_zones(privacy_hub: Any) -> Any:
    ph = await privacy_hub(clips=[("yard", T0), ("porch", T0 + 60), ("yard", T0 + 120)])
    db = connect(ph.data / INDEX_FILE)
    try:
        for clip, zone in [(ph.clips[0], "drive"), (ph.clips[1], "drive"), (ph.clips[2], "gate")]:
            db.execute(
                "INSERT INTO clip_zones (clip_id, zone, camera_id, start_time) "
                "SELECT id, ?, camera_id, start_time FROM clips WHERE id = ?",
                [zone, clip.id],
            )
    finally:
        db.close()
    return ph


async def get(session: Any, query: str) -> tuple[int, dict[str, Any]]:
    async with session.get(f"/api/clips?{query}") as r:
        return r.status, await r.json()


@pytest.mark.parametrize("zone", HOSTILE)
async def test_a_zone_that_cannot_be_a_name_is_a_400_naming_it(privacy_hub: Any, zone: str) -> None:
    ph = await hub_with_zones(privacy_hub)
    owner = await ph.owner()
    status, body = await get(owner, f"zone=drive&zone={quote(zone, safe='')}")
    assert status == 400, body
    assert body["error"] == "bad_request" and body["message"].startswith(f"zone={zone!r} is not a zone name")
    status, body = await get(owner, "zone=drive")  # and the index is as it was
    assert status == 200 and len(body["clips"]) == 2


async def test_too_long_or_too_many_zones_are_a_400_and_the_bounds_themselves_are_not(privacy_hub: Any) -> None:
    ph = await hub_with_zones(privacy_hub)
    owner = await ph.owner()
    for query, message in [
        ("zone=" + "d" * 64, "zone: a name of 64 characters; a zone name has at most 63"),
        ("zone=" + "d" * 6000, "zone: a name of 6000 characters"),
        ("&".join(["zone=drive"] * 17), "zone is given 17 times; at most 16 zones per query"),
        ("&".join(["zone="] * 200), "zone is given 200 times"),  # empty values count too: the work is bounded
    ]:
        status, body = await get(owner, query)
        assert status == 400 and message in body["message"], (query[:40], body)
        assert len(body["message"]) < 200  # a 6000-character name is not echoed back
    status, body = await get(owner, "zone=" + "d" * 63)
    assert (status, body["clips"]) == (200, [])
    status, body = await get(owner, "&".join(f"zone=z{n}" for n in range(15)) + "&zone=gate")
    assert status == 200 and [c["zones"] for c in body["clips"]] == [["gate"]]


async def test_the_zone_filter_never_widens_a_members_cameras(privacy_hub: Any) -> None:
    ph = await hub_with_zones(privacy_hub)
    owner = await ph.owner()
    async with owner.post("/api/accounts", json={"username": "kid", "role": "member", "cameras": ["porch"]}) as r:
        assert r.status == 201, await r.text()
        one_time = (await r.json())["one_time_password"]
    kid = await ph.login("kid", one_time, "the kid's long password")
    status, body = await get(kid, "zone=drive&zone=gate")
    assert status == 200 and [(c["camera"], c["zones"]) for c in body["clips"]] == [("porch", ["drive"])]
    status, body = await get(owner, "zone=drive&zone=gate")
    assert [c["camera"] for c in body["clips"]] == ["yard", "porch", "yard"]
    async with ph.client().get("/api/clips?zone=drive") as r:
        assert r.status == 401  # a login first, whatever the query
