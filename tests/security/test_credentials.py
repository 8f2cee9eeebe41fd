"""Each credential travels in its own carrier: the cookie holds only a login session, the Bearer header only
an API or requester token. A credential in the other carrier is ignored, and the 401 says where it belongs."""

from __future__ import annotations

from typing import Any

import aiohttp

from .conftest import PASSWORD, AuthHub


async def me(hub: AuthHub, headers: dict[str, str], path: str = "/api/auth/me") -> tuple[int, Any]:
    async with aiohttp.ClientSession(hub.url, headers=headers) as client, client.get(path) as r:
        return r.status, await r.json()


async def tokens(hub: AuthHub) -> tuple[str, str, str]:
    """A session token, an API token and a requester token, all alice's doing."""
    client = hub.client()
    async with client.post("/api/auth/login", json={"username": "alice", "password": PASSWORD}) as r:
        session = r.cookies["camhub_session"].value
    async with client.post("/api/auth/tokens", json={"name": "script"}) as r:
        api = (await r.json())["token"]
    login = await hub.service.sessions.login("alice", PASSWORD, "127.0.0.1")
    requester = (await hub.service.issue_requester_token(login.identity, "insurer", "claims")).token
    return session, api, requester


async def test_tokens_in_the_session_cookie_are_ignored(auth_hub: AuthHub) -> None:
    _, api, requester = await tokens(auth_hub)
    for token in (api, requester):
        status, body = await me(auth_hub, {"Cookie": f"camhub_session={token}"})
        assert (status, body.get("error")) == (401, "login_required"), token[:4]
        assert "Bearer" in body["message"] and token not in body["message"]
        assert (await me(auth_hub, {"Cookie": f"camhub_session={token}"}, "/api/footage"))[0] == 401


async def test_a_session_token_as_bearer_is_ignored(auth_hub: AuthHub) -> None:
    session, _, _ = await tokens(auth_hub)
    status, body = await me(auth_hub, {"Authorization": f"Bearer {session}"})
    assert (status, body.get("error")) == (401, "login_required")
    assert "cookie" in body["message"] and session not in body["message"]
    assert (await me(auth_hub, {"Authorization": f"Bearer {session}"}, "/api/footage"))[0] == 401
    # A Bearer header is the credential when present; a valid cookie beside it is not used instead.
    status, _ = await me(auth_hub, {"Authorization": f"Bearer {session}", "Cookie": f"camhub_session={session}"})
    assert status == 401


async def test_each_credential_works_in_its_own_carrier(auth_hub: AuthHub) -> None:
    session, api, requester = await tokens(auth_hub)
    assert (await me(auth_hub, {"Cookie": f"camhub_session={session}"}))[1]["via"] == "session"
    assert (await me(auth_hub, {"Cookie": f"camhub_session={session}"}, "/api/footage"))[0] == 200
    assert (await me(auth_hub, {"Authorization": f"Bearer {api}"}))[1]["via"] == "api"
    assert (await me(auth_hub, {"Authorization": f"Bearer {requester}"}))[1]["via"] == "requester"
