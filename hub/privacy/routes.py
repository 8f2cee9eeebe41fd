"""HTTP routes for outside requests, decisions, overrides, holds, share links and owner notices.

Who may call what is checked here with the auth helpers (requesters use
their requester token; deciding, overriding and releasing a hold need a
fresh password) and again by the services. Bodies are JSON objects of at
most `privacy.max_request_bytes`, read by `camhub.http.bodies` and then field by
field with `Fields`: unknown fields are refused.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

from aiohttp import web

from camhub.auth import SERVICE, require_fresh, require_household, require_roles
from camhub.errors import BadRequest, NotFound
from camhub.http.bodies import read_body, read_json
from camhub.privacy.requesters import Requesters
from camhub.privacy.scope import Fields, InvalidField
from camhub.privacy.service import Privacy
from camhub.privacy.transparency import transparency_route

PRIVACY = web.AppKey("privacy", Privacy)
STATES = ("pending", "approved", "narrowed", "denied", "expired")
SEES = ("own_requests", "account_requests")  # what a requester token sees: what it submitted, or its account's
SETTING = "privacy.max_request_bytes"


# Entries about logging in name people and their addresses, and summarise attacks on the hub:
# the owners' business. A member or custodian sees only those about their own account.
LOGIN_EVENTS = frozenset({"owner_logged_in", "owner_login_failed", "login_lockout"})


async def audit_entry_guard(request: web.Request, entry: dict[str, Any]) -> None:
    """Who may read an audit entry through /api/audit/proof: the household and custodians; a login entry
    owners, or the member or custodian it is about; an entry about a sealed override (notice delayed) only
    its invoker. To others it does not exist."""
    who = require_roles(request, "owner", "member", "custodian")
    if entry["event"] in LOGIN_EVENTS and who.role != "owner" and entry["fields"].get("user") != who.username:
        raise NotFound(f"no entry {entry['index']}")
    text = json.dumps(entry["fields"])
    for invoked_by, ids in (await request.config_dict[PRIVACY].overrides.sealed()).values():
        if who.username != invoked_by and any(i in text for i in ids):
            raise NotFound(f"no entry {entry['index']}")


def add_routes(app: web.Application, privacy: Privacy) -> None:
    app[PRIVACY] = privacy
    limit = privacy.ctx.config.max_request_bytes
    consent, overrides, holds = privacy.consent, privacy.overrides, privacy.holds

    async def submit(request: web.Request) -> web.StreamResponse:
        who = require_roles(request, "requester")
        body = await read_json(request, limit, SETTING)
        card = await request.app[SERVICE].requester_card(who.credential_id)
        return web.json_response(await consent.submit(who, body, card), status=201)

    async def list_requests(request: web.Request) -> web.StreamResponse:
        who = require_roles(request, "owner", "requester")
        state = request.query.get("state")
        if state is not None and state not in STATES:
            raise BadRequest(f"state must be one of {', '.join(STATES)}, got {state!r}")
        return web.json_response(await consent.list(who, state))

    async def get_request(request: web.Request) -> web.StreamResponse:
        who = require_roles(request, "owner", "requester")
        return web.json_response(await consent.view(who, request.match_info["id"]))

    async def request_clips(request: web.Request) -> web.StreamResponse:
        who = require_roles(request, "owner")
        return web.json_response(await consent.clips(who, request.match_info["id"]))

    async def decide(request: web.Request) -> web.StreamResponse:
        require_roles(request, "owner")
        who = require_fresh(request)
        body = await read_json(request, limit, SETTING)
        return web.json_response(await consent.decide(who, request.match_info["id"], body))

    async def retry_release(request: web.Request) -> web.StreamResponse:
        require_roles(request, "owner")
        who = require_fresh(request)
        return web.json_response(await consent.retry_release(who, request.match_info["id"]))

    async def revoke(request: web.Request) -> web.StreamResponse:
        who = require_roles(request, "owner")
        return web.json_response(await consent.revoke(who, request.match_info["id"]))

    async def share(request: web.Request) -> web.StreamResponse:
        # Every GET is one whole download, logged before its first byte: no HEAD, Range or
        # conditional requests, which would count a download and send nothing or a part.
        path, export_id = await privacy.egress.open_download(request.match_info["token"], request.remote or "unknown")
        response = web.StreamResponse(
            headers={
                "Content-Type": "application/zip",
                "Cache-Control": "no-store",
                "Accept-Ranges": "none",
                "Content-Disposition": f'attachment; filename="camhub-{export_id}.zip"',
            }
        )
        package = await asyncio.to_thread(open, path, "rb")
        with package:
            response.content_length = os.fstat(package.fileno()).st_size
            await response.prepare(request)
            while chunk := await asyncio.to_thread(package.read, 1024 * 1024):
                await response.write(chunk)
        await response.write_eof()
        return response

    async def issue_token(request: web.Request) -> web.StreamResponse:
        who = require_roles(request, "owner")
        f = Fields(await read_json(request, limit, SETTING), "token request")
        requester, name = f.text("requester", max_len=64), f.text("name", max_len=100)
        expires = f.whole("expires_in_s", 1, 365 * 86400, default=30 * 86400)
        sees = f.choice("sees", SEES, required=False) or "own_requests"
        f.done()
        service = request.app[SERVICE]
        issued = await service.issue_requester_token(
            who, requester or "", name or "", expires, sees_account=sees == "account_requests"
        )
        card = await service.requester_card(issued.id)
        # Registrations that chose this name: most likely the party itself, or someone posing as it.
        claimed = [
            a for a in await service.requesters_named(requester or "") if a["account"] != card["account"]["account"]
        ]
        return web.json_response(
            {
                "id": issued.id,
                "requester": requester,
                "name": issued.name,
                "token": issued.token,
                "expires_at": issued.expires_at,
                "sees": sees,
                "account": card["account"],
                "same_name": claimed,
            },
            status=201,
        )

    def member_cameras(f: Fields) -> list[str] | None:
        cameras = f.names("cameras", privacy.ctx.cameras, required=False)
        return list(cameras) if cameras is not None else None

    async def create_account(request: web.Request) -> web.StreamResponse:
        require_roles(request, "owner")
        who = require_fresh(request)
        f = Fields(await read_json(request, limit, SETTING), "account")
        username = f.text("username", max_len=64)
        role = f.choice("role", ("owner", "member", "custodian"))
        cameras = member_cameras(f)
        f.done()
        if cameras is not None and role != "member":
            raise InvalidField("'cameras' limits a member; owners see every camera and custodians none")
        service = request.app[SERVICE]
        password = await service.create_account(username, role, actor=who)
        if cameras is not None:
            await service.set_cameras(who, username or "", cameras)
        return web.json_response(
            {"username": username, "role": role, "cameras": cameras, "one_time_password": password}, status=201
        )

    async def set_member_cameras(request: web.Request) -> web.StreamResponse:
        require_roles(request, "owner")
        who = require_fresh(request)
        f = Fields(await read_json(request, limit, SETTING), "camera choice")
        cameras = member_cameras(f)
        f.done()
        username = request.match_info["username"]
        await request.app[SERVICE].set_cameras(who, username, cameras)
        return web.json_response({"username": username, "cameras": cameras})

    async def upload_document(request: web.Request) -> web.StreamResponse:
        who = require_roles(request, "owner", "custodian")
        if request.content_type != "application/pdf":
            raise InvalidField(f"send the document as Content-Type application/pdf, not {request.content_type}")
        data = await read_body(request, privacy.ctx.config.max_document_bytes, "privacy.max_document_bytes")
        return web.json_response(await overrides.store_document(who, data), status=201)

    async def invoke(request: web.Request) -> web.StreamResponse:
        require_roles(request, "owner", "custodian")
        who = require_fresh(request)
        return web.json_response(await overrides.invoke(who, await read_json(request, limit, SETTING)), status=201)

    async def list_overrides(request: web.Request) -> web.StreamResponse:
        who = require_roles(request, "owner", "custodian")
        return web.json_response(await overrides.list(who))

    async def get_override(request: web.Request) -> web.StreamResponse:
        who = require_roles(request, "owner", "custodian")
        return web.json_response(await overrides.view(who, request.match_info["id"]))

    async def follow_up(request: web.Request) -> web.StreamResponse:
        require_roles(request, "owner", "custodian")
        who = require_fresh(request)
        body = await read_json(request, limit, SETTING)
        return web.json_response(await overrides.follow_up(who, request.match_info["id"], body))

    async def extend_delay(request: web.Request) -> web.StreamResponse:
        require_roles(request, "owner", "custodian")
        who = require_fresh(request)
        body = await read_json(request, limit, SETTING)
        return web.json_response(await overrides.extend_delay(who, request.match_info["id"], body))

    async def list_holds(request: web.Request) -> web.StreamResponse:
        return web.json_response(await holds.list(require_roles(request, "owner", "custodian")))

    async def place_hold(request: web.Request) -> web.StreamResponse:
        who = require_roles(request, "owner")
        return web.json_response(await holds.place_for_owner(who, await read_json(request, limit, SETTING)), status=201)

    async def renew_hold(request: web.Request) -> web.StreamResponse:
        who = require_roles(request, "owner", "custodian")
        return web.json_response(await holds.renew(who, request.match_info["id"]))

    async def release_hold(request: web.Request) -> web.StreamResponse:
        require_roles(request, "owner", "custodian")
        who = require_fresh(request)
        return web.json_response(await holds.release(who, request.match_info["id"]))

    async def notices(request: web.Request) -> web.StreamResponse:
        return web.json_response(await privacy.notices(require_roles(request, "owner")))

    report = transparency_route(privacy.ctx.audit, privacy.ctx.clock)
    requesters = Requesters(privacy.ctx, app[SERVICE])

    async def register(request: web.Request) -> web.StreamResponse:
        body = await read_json(request, limit, SETTING)
        return web.json_response(await requesters.register(body, request.remote or "unknown"), status=201)

    async def registrations(request: web.Request) -> web.StreamResponse:
        who = require_roles(request, "owner")
        state = request.query.get("state")
        if state is not None and state not in ("pending", "approved", "refused"):
            raise BadRequest(f"state must be pending, approved or refused, got {state!r}")
        return web.json_response(await requesters.list(who, state))

    async def decide_registration(request: web.Request) -> web.StreamResponse:
        who = require_roles(request, "owner")
        approve = request.match_info["verdict"] == "approve"
        return web.json_response(await requesters.decide(who, request.match_info["username"], approve))

    async def transparency(request: web.Request) -> web.StreamResponse:
        require_household(request)
        return await report(request)

    r = app.router
    r.add_post("/api/requests", submit)
    r.add_get("/api/requests", list_requests)
    r.add_get("/api/requests/{id}", get_request)
    r.add_get("/api/requests/{id}/clips", request_clips)
    r.add_post("/api/requests/{id}/decision", decide)
    r.add_post("/api/requests/{id}/revoke", revoke)
    r.add_post("/api/requests/{id}/release", retry_release)
    r.add_get("/api/share/{token}", share, allow_head=False)
    r.add_post("/api/requesters/tokens", issue_token)
    r.add_post("/api/accounts", create_account)
    r.add_post("/api/accounts/{username}/cameras", set_member_cameras)
    r.add_post("/api/documents", upload_document)
    r.add_post("/api/overrides", invoke)
    r.add_get("/api/overrides", list_overrides)
    r.add_get("/api/overrides/{id}", get_override)
    r.add_post("/api/overrides/{id}/follow-up", follow_up)
    r.add_post("/api/overrides/{id}/delay", extend_delay)
    r.add_get("/api/holds", list_holds)
    r.add_post("/api/holds", place_hold)
    r.add_post("/api/holds/{id}/renew", renew_hold)
    r.add_post("/api/holds/{id}/release", release_hold)
    r.add_get("/api/notices", notices)
    r.add_get("/api/transparency", transparency)
    r.add_post("/api/requesters/register", register)
    r.add_get("/api/requesters/registrations", registrations)
    r.add_post("/api/requesters/registrations/{username}/{verdict:approve|refuse}", decide_registration)
