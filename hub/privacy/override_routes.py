"""Routes for legal process: documents, overrides (invoke, follow up, delay notice) and holds.

An owner or custodian uploads the legal document, then invokes an override
naming it (fresh password); files an emergency's follow-up and, on a
further order, delays the owners' notice again. Owners place holds, and
owners and custodians renew and release them (releasing with a fresh
password). The work is `camhub.privacy.overrides`, `camhub.privacy.documents`
and `camhub.privacy.holds`.
"""

from __future__ import annotations

from aiohttp import web

from camhub.auth import require_fresh, require_roles
from camhub.http.apidoc import Schema
from camhub.http.bodies import read_body
from camhub.http.routes import Routes
from camhub.privacy.documents import SHA256
from camhub.privacy.holds import MAX_HOLD_WINDOW_S
from camhub.privacy.legal_process import FOLLOW_UP_KINDS, INVOKERS, KINDS, NEEDS_JUDGE
from camhub.privacy.openapi import (
    CAMERAS,
    DEFAULTS,
    HOLD,
    HOLD_PARAM,
    OVERRIDE,
    OVERRIDE_PARAM,
    TIME,
    list_of,
    operation,
    text_schema,
)
from camhub.privacy.overrides import NOTICES
from camhub.privacy.routes import PRIVACY, json_body
from camhub.privacy.scope import InvalidField

ROUTES = Routes("overrides")

DOCUMENT_SHA256: Schema = {
    "type": "string",
    "pattern": SHA256.pattern,
    "description": "a document uploaded to /api/documents",
}
# How far one delay of the owners' notice may reach.
LONGEST_DELAY = f"privacy.max_notice_delay_days (default {DEFAULTS.max_notice_delay_days:g})"


@ROUTES.post(
    "/api/documents",
    {
        **operation(
            "Upload a legal document (PDF, at most privacy.max_document_bytes, "
            f"default {DEFAULTS.max_document_bytes}) for an override to name by SHA-256; owners and custodians",
            "stored",
            {"type": "object", "properties": {"sha256": {"type": "string"}, "bytes": {"type": "integer"}}},
            "400 401 403 413",
            status="201",
        ),
        "requestBody": {
            "required": True,
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
        },
    },
    audited=True,
)
async def upload_document(request: web.Request) -> web.StreamResponse:
    who = require_roles(request, *INVOKERS)
    if request.content_type != "application/pdf":
        raise InvalidField(f"send the document as Content-Type application/pdf, not {request.content_type}")
    privacy = request.app[PRIVACY]
    data = await read_body(request, privacy.ctx.config.max_document_bytes, "privacy.max_document_bytes")
    return web.json_response(await privacy.documents.store(who, data), status=201)


OVERRIDE_BODY: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "kind",
        "authority",
        "jurisdiction",
        "case_number",
        "issued",
        "agency",
        "officer_contact",
        "cameras",
        "start",
        "end",
        "document_sha256",
        "notice",
    ],
    "properties": {
        "kind": {"enum": list(KINDS), "description": "preservation places a hold and releases nothing"},
        "authority": text_schema(description="issuing authority"),
        "jurisdiction": text_schema(),
        "case_number": text_schema(),
        "judge": text_schema(description=f"required for {' and '.join(NEEDS_JUDGE)}"),
        "issued": {**TIME, "description": "date issued; not in the future"},
        "agency": text_schema(description="requesting agency"),
        "officer_contact": text_schema(),
        "cameras": CAMERAS,
        "start": {**TIME, "description": "same bounds as a request's window"},
        "end": TIME,
        "document_sha256": DOCUMENT_SHA256,
        "notice": {"enum": list(NOTICES), "description": "none: owners are told at once"},
        "notice_delayed_until": {
            **TIME,
            "description": f"with notice=delayed: in the future, at most {LONGEST_DELAY} days away",
        },
        "delay_ordered_by": text_schema(description="with notice=delayed: who ordered or certified the delay"),
        "delay_provision": text_schema(description="optional: under which provision"),
    },
}


@ROUTES.post(
    "/api/overrides",
    operation(
        "Invoke a legal-process override (owner or custodian, fresh password); logged before any release",
        "the override, with its share link unless it is a preservation order",
        OVERRIDE,
        "400 401 403 413",
        body=OVERRIDE_BODY,
        status="201",
    ),
    audited=True,
)
async def invoke(request: web.Request) -> web.StreamResponse:
    require_roles(request, *INVOKERS)
    who = require_fresh(request)
    return web.json_response(await request.app[PRIVACY].overrides.invoke(who, await json_body(request)), status=201)


@ROUTES.get(
    "/api/overrides",
    operation(
        "Overrides whose owners' notice was sent, and those the caller invoked",
        "newest first",
        list_of(OVERRIDE),
        "401 403",
    ),
)
async def list_overrides(request: web.Request) -> web.StreamResponse:
    who = require_roles(request, *INVOKERS)
    return web.json_response(await request.app[PRIVACY].overrides.list_for(who))


@ROUTES.get(
    "/api/overrides/{id}",
    operation(
        "One override (hidden from others while its notice is delayed)",
        "the override",
        OVERRIDE,
        "401 403 404",
        params=(OVERRIDE_PARAM,),
    ),
)
async def get_override(request: web.Request) -> web.StreamResponse:
    who = require_roles(request, *INVOKERS)
    return web.json_response(await request.app[PRIVACY].overrides.view(who, request.match_info["id"]))


FOLLOW_UP_BODY: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["kind", "case_number", "document_sha256"],
    "properties": {
        "kind": {"enum": list(FOLLOW_UP_KINDS)},
        "case_number": text_schema(),
        "document_sha256": DOCUMENT_SHA256,
    },
}


@ROUTES.post(
    "/api/overrides/{id}/follow-up",
    operation(
        "File the legal process that follows an emergency override (fresh password)",
        "the override",
        OVERRIDE,
        "400 401 403 404 413",
        body=FOLLOW_UP_BODY,
        params=(OVERRIDE_PARAM,),
    ),
    audited=True,
)
async def follow_up(request: web.Request) -> web.StreamResponse:
    require_roles(request, *INVOKERS)
    who = require_fresh(request)
    body = await json_body(request)
    return web.json_response(await request.app[PRIVACY].overrides.follow_up(who, request.match_info["id"], body))


DELAY_BODY: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["notice_delayed_until", "delay_ordered_by"],
    "properties": {
        "notice_delayed_until": {
            **TIME,
            "description": f"after the current date, at most {LONGEST_DELAY} days from now",
        },
        "delay_ordered_by": text_schema(),
        "delay_provision": text_schema(),
    },
}


@ROUTES.post(
    "/api/overrides/{id}/delay",
    operation(
        "A further order delays the owners' notice again, while it is still delayed (invoker, fresh password)",
        "the override",
        OVERRIDE,
        "400 401 403 404 413",
        params=(OVERRIDE_PARAM,),
        body=DELAY_BODY,
    ),
    audited=True,
)
async def extend_delay(request: web.Request) -> web.StreamResponse:
    require_roles(request, *INVOKERS)
    who = require_fresh(request)
    body = await json_body(request)
    return web.json_response(await request.app[PRIVACY].overrides.extend_delay(who, request.match_info["id"], body))


@ROUTES.get(
    "/api/privacy/cameras",
    operation(
        "The camera names an override or a hold may name: every configured camera, recording now or not "
        "(a camera switched off still has footage); owners and custodians",
        "names, sorted",
        {"type": "array", "items": {"type": "string"}},
        "401 403",
    ),
)
async def camera_names(request: web.Request) -> web.StreamResponse:
    require_roles(request, *INVOKERS)
    return web.json_response(sorted(request.app[PRIVACY].ctx.cameras))


@ROUTES.get("/api/holds", operation("Holds (owners)", "newest first", list_of(HOLD), "401 403"))
async def list_holds(request: web.Request) -> web.StreamResponse:
    return web.json_response(await request.app[PRIVACY].holds.list_for(require_roles(request, "owner", "custodian")))


HOLD_BODY: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["cameras", "start", "end"],
    "properties": {
        "cameras": CAMERAS,
        "start": TIME,
        "end": {**TIME, "description": f"at most {MAX_HOLD_WINDOW_S // 86400} days after start"},
    },
}


@ROUTES.post(
    "/api/holds",
    operation("An owner keeps clips from retention", "the hold", HOLD, "400 401 403 413", body=HOLD_BODY, status="201"),
    audited=True,
)
async def place_hold(request: web.Request) -> web.StreamResponse:
    who = require_roles(request, "owner")
    hold = await request.app[PRIVACY].holds.place_for_owner(who, await json_body(request))
    return web.json_response(hold, status=201)


@ROUTES.post(
    "/api/holds/{id}/renew",
    operation("Renew a hold for privacy.hold_days more", "the hold", HOLD, "401 403 404", params=(HOLD_PARAM,)),
    audited=True,
)
async def renew_hold(request: web.Request) -> web.StreamResponse:
    who = require_roles(request, "owner", "custodian")
    return web.json_response(await request.app[PRIVACY].holds.renew(who, request.match_info["id"]))


@ROUTES.post(
    "/api/holds/{id}/release",
    operation("Release a hold (fresh password)", "the hold", HOLD, "401 403 404", params=(HOLD_PARAM,)),
    audited=True,
)
async def release_hold(request: web.Request) -> web.StreamResponse:
    require_roles(request, "owner", "custodian")
    who = require_fresh(request)
    return web.json_response(await request.app[PRIVACY].holds.release(who, request.match_info["id"]))
