"""Requester identities are unambiguous: a name an outsider registers never reaches another party's footage.

The attack (issue 9, item 1): an outsider self-registers an agency's name; an
owner later issues a token under that name for the real agency; once the
owner approves the registration, the outsider's token read the agency's
requests and downloaded its package. And (item 11) registration answered
409 for a taken name, so anyone could probe which names exist. Everything
here runs against a whole real hub over HTTP.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

pytestmark = pytest.mark.timeout(120)

FORM = {"identity": "Desk Sergeant", "organisation": "City Police Department", "contact": "desk@city-pd.example"}


def ask(ph: Any, purpose: str) -> dict[str, Any]:
    t0 = int(ph.clips[0].start_time)
    return {
        "identity": "Officer Dana Ruiz",
        "organisation": "City PD",
        "contact": "ruiz@city-pd.example",
        "purpose": purpose,
        "cameras": ["yard"],
        "start": t0 + 60,
        "end": t0 + 300,
        "wanted_by": int(ph.clock()) + 86400,
    }


async def register(ph: Any, name: str) -> tuple[int, dict[str, Any]]:
    async with ph.client().post("/api/requesters/register", json={"username": name, **FORM}) as r:
        return r.status, await r.json()


async def issue(owner: aiohttp.ClientSession, requester: str, **extra: Any) -> tuple[int, dict[str, Any]]:
    async with owner.post("/api/requesters/tokens", json={"requester": requester, "name": "case work", **extra}) as r:
        return r.status, await r.json()


async def submit(ph: Any, token: str, purpose: str) -> dict[str, Any]:
    async with ph.client(token).post("/api/requests", json=ask(ph, purpose)) as r:
        assert r.status == 201, await r.text()
        return await r.json()


async def seen(ph: Any, token: str) -> set[str]:
    async with ph.client(token).get("/api/requests") as r:
        assert r.status == 200, await r.text()
        return {x["id"] for x in await r.json()}


async def test_a_squatted_requester_name_never_reaches_the_party_it_names(privacy_hub) -> None:
    ph = await privacy_hub(clips=[("yard", 1_790_000_000 + 20 * m) for m in range(20)])
    owner = await ph.owner()

    status, squat = await register(ph, "city-pd")
    assert status == 201, squat
    status, agency = await issue(owner, "city-pd")
    assert status == 201, agency
    async with owner.post(f"/api/requesters/registrations/{squat['username']}/approve") as r:
        assert r.status == 200, await r.text()

    request = await submit(ph, agency["token"], "burglary at number 12")
    async with owner.post(f"/api/requests/{request['id']}/decision", json={"decision": "approve"}) as r:
        approved = await r.json()
        assert r.status == 200 and approved["share_link"] is not None, approved

    squatter = ph.client(squat["token"])
    async with squatter.get("/api/requests") as r:
        assert r.status == 200
        visible = await r.json()
    links = [x["share_link"]["url"] for x in visible if x["share_link"]]
    downloaded = []
    for url in links:
        async with ph.client().get(url) as r:
            if r.status == 200:
                downloaded.append(url)
    assert visible == [] and downloaded == [], "the squatter saw the agency's request and took its package"
    async with squatter.get(f"/api/requests/{request['id']}") as r:
        assert r.status == 404
    # The agency still sees its own request, with its link.
    async with ph.client(agency["token"]).get(f"/api/requests/{request['id']}") as r:
        assert r.status == 200 and (await r.json())["share_link"]["url"] == approved["share_link"]["url"]

    # The owner sees which account each token belongs to and how it came to exist.
    assert agency["account"]["account"] == "city-pd" and agency["account"]["origin"] == "issued_by_owner"
    assert agency["account"]["created_by"] == "owner"
    assert [a["account"] for a in agency["same_name"]] == [squat["username"]]
    assert agency["same_name"][0]["origin"] == "self_registered"
    async with owner.get(f"/api/requests/{request['id']}") as r:
        shown = (await r.json())["submitted_by"]
    assert shown["account"]["account"] == "city-pd" and shown["account"]["origin"] == "issued_by_owner"
    assert shown["token"]["id"] == agency["id"] and shown["token"]["issued_by"] == "owner"
    async with owner.get("/api/requesters/registrations") as r:
        (registration,) = await r.json()
    assert registration["username"] == squat["username"] and registration["display_name"] == "city-pd"
    assert [a["account"] for a in registration["same_name"]] == ["city-pd"]


async def test_no_token_is_issued_into_a_self_registered_account(privacy_hub) -> None:
    ph = await privacy_hub(clips=[])
    owner = await ph.owner()
    status, squat = await register(ph, "city-pd")
    assert status == 201
    for sees in ("own_requests", "account_requests"):
        status, refused = await issue(owner, squat["username"], sees=sees)
        assert status == 409 and "self-registered" in refused["message"], refused
    status, wrong = await issue(owner, "city-pd", sees="everything")
    assert status == 400 and "'sees'" in wrong["message"]
    status, kept = await issue(owner, "reg-0123456789abcdef")  # a name only registrations get
    assert status == 400 and "self-registered" in kept["message"], kept


async def test_a_token_sees_its_own_requests_and_its_account_only_when_the_owner_merged_it(privacy_hub) -> None:
    ph = await privacy_hub(clips=[("yard", 1_790_000_000 + 20 * m) for m in range(20)])
    owner = await ph.owner()
    _, first = await issue(owner, "city-pd")
    _, second = await issue(owner, "city-pd")
    assert first["account"]["account"] == second["account"]["account"] == "city-pd"
    assert second["sees"] == "own_requests"
    one = await submit(ph, first["token"], "first")
    two = await submit(ph, second["token"], "second")
    assert await seen(ph, first["token"]) == {one["id"]}
    assert await seen(ph, second["token"]) == {two["id"]}
    status, merged = await issue(owner, "City-PD", sees="account_requests")  # names are compared without case
    assert status == 201 and merged["sees"] == "account_requests" and merged["same_name"] == [], merged
    assert merged["account"]["account"] == "city-pd"
    assert await seen(ph, merged["token"]) == {one["id"], two["id"]}
    async with ph.client(merged["token"]).get(f"/api/requests/{one['id']}") as r:
        assert r.status == 200
    async with ph.client(first["token"]).get(f"/api/requests/{two['id']}") as r:
        assert r.status == 404


async def test_registration_answers_alike_whatever_names_exist(privacy_hub) -> None:
    ph = await privacy_hub(clips=[])
    owner = await ph.owner()
    await issue(owner, "county-sheriff")  # an owner-issued requester name
    answers = {name: await register(ph, name) for name in ("owner", "county-sheriff", "never-used-name")}
    answers["again"] = await register(ph, "never-used-name")
    for name, (status, body) in answers.items():
        assert status == 201, (name, body)
        assert sorted(body) == ["display_name", "expires_at", "note", "state", "token", "username"], body
        assert body["username"].startswith("reg-") and body["state"] == "pending"
    assert len({body["username"] for _, body in answers.values()}) == 4
    # None of them took the name it chose: the household's and the sheriff's accounts are untouched.
    status, sheriff = await issue(owner, "county-sheriff")
    assert status == 201 and sheriff["account"]["origin"] == "issued_by_owner"
    assert {a["account"] for a in sheriff["same_name"]} == {answers["county-sheriff"][1]["username"]}


async def test_an_account_squatted_before_the_upgrade_takes_no_new_token(tmp_path) -> None:
    """An install upgraded with a squatted account (a registration that took "city-pd", and an owner's token
    that joined it) refuses further tokens into it; an owner's own requester account is marked as theirs."""
    import sqlite_utils
    from argon2 import PasswordHasher

    from camhub.auth import AccountService
    from camhub.auth.errors import AccountExists
    from camhub.auth.schema import migrations

    hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    old = sqlite_utils.Database(tmp_path / "accounts.db")
    migrations.apply(old, stop_before="0003_requester_origin")
    old.execute(
        "INSERT INTO accounts (id, username, role, password_hash, created_at) VALUES (1, 'owner', 'owner', ?, 1)",
        [hasher.hash("an owner password here")],
    )
    old.execute(
        "INSERT INTO accounts (id, username, role, created_at) VALUES (2, 'city-pd', 'requester', 1), "
        "(3, 'county', 'requester', 1)"
    )
    old.execute(
        "INSERT INTO tokens (account_id, kind, name, token_sha256, created_by, created_at) VALUES "
        "(2, 'requester', 'registration', 'a', 2, 1), (2, 'requester', 'case work', 'b', 1, 2), "
        "(3, 'requester', 'case work', 'c', 1, 3)"
    )
    old.conn.commit()
    old.close()
    service = await AccountService.open(tmp_path, clock=lambda: 10.0, hasher=hasher)
    try:
        owner = (await service.sessions.login("owner", "an owner password here", "127.0.0.1")).identity
        with pytest.raises(AccountExists, match="self-registered"):
            await service.issue_requester_token(owner, "city-pd", "case work")
        issued = await service.issue_requester_token(owner, "county", "case work")
        county = (await service.requester_card(issued.id))["account"]
        assert county["origin"] == "issued_by_owner" and county["account"] == "county"
        squatted = await service.requesters_named("city-pd")
        assert [(a["account"], a["origin"]) for a in squatted] == [("city-pd", "self_registered")]
    finally:
        await service.close()
