"""Logging in over real HTTP: bootstrap, cookies, failures that reveal nothing, lockout."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from camhub.audit.events import OwnerLoggedIn, OwnerLoginFailed
from camhub.auth import AccountService, LoginFailed, LoginLocked
from camhub.auth.throttle import ACCOUNT_LIMIT, ADDRESS_LIMIT, LOCKOUT_S

from .conftest import PASSWORD, AuthHub, cheap_hasher


async def post_login(client: aiohttp.ClientSession, username: str, password: str) -> tuple[int, Any]:
    async with client.post("/api/auth/login", json={"username": username, "password": password}) as r:
        return r.status, await r.json()


async def test_first_owner_gets_a_one_time_password_that_must_be_changed(hub: AuthHub, tmp_path: Path) -> None:
    fresh = await AccountService.open(tmp_path / "new", clock=hub.clock, hasher=cheap_hasher())
    try:
        one_time = await fresh.bootstrap_owner("root")
        assert one_time is not None and len(one_time) >= 20
        assert await fresh.bootstrap_owner("root") is None, "only the first start creates an owner"
        login = await fresh.sessions.login("root", one_time, "127.0.0.1")
        assert login.identity.role == "owner" and login.identity.must_change_password
    finally:
        await fresh.close()


async def test_one_time_password_opens_only_the_password_change(hub: AuthHub) -> None:
    one_time = await hub.service.create_account("carol", "owner")
    assert one_time is not None
    client = hub.client()
    assert await post_login(client, "carol", one_time) == (
        200,
        {"user": "carol", "role": "owner", "must_change_password": True},
    )
    async with client.get("/api/footage") as r:
        assert r.status == 403 and (await r.json())["error"] == "password_change_required"
    new = "a brand new passphrase"
    async with client.post("/api/auth/password", json={"current_password": one_time, "new_password": new}) as r:
        assert r.status == 200 and (await r.json())["must_change_password"] is False
    async with client.get("/api/footage") as r:
        assert r.status == 200
    assert (await post_login(hub.client(), "carol", one_time))[0] == 401


async def test_login_me_logout(hub: AuthHub) -> None:
    client = hub.client()
    async with client.post("/api/auth/login", json={"username": "alice", "password": PASSWORD}) as r:
        assert r.status == 200
        assert await r.json() == {"user": "alice", "role": "owner", "must_change_password": False}
        cookie = r.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
        token = r.cookies["camhub_session"].value
    async with client.get("/api/auth/me") as r:
        me = await r.json()
        assert me["user"] == "alice" and me["role"] == "owner" and me["via"] == "session"
    async with client.get("/api/footage") as r:
        assert r.status == 200
    async with client.post("/api/auth/logout") as r:
        assert r.status == 204
    async with client.get("/api/auth/me") as r:
        assert r.status == 401 and (await r.json())["error"] == "login_required"
    # The server revoked the session: replaying the old cookie does not bring it back.
    replay = hub.client()
    async with replay.get("/api/footage", headers={"Cookie": f"camhub_session={token}"}) as r:
        assert r.status == 401 and (await r.json())["error"] == "login_required"


async def test_footage_needs_a_login(hub: AuthHub) -> None:
    async with hub.client().get("/api/footage") as r:
        body = await r.json()
        assert r.status == 401 and body["error"] == "login_required" and body["message"]


async def test_unknown_user_and_wrong_password_look_the_same(hub: AuthHub) -> None:
    client = hub.client()
    wrong = await post_login(client, "alice", "not the password at all")
    unknown = await post_login(client, "mallory", "not the password at all")
    assert wrong == unknown == (401, {"error": "login_failed", "message": "wrong user name or password"})
    # Requesters have no password: same answer again.
    await hub.service.create_account("insurer", "requester")
    assert await post_login(client, "insurer", "") == wrong


async def test_lockout_after_failures_and_unlock_after_the_window(hub: AuthHub) -> None:
    client = hub.client()
    for _ in range(ACCOUNT_LIMIT):
        assert (await post_login(client, "alice", "wrong wrong wrong"))[0] == 401
    status, body = await post_login(client, "alice", PASSWORD)
    assert status == 429 and body["error"] == "login_locked", "the right password waits out the lockout too"
    hub.clock.advance(LOCKOUT_S - 1)
    assert (await post_login(client, "alice", PASSWORD))[0] == 429
    hub.clock.advance(2)
    assert (await post_login(client, "alice", PASSWORD))[0] == 200
    # Unknown user names lock the same way, so a lockout reveals nothing either.
    for _ in range(ACCOUNT_LIMIT):
        await post_login(client, "nobody", "wrong wrong wrong")
    assert (await post_login(client, "nobody", "wrong"))[1] == {
        "error": "login_locked",
        "message": "too many failed logins; try again later",
    }


async def test_address_lockout_spans_user_names(hub: AuthHub) -> None:
    service = hub.service
    for i in range(ADDRESS_LIMIT):
        with pytest.raises(LoginFailed):
            await service.sessions.login(f"guess{i}", "wrong wrong", "10.0.0.9")
    with pytest.raises(LoginLocked):
        await service.sessions.login("alice", PASSWORD, "10.0.0.9")
    assert (await service.sessions.login("alice", PASSWORD, "10.0.0.10")).identity.username == "alice"


async def test_concurrent_guesses_cannot_pass_the_limit(hub: AuthHub) -> None:
    client = hub.client()
    results = await asyncio.gather(*(post_login(client, "alice", f"guess {i}") for i in range(3 * ACCOUNT_LIMIT)))
    assert sum(status == 401 for status, _ in results) <= ACCOUNT_LIMIT
    assert all(status in (401, 429) for status, _ in results)


async def test_audit_hook_sees_owner_logins_and_failures(hub: AuthHub) -> None:
    await hub.login("alice")
    await hub.login("bob", PASSWORD + " bob")
    await post_login(hub.client(), "alice", "wrong password here")
    kinds = [(type(e).__name__, e.user, e.remote) for e in hub.events]  # type: ignore[attr-defined]
    assert kinds == [("OwnerLoggedIn", "alice", "127.0.0.1"), ("OwnerLoginFailed", "alice", "127.0.0.1")]
    assert isinstance(hub.events[0], OwnerLoggedIn) and hub.events[0].time == hub.clock.now
    failed = hub.events[1]
    assert isinstance(failed, OwnerLoginFailed) and failed.reason == "bad_credentials"
    assert "wrong password here" not in repr(hub.events)
