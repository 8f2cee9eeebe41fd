"""API and requester tokens over real HTTP: shown once, used as Bearer, revocable."""

from __future__ import annotations

from .conftest import PASSWORD, AuthHub


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_api_token_create_use_revoke(hub: AuthHub) -> None:
    owner = await hub.login()
    async with owner.post("/api/auth/tokens", json={"name": "backup script"}) as r:
        assert r.status == 201
        issued = await r.json()
    assert issued["token"].startswith("cht_") and issued["expires_at"] is None
    script = hub.client()
    async with script.get("/api/auth/me", headers=bearer(issued["token"])) as r:
        me = await r.json()
        assert me["user"] == "alice" and me["via"] == "api" and me["password_proven_at"] is None
    async with script.get("/api/footage", headers=bearer(issued["token"])) as r:
        assert r.status == 200
    async with owner.get("/api/auth/tokens") as r:
        [row] = await r.json()
    assert row["name"] == "backup script" and row["last_used_at"] == hub.clock.now and "token" not in row
    async with owner.delete(f"/api/auth/tokens/{issued['id']}") as r:
        assert r.status == 204
    async with script.get("/api/footage", headers=bearer(issued["token"])) as r:
        assert r.status == 401 and (await r.json())["error"] == "login_required"


async def test_tokens_need_a_session_and_expire(hub: AuthHub) -> None:
    owner = await hub.login()
    async with owner.post("/api/auth/tokens", json={"name": "short", "expires_in_s": 60}) as r:
        token = (await r.json())["token"]
    async with hub.client().post("/api/auth/tokens", json={"name": "x"}, headers=bearer(token)) as r:
        assert r.status == 403, "a token cannot mint more tokens"
    hub.clock.advance(61)
    async with hub.client().get("/api/auth/me", headers=bearer(token)) as r:
        assert r.status == 401
    async with hub.client().get("/api/auth/me", headers=bearer("cht_" + "A" * 43)) as r:
        assert r.status == 401, "a guessed token is just unknown"


async def test_members_cannot_revoke_others_tokens(hub: AuthHub) -> None:
    owner = await hub.login()
    async with owner.post("/api/auth/tokens", json={"name": "owner's"}) as r:
        token_id = (await r.json())["id"]
    member = await hub.login("bob", PASSWORD + " bob")
    async with member.delete(f"/api/auth/tokens/{token_id}") as r:
        assert r.status == 404
    async with member.get("/api/auth/tokens") as r:
        assert await r.json() == []


async def test_requester_token_is_bound_to_a_requester_who_sees_no_footage(hub: AuthHub) -> None:
    owner = (await hub.service.sessions.login("alice", PASSWORD, "127.0.0.1")).identity
    issued = await hub.service.issue_requester_token(owner, "county-police", "case 2026-114")
    assert issued.token.startswith("chr_") and issued.expires_at is not None
    requester = hub.client()
    async with requester.get("/api/auth/me", headers=bearer(issued.token)) as r:
        me = await r.json()
        assert me["user"] == "county-police" and me["role"] == "requester" and me["via"] == "requester"
    async with requester.get("/api/footage", headers=bearer(issued.token)) as r:
        assert r.status == 403 and (await r.json())["error"] == "forbidden"
    async with hub.client().post("/api/auth/login", json={"username": "county-police", "password": ""}) as r:
        assert r.status == 401, "requesters have no password to log in with"
    hub.clock.advance(issued.expires_at - hub.clock.now)
    async with requester.get("/api/auth/me", headers=bearer(issued.token)) as r:
        assert r.status == 401
