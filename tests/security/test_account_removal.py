"""Hostile input to the accounts routes the dashboard added: removing an account (`DELETE
/api/accounts/{username}`) from another origin, with names that are not user names, or aimed at the
last way into the house (an owner); and listing accounts as anyone but an owner."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

pytestmark = pytest.mark.timeout(120)

PASSWORD = "the kid's own long password"


async def test_another_origin_cannot_remove_an_account_with_the_owners_cookie(privacy_hub: Any) -> None:
    ph = await privacy_hub(clips=[])
    owner = await ph.owner()
    async with owner.post("/api/accounts", json={"username": "kid", "role": "member"}) as r:
        kid = await ph.login("kid", (await r.json())["one_time_password"], PASSWORD)
    async with owner.delete("/api/accounts/kid", headers={"Origin": "https://evil.example"}) as r:
        assert r.status == 403, await r.text()
    async with kid.get("/api/auth/me") as r:
        assert r.status == 200  # still there


@pytest.mark.parametrize(
    "name", ["owner", "OWNER", "../owner", "kid%00", "kid/../owner", "ü" * 70, "x" * 5000, "' OR 1=1 --", "*"]
)
async def test_names_that_are_not_a_member_or_custodian_remove_nothing(privacy_hub: Any, name: str) -> None:
    ph = await privacy_hub(clips=[])
    owner = await ph.owner()
    async with owner.post("/api/accounts", json={"username": "kid", "role": "member"}) as r:
        assert r.status == 201
    async with owner.delete(f"/api/accounts/{quote(name, safe='')}") as r:
        assert r.status in (404, 414), (name, r.status, await r.text())
    async with owner.get("/api/accounts") as r:
        assert [a["username"] for a in await r.json()] == ["kid", "owner"]
