"""Fixtures for account tests: a fake clock, a real accounts.db in tmp_path and a real HTTP server.

`hub` is an `AuthHub`: the service, the server's base URL, the clock, the
audit events it emitted, and `client()` for cookie-keeping HTTP sessions.
Argon2 runs with cheap parameters here so the suite stays fast; production
uses argon2-cffi's defaults.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from argon2 import PasswordHasher

from camhub.audit.events import AuditEvent
from camhub.auth import (
    ROUTES,
    SERVICE,
    AccountService,
    auth_middleware,
    household_only,
    require_fresh,
    roles_required,
)
from camhub.clock import ManualClock as FakeClock
from camhub.http.app import error_middleware

PASSWORD = "correct horse battery staple"


def cheap_hasher(time_cost: int = 1) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=8, parallelism=1)


@household_only
async def footage(request: web.Request) -> web.StreamResponse:
    return web.json_response({"footage": "yes"})


@roles_required("owner", "custodian")
async def decide(request: web.Request) -> web.StreamResponse:
    identity = require_fresh(request)
    return web.json_response({"decided_by": identity.username})


@dataclass
class AuthHub:
    service: AccountService
    url: str
    clock: FakeClock
    data: Path
    events: list[AuditEvent] = field(default_factory=list)
    sessions: list[aiohttp.ClientSession] = field(default_factory=list)

    def client(self) -> aiohttp.ClientSession:
        # unsafe=True: the default jar ignores cookies from bare IP addresses like 127.0.0.1.
        session = aiohttp.ClientSession(self.url, cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.sessions.append(session)
        return session

    async def login(self, username: str = "alice", password: str = PASSWORD) -> aiohttp.ClientSession:
        client = self.client()
        async with client.post("/api/auth/login", json={"username": username, "password": password}) as r:
            assert r.status == 200, await r.text()
        return client


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1_800_000_000.0)


@pytest.fixture
async def hub(tmp_path: Path, clock: FakeClock) -> AsyncIterator[AuthHub]:
    events: list[AuditEvent] = []

    async def on_event(event: AuditEvent) -> None:
        events.append(event)

    service = await AccountService.open(tmp_path, clock=clock, hasher=cheap_hasher(), on_event=on_event)
    await service.create_account("alice", "owner", password=PASSWORD)
    await service.create_account("bob", "member", password=PASSWORD + " bob")
    app = web.Application(middlewares=[error_middleware, auth_middleware(service)])
    app[SERVICE] = service
    ROUTES.add_to(app)
    app.router.add_get("/api/footage", footage)
    app.router.add_post("/api/decide", decide)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    state = AuthHub(service, f"http://127.0.0.1:{port}", clock, tmp_path, events)
    try:
        yield state
    finally:
        for session in state.sessions:
            await session.close()
        await runner.cleanup()
        await service.close()
