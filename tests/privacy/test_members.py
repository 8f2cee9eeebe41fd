"""Members see only the cameras an owner allowed them, on every footage route, through a running hub."""

from __future__ import annotations

import pytest

from .conftest import PrivacyHub

pytestmark = pytest.mark.timeout(120)


async def test_a_member_limited_to_one_camera_sees_nothing_of_the_other(privacy_hub) -> None:
    ph: PrivacyHub = await privacy_hub()
    owner = await ph.owner()
    async with owner.post("/api/accounts", json={"username": "kid", "role": "member", "cameras": ["garage"]}) as r:
        assert r.status == 400 and "garage" in (await r.json())["message"]
    async with owner.post("/api/accounts", json={"username": "gran", "role": "custodian", "cameras": ["yard"]}) as r:
        assert r.status == 400 and "limits a member" in (await r.json())["message"]
    async with owner.post("/api/accounts", json={"username": "kid", "role": "member", "cameras": ["porch"]}) as r:
        assert r.status == 201, await r.text()
        one_time = (await r.json())["one_time_password"]
    kid = await ph.login("kid", one_time, "the kid's long password")
    yard = next(c for c in ph.clips if c.camera == "yard")
    porch = next(c for c in ph.clips if c.camera == "porch")

    async with kid.get("/api/auth/me") as r:
        assert (await r.json())["cameras"] == ["porch"]
    async with kid.get("/api/clips?limit=500") as r:
        assert {c["camera"] for c in (await r.json())["clips"]} == {"porch"}
    async with kid.get("/api/clips?camera=yard") as r:
        assert r.status == 404
    for path in (f"/api/clips/{yard.id}", f"/api/clips/{yard.id}/video"):
        async with kid.get(path) as r:
            assert r.status == 404, path
    async with kid.get(f"/api/clips/{porch.id}/video") as r:
        assert r.status == 200
    async with owner.get("/api/clips?limit=500") as r:
        assert {c["camera"] for c in (await r.json())["clips"]} == {"yard", "porch"}

    # A script token of the member carries the same limit; lifting it shows every camera.
    async with kid.post("/api/auth/tokens", json={"name": "tablet"}) as r:
        token = (await r.json())["token"]
    tablet = ph.client(token)
    async with tablet.get(f"/api/clips/{yard.id}") as r:
        assert r.status == 404
    async with owner.post("/api/accounts/kid/cameras", json={}) as r:
        assert r.status == 200 and (await r.json())["cameras"] is None
    async with tablet.get(f"/api/clips/{yard.id}") as r:
        assert r.status == 200
    async with owner.post("/api/accounts/owner/cameras", json={"cameras": ["yard"]}) as r:
        assert r.status == 404  # owners always see every camera
