"""Sessions over real HTTP: expiry by the fake clock, fresh re-authentication, password change."""

from __future__ import annotations

from camhub.auth.sessions import SESSION_ABSOLUTE_S, SESSION_IDLE_S

from .conftest import PASSWORD, AuthHub


async def test_session_ends_after_idle_time(hub: AuthHub) -> None:
    client = await hub.login()
    hub.clock.advance(SESSION_IDLE_S - 60)
    async with client.get("/api/auth/me") as r:
        assert r.status == 200, "use inside the idle window keeps the session"
    hub.clock.advance(SESSION_IDLE_S - 60)
    async with client.get("/api/auth/me") as r:
        assert r.status == 200
    hub.clock.advance(SESSION_IDLE_S + 1)
    async with client.get("/api/auth/me") as r:
        assert r.status == 401 and (await r.json())["error"] == "login_required"


async def test_session_ends_after_absolute_time_even_when_used(hub: AuthHub) -> None:
    client = await hub.login()
    elapsed = 0.0
    while elapsed + SESSION_IDLE_S / 2 <= SESSION_ABSOLUTE_S:
        hub.clock.advance(SESSION_IDLE_S / 2)
        elapsed += SESSION_IDLE_S / 2
        async with client.get("/api/auth/me") as r:
            assert r.status == 200
    hub.clock.advance(SESSION_ABSOLUTE_S - elapsed + 1)
    async with client.get("/api/auth/me") as r:
        assert r.status == 401


async def test_deciding_needs_a_fresh_password(hub: AuthHub) -> None:
    client = await hub.login()
    async with client.post("/api/decide") as r:
        assert r.status == 200, "the login itself proved the password"
    hub.clock.advance(301)
    async with client.post("/api/decide") as r:
        assert r.status == 401 and (await r.json())["error"] == "reauth_required"
    async with client.post("/api/auth/reauth", json={"password": "wrong password!"}) as r:
        assert r.status == 401 and (await r.json())["error"] == "login_failed"
    async with client.post("/api/auth/reauth", json={"password": PASSWORD}) as r:
        assert r.status == 200 and (await r.json())["password_proven_at"] == hub.clock.now
    async with client.post("/api/decide") as r:
        assert r.status == 200 and (await r.json()) == {"decided_by": "alice"}


async def test_members_and_tokens_cannot_decide(hub: AuthHub) -> None:
    member = await hub.login("bob", PASSWORD + " bob")
    async with member.post("/api/decide") as r:
        assert r.status == 403 and (await r.json())["error"] == "forbidden"
    owner = await hub.login()
    async with owner.post("/api/auth/tokens", json={"name": "script"}) as r:
        token = (await r.json())["token"]
    async with hub.client().post("/api/decide", headers={"Authorization": f"Bearer {token}"}) as r:
        assert r.status == 401 and (await r.json())["error"] == "reauth_required", "a token never proves a password"


async def test_password_change_needs_the_current_one_and_ends_other_sessions(hub: AuthHub) -> None:
    laptop = await hub.login()
    phone = await hub.login()
    new = "another long passphrase"
    async with laptop.post("/api/auth/password", json={"current_password": "guess guess", "new_password": new}) as r:
        assert r.status == 401 and (await r.json())["error"] == "login_failed"
    async with laptop.post("/api/auth/password", json={"current_password": PASSWORD, "new_password": "short"}) as r:
        assert r.status == 400 and (await r.json())["error"] == "invalid_request"
    async with laptop.post("/api/auth/password", json={"current_password": PASSWORD, "new_password": new}) as r:
        assert r.status == 200
    async with laptop.get("/api/auth/me") as r:
        assert r.status == 200, "the session that changed the password stays"
    async with phone.get("/api/auth/me") as r:
        assert r.status == 401, "every other session of the account ends"
    async with hub.client().post("/api/auth/login", json={"username": "alice", "password": PASSWORD}) as r:
        assert r.status == 401
    await hub.login("alice", new)
