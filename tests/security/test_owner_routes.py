"""The owners' routes refuse everyone else: every route of the OpenAPI document answers a visitor with
no login 401 unless it is public (the pages, health and status, the audit log's public parts, logging in,
registering, share links, logging out), and every route behind an owner page answers a logged-in member 403. A route
added later is held to the first rule unless it is listed as public, and owner routes are listed here."""

from __future__ import annotations

import aiohttp

from .conftest import PrivacyHub
from .test_requester_reach import PUBLIC_ROUTES, concrete

# The routes behind the owner pages (Settings, Requests, Overrides, Accounts) and the found-devices form.
OWNER_ROUTES = {
    ("DELETE", "/api/cameras/{name}"),
    ("PATCH", "/api/cameras/{name}/settings"),
    ("GET", "/api/requests"),
    ("GET", "/api/requests/{id}"),
    ("GET", "/api/requests/{id}/clips"),
    ("POST", "/api/requests/{id}/decision"),
    ("POST", "/api/requests/{id}/revoke"),
    ("POST", "/api/requests/{id}/release"),
    ("GET", "/api/requesters/cameras"),
    ("POST", "/api/requesters/tokens"),
    ("GET", "/api/requesters/registrations"),
    ("POST", "/api/requesters/registrations/{username}/{verdict}"),
    ("POST", "/api/accounts"),
    ("GET", "/api/accounts"),
    ("POST", "/api/accounts/{username}/cameras"),
    ("DELETE", "/api/accounts/{username}"),
    ("POST", "/api/overrides"),
    ("GET", "/api/privacy/cameras"),
    ("GET", "/api/holds"),
    ("POST", "/api/holds"),
    ("POST", "/api/holds/{id}/renew"),
    ("POST", "/api/holds/{id}/release"),
    ("GET", "/api/notices"),
    ("POST", "/api/discovered/{id}/adopt"),
    ("POST", "/api/discovered/{id}/ignore"),
}
METHODS = ("get", "post", "patch", "delete")


async def routes(session: aiohttp.ClientSession) -> list[tuple[str, str]]:
    async with session.get("/api/openapi.json") as r:
        paths = (await r.json())["paths"]
    return [(m.upper(), path) for path, ops in paths.items() for m in ops if m in METHODS]


async def test_a_visitor_without_a_login_gets_only_the_public_routes(privacy_hub) -> None:
    ph: PrivacyHub = await privacy_hub(clips=[])
    stranger = ph.client()
    answered = {}
    for method, path in await routes(stranger):
        # Logging out without a session is harmless and answers 204, as it does for anyone.
        if (method, path) in PUBLIC_ROUTES or (method, path) == ("POST", "/api/auth/logout"):
            continue
        async with stranger.request(method, concrete(path), json={}) as r:
            answered[(method, path)] = r.status
    assert answered and {route: s for route, s in answered.items() if s != 401} == {}


async def test_a_member_is_refused_every_owner_route(privacy_hub) -> None:
    ph: PrivacyHub = await privacy_hub(clips=[])
    owner = await ph.owner()
    async with owner.post("/api/accounts", json={"username": "kid", "role": "member"}) as r:
        one_time = (await r.json())["one_time_password"]
    member = await ph.login("kid", one_time, "the kid's long password")
    documented = set(await routes(member))
    assert documented >= OWNER_ROUTES, OWNER_ROUTES - documented
    answered = {}
    for method, path in sorted(OWNER_ROUTES):
        async with member.request(method, concrete(path), json={}) as r:
            answered[(method, path)] = r.status
    assert {route: s for route, s in answered.items() if s != 403} == {}
