"""Routes for outside requests for footage, the owners' decisions on them, and share-link downloads.

A requester (with its requester token) submits a request and follows it;
an owner lists requests, looks at the clips a request reaches, decides
(fresh password), revokes a release's share link or retries a failed
release. The share link is how a release leaves the house: anyone holding
its URL downloads the package, each download logged before its first byte.
The work is `camhub.privacy.consent` and `camhub.privacy.egress`.
"""

from __future__ import annotations

import asyncio
import os

from aiohttp import web

from camhub.auth import SERVICE, require_fresh, require_roles
from camhub.config import CAMERA_NAME
from camhub.errors import BadRequest
from camhub.http.apidoc import Schema, json_answer
from camhub.http.clips import MAX_ID
from camhub.http.routes import Routes
from camhub.privacy.consent import LEGAL_BASIS_MAX, STATES
from camhub.privacy.openapi import (
    CAMERAS,
    DEFAULTS,
    REQUEST,
    REQUEST_PARAM,
    SHARE_CONTENTS,
    TIME,
    error_answers,
    list_of,
    operation,
    path_param,
    text_schema,
)
from camhub.privacy.routes import PRIVACY, json_body
from camhub.privacy.share_links import TOKEN as SHARE_TOKEN

REQUEST_BODY: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["identity", "organisation", "contact", "purpose", "cameras", "start", "end", "wanted_by"],
    "properties": {
        "identity": text_schema(description="the person asking, as they name themselves"),
        "organisation": text_schema(),
        "contact": text_schema(description="how the owner can reach them"),
        "purpose": text_schema(2000),
        "case_reference": text_schema(description="optional case or incident number"),
        "legal_basis": text_schema(LEGAL_BASIS_MAX, "optional: the law, consent or agreement the requester asks under"),
        "cameras": CAMERAS,
        "start": {
            **TIME,
            "description": "window start, inclusive; the window must end in the past and last at most "
            f"privacy.max_window_hours (default {DEFAULTS.max_window_hours:g} h)",
        },
        "end": {**TIME, "description": "window end, exclusive; after start"},
        "wanted_by": {**TIME, "description": "when an answer is needed: in the future, within a year"},
    },
}
DECISION_BODY: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["decision"],
    "properties": {
        "decision": {
            "enum": ["approve", "narrow", "deny"],
            "description": f"policy privacy.decision_policy (default {DEFAULTS.decision_policy}): any owner decides, "
            "or all must approve; a denial is final",
        },
        "cameras": {**CAMERAS, "description": "narrow: a subset of the cameras asked for"},
        "start": {**TIME, "description": "narrow: a later start inside the window"},
        "end": {**TIME, "description": "narrow: an earlier end inside the window"},
        "clip_ids": {
            "type": "array",
            "minItems": 1,
            "items": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
            "description": "narrow: only these clips (from GET /api/requests/{id}/clips)",
        },
        "message": text_schema(2000, "shown to the requester"),
    },
}

ROUTES = Routes("requests")


@ROUTES.get(
    "/api/requesters/cameras",
    operation(
        "The camera names a request may name (requester token or owner), for the requester's form",
        "camera names, sorted",
        list_of({"type": "string", "pattern": CAMERA_NAME}),
        "401 403",
    ),
)
async def request_cameras(request: web.Request) -> web.StreamResponse:
    # Only names: a request naming an unknown camera is refused with these listed anyway.
    require_roles(request, "owner", "requester")
    return web.json_response(sorted(request.app[PRIVACY].consent.ctx.cameras))


@ROUTES.post(
    "/api/requests",
    operation(
        "A requester asks for footage (requester token)",
        "the request, pending",
        REQUEST,
        "400 401 403 413 429",
        body=REQUEST_BODY,
        status="201",
    ),
    audited=True,
)
async def submit(request: web.Request) -> web.StreamResponse:
    who = require_roles(request, "requester")
    body = await json_body(request)
    card = await request.app[SERVICE].requester_card(who.credential_id)
    return web.json_response(await request.app[PRIVACY].consent.submit(who, body, card), status=201)


@ROUTES.get(
    "/api/requests",
    {
        **operation("Requests: owners see all, a requester their own", "newest first", list_of(REQUEST), "400 401 403"),
        "parameters": [{"name": "state", "in": "query", "required": False, "schema": {"enum": list(STATES)}}],
    },
)
async def list_requests(request: web.Request) -> web.StreamResponse:
    who = require_roles(request, "owner", "requester")
    state = request.query.get("state")
    if state is not None and state not in STATES:
        raise BadRequest(f"state must be one of {', '.join(STATES)}, got {state!r}")
    return web.json_response(await request.app[PRIVACY].consent.list_for(who, state))


@ROUTES.get(
    "/api/requests/{id}",
    operation("One request (owner, or its requester)", "the request", REQUEST, "401 403 404", params=(REQUEST_PARAM,)),
)
async def get_request(request: web.Request) -> web.StreamResponse:
    who = require_roles(request, "owner", "requester")
    return web.json_response(await request.app[PRIVACY].consent.view(who, request.match_info["id"]))


@ROUTES.get(
    "/api/requests/{id}/clips",
    operation(
        "Owners: the clips the asked-for scope reaches, to choose from",
        "clip records",
        list_of({"type": "object"}),
        "401 403 404",
        params=(REQUEST_PARAM,),
    ),
)
async def request_clips(request: web.Request) -> web.StreamResponse:
    who = require_roles(request, "owner")
    return web.json_response(await request.app[PRIVACY].consent.clips(who, request.match_info["id"]))


@ROUTES.post(
    "/api/requests/{id}/decision",
    operation(
        "An owner approves, narrows or denies (fresh password); a final approval builds the package and a share link",
        "the request after the decision",
        REQUEST,
        "400 401 403 404 409 413",
        body=DECISION_BODY,
        params=(REQUEST_PARAM,),
    ),
    audited=True,
)
async def decide(request: web.Request) -> web.StreamResponse:
    require_roles(request, "owner")
    who = require_fresh(request)
    body = await json_body(request)
    return web.json_response(await request.app[PRIVACY].consent.decide(who, request.match_info["id"], body))


@ROUTES.post(
    "/api/requests/{id}/revoke",
    operation(
        "An owner revokes the share link of a release", "the request", REQUEST, "401 403 404", params=(REQUEST_PARAM,)
    ),
    audited=True,
)
async def revoke(request: web.Request) -> web.StreamResponse:
    who = require_roles(request, "owner")
    return web.json_response(await request.app[PRIVACY].consent.revoke(who, request.match_info["id"]))


@ROUTES.post(
    "/api/requests/{id}/release",
    operation(
        "An owner builds the package of an approved request whose release failed (fresh password)",
        "the request, with its share link",
        REQUEST,
        "401 403 404 409",
        params=(REQUEST_PARAM,),
    ),
    audited=True,
)
async def retry_release(request: web.Request) -> web.StreamResponse:
    require_roles(request, "owner")
    who = require_fresh(request)
    return web.json_response(await request.app[PRIVACY].consent.retry_release(who, request.match_info["id"]))


SHARE_OP = {
    "summary": "Download an export package through a share link (no login: the link is the credential); "
    f"each download is logged before its first byte; default {DEFAULTS.share_link_downloads} downloads "
    f"within {DEFAULTS.share_link_days:g} days",
    "parameters": [path_param("token", {"type": "string", "pattern": f"^{SHARE_TOKEN.pattern}$"})],
    "responses": {
        "200": {
            "description": "the package",
            "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
        },
        **error_answers("404 410"),
    },
}


SHARE_CONTENTS_OP = {
    "summary": "What a share link's package holds and what the link still allows, without using a download "
    "(no login: the link is the credential)",
    "parameters": SHARE_OP["parameters"],
    "responses": {
        "200": json_answer(SHARE_CONTENTS, "the package's scope and files, the link's downloads and expiry"),
        **error_answers("404 410"),
    },
}


@ROUTES.get("/api/share/{token}/contents", SHARE_CONTENTS_OP)
async def share_contents(request: web.Request) -> web.StreamResponse:
    egress = request.app[PRIVACY].egress
    contents = await egress.contents(request.match_info["token"])
    return web.json_response(contents, headers={"Cache-Control": "no-store"})


# Logged before its first byte, so declared audited although it is a GET.
@ROUTES.route("GET", "/api/share/{token}", SHARE_OP, audited=True)
async def share(request: web.Request) -> web.StreamResponse:
    # Every GET is one whole download, logged before its first byte: no HEAD, Range or
    # conditional requests, which would count a download and send nothing or a part.
    if request.method != "GET":
        raise web.HTTPMethodNotAllowed(request.method, ["GET"])
    egress = request.app[PRIVACY].egress
    path, export_id = await egress.open_download(request.match_info["token"], request.remote or "unknown")
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
