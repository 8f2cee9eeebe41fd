"""A requester token reaches its own requests and nothing else of the hub: every route of the OpenAPI
document, called with the token, either is one of the requester's own, answers exactly as it answers a
stranger with no credential (the public pages and the audit log's public parts), or refuses (401/403).
A route added later and not listed here is refused by this test unless it refuses the token too.
Also the share-link contents route: wrong, altered and traversing tokens, and looking costs no download."""

from __future__ import annotations

import re

import aiohttp

from ..privacy.conftest import T0, footage_request
from .conftest import PrivacyHub

# What a requester token is for (docs/privacy.md, "Requester accounts and tokens").
REQUESTER_ROUTES = {
    ("GET", "/api/requests"),
    ("POST", "/api/requests"),
    ("GET", "/api/requests/{id}"),
    ("GET", "/api/requesters/cameras"),
    ("GET", "/api/auth/me"),
    ("POST", "/api/auth/logout"),
}
# Served to anyone, so the token must get no more than a stranger does.
PUBLIC_ROUTES = {
    ("GET", "/"),
    ("GET", "/requester"),
    ("GET", "/share"),
    ("GET", "/static/{file}"),
    ("GET", "/api/openapi.json"),
    ("GET", "/api/health"),
    ("GET", "/api/cameras"),
    ("GET", "/api/cameras/{name}"),
    ("GET", "/api/audit/checkpoint"),
    ("GET", "/api/audit/key"),
    ("GET", "/api/audit/consistency"),
    ("GET", "/api/share/{token}"),
    ("GET", "/api/share/{token}/contents"),
    ("POST", "/api/auth/login"),
    ("POST", "/api/requesters/register"),
}
# A body of the right shape where a route reads the body before it looks at the caller.
BODIES = {"/api/auth/password": {"current_password": "an old password", "new_password": "a new long password"}}
PARAMS = {"verdict": "approve", "username": "reg-0123456789abcdef", "name": "porch", "file": "api.js"}


def concrete(path: str) -> str:
    return re.sub(r"\{([^}]+)\}", lambda m: PARAMS.get(m.group(1), "1"), path)


async def test_a_requester_token_reaches_nothing_but_its_requests(privacy_hub) -> None:
    ph: PrivacyHub = await privacy_hub(clips=[])
    owner = await ph.owner()
    officer = await ph.requester(owner, "officer-ruiz")
    stranger = ph.client()
    async with officer.get("/api/openapi.json") as r:
        paths = (await r.json())["paths"]
    refused = []
    for path, operations in paths.items():
        for method in (m.upper() for m in operations if m in ("get", "post", "delete")):
            if (method, path) in REQUESTER_ROUTES:
                continue
            url = concrete(path)
            async with officer.request(method, url, json=BODIES.get(path, {})) as r:
                status = r.status
            if (method, path) in PUBLIC_ROUTES:
                async with stranger.request(method, url, json={}) as r:
                    assert status == r.status, (method, path, status, r.status)
            else:
                assert status in (401, 403), (method, path, status)
                refused.append(path)
    # The owners' pages' routes are among those refused.
    for owner_route in (
        "/api/requests/{id}/decision",
        "/api/requests/{id}/revoke",
        "/api/requests/{id}/clips",
        "/api/notices",
        "/api/accounts",
        "/api/requesters/tokens",
        "/api/clips",
        "/api/overrides",
        "/api/holds",
        "/api/transparency",
    ):
        assert owner_route in refused, owner_route


async def test_the_camera_names_are_for_requesters_and_owners_only(privacy_hub) -> None:
    ph: PrivacyHub = await privacy_hub(clips=[])
    owner = await ph.owner()
    member = await ph.account(owner, "kid", "the kid's long password")
    async with ph.client().get("/api/requesters/cameras") as r:
        assert r.status == 401
    async with member.get("/api/requesters/cameras") as r:
        assert r.status == 403
    async with owner.get("/api/requesters/cameras") as r:
        assert await r.json() == ["porch", "yard"]


async def test_share_contents_refuses_wrong_tokens_and_costs_no_download(privacy_hub) -> None:
    ph: PrivacyHub = await privacy_hub()
    owner = await ph.owner()
    officer = await ph.requester(owner, "officer-ruiz")
    async with officer.post("/api/requests", json=footage_request(end=T0 + 120)) as r:
        request_id = (await r.json())["id"]
    async with owner.post(f"/api/requests/{request_id}/decision", json={"decision": "approve"}) as r:
        url = (await r.json())["share_link"]["url"]
    token = url.rsplit("/", 1)[1]
    link_id, tag = token.split(".")
    stranger = ph.client()
    altered = f"{link_id}.{'A' if tag[0] != 'A' else 'B'}{tag[1:]}"
    for wrong in (altered, f"{link_id}.{link_id}", "..%2F..%2Fprivacy.db", "A" * 22 + "." + "A" * 22, token + "x"):
        async with stranger.get(f"/api/share/{wrong}/contents") as r:
            assert r.status == 404, (wrong, r.status)
            assert link_id not in await r.text()
    for _ in range(3):
        async with stranger.get(f"{url}/contents") as r:
            assert r.status == 200 and r.headers["Cache-Control"] == "no-store"
            contents = await r.json()
    assert contents["downloads"] == 0 and contents["downloads_left"] == 5
    assert contents["scope"]["cameras"] == ["porch"] and len(contents["files"]) == 2
    assert set(contents["files"][0]) == {"name", "camera", "start_ms", "end_ms", "bytes", "sha256", "trimmed"}
    async with stranger.post(f"{url}/contents", data=b"x") as r:
        assert r.status == 405
    async with owner.get(f"/api/requests/{request_id}") as r:
        assert (await r.json())["share_link"]["downloads"] == 0
    # A used-up link says so and shows nothing of its package.
    for _ in range(5):
        async with stranger.get(url) as r:
            assert r.status == 200
            await r.read()
    async with stranger.get(f"{url}/contents") as r:
        assert r.status == 410 and "files" not in await r.text()


async def test_the_requester_pages_are_plain_files_under_the_policy(privacy_hub) -> None:
    ph: PrivacyHub = await privacy_hub(clips=[])
    async with aiohttp.ClientSession() as http:
        for path in ("/requester", "/share"):
            async with http.get(ph.url + path) as r:
                assert r.status == 200 and r.content_type == "text/html"
                assert "script-src 'self'" in r.headers["Content-Security-Policy"]
                assert r.headers["Referrer-Policy"] == "no-referrer"
                page = await r.text()
            # No inline script, style attribute or event handler: the policy would block them anyway.
            assert re.search(r"<script(?![^>]*\ssrc=)", page) is None, path
            assert re.search(r"<[^>]*\s(on[a-z]+|style)\s*=", page) is None, path
