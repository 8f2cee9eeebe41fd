"""Routes for discovered devices and adopted cameras.

`GET /api/discovered` lists what discovery heard (household); adopting a
device, ignoring it and removing an adopted camera are owner actions with a
fresh password, and adopting and removing are written to the audit log
before they take effect. No answer carries a credential.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from camhub.auth import household_only, require_fresh, require_roles
from camhub.config import CAMERA_NAME
from camhub.discovery.service import Choice, Discovery
from camhub.discovery.table import STATES
from camhub.errors import BadRequest
from camhub.http.apidoc import SESSION_OR_TOKEN, Schema, error_answer, json_answer
from camhub.http.bodies import read_json
from camhub.http.routes import Routes

DISCOVERY: web.AppKey[Discovery] = web.AppKey("discovery")
# Largest adopt or ignore body: a name, two URLs and credentials.
MAX_BODY = 8192
MAX_URL = 1024
MAX_CREDENTIAL = 256

DEVICE: Schema = {
    "type": "object",
    "required": ["id", "state", "name", "kinds", "address", "adoptable", "streams"],
    "properties": {
        "id": {"type": "string", "description": "stable for the device: from its MAC, serial, or host and port"},
        "state": {"enum": list(STATES)},
        "name": {"type": "string", "description": "as announced; untrusted text, escape it when shown"},
        "kinds": {"type": "array", "items": {"enum": ["zeroconf", "onvif"]}},
        "integrations": {"type": "array", "items": {"type": "string"}},
        "address": {"type": ["string", "null"], "description": "host:port of its latest announcement"},
        "maker": {"type": "string"},
        "model": {"type": "string"},
        "mac": {"type": ["string", "null"]},
        "serial": {"type": "string"},
        "first_seen": {"type": "number", "description": "Unix seconds"},
        "last_seen": {"type": "number", "description": "Unix seconds"},
        "adoptable": {"type": "boolean"},
        "why_not": {"type": ["string", "null"], "description": "why it cannot be adopted now"},
        "camera": {"type": ["string", "null"], "description": "the camera it is, once adopted or configured"},
        "configured": {"type": "boolean", "description": "known from the config file"},
        "streams": {"type": "array", "items": {"type": "object"}},
        "record": {"type": ["string", "null"], "description": "suggested record stream"},
        "detect": {"type": ["string", "null"], "description": "suggested detect stream (the smallest)"},
        "onvif": {"type": "boolean", "description": "its streams can be read from ONVIF with credentials"},
    },
}
DEVICE_REF: Schema = {"$ref": "#/components/schemas/DiscoveredDevice"}
ID_PARAM: Schema = {"name": "id", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 64}}
ERRORS = {
    "400": "bad_request: a field is missing, mistyped or unknown, or a URL is not a stream of this device",
    "401": "login_required, or reauth_required: adopting and removing need a password typed within 300 s",
    "403": "forbidden: only owners adopt, ignore and remove",
    "404": "not_found: no such device or adopted camera",
    "409": "adoption_refused: already a camera, not adoptable (why_not says why), or the name is taken",
    "413": f"payload_too_large: a body over {MAX_BODY} bytes",
    "422": "unreachable | auth_failed | no_video | unsupported_codec | timeout | unsupported_url: a chosen "
    "stream failed its test (the message names the stream and what to try); nothing was kept",
    "503": "audit_unavailable: the audit log cannot be written, so nothing was done",
}


def _op(summary: str, ok: Schema | None, errors: str, **extra: Any) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "security": SESSION_OR_TOKEN,
        "responses": {
            extra.pop("status", "200"): json_answer(ok, "done") if ok else {"description": "done"},
            **{code: error_answer(ERRORS[code]) for code in errors.split()},
        },
    }
    return {**op, **extra}


ROUTES = Routes("discovery", schemas={"DiscoveredDevice": DEVICE})


@ROUTES.get(
    "/api/discovered",
    _op("Devices heard on the network, adopted or not", {"type": "array", "items": DEVICE_REF}, "401 403"),
    household=True,
)
@household_only
async def list_discovered(request: web.Request) -> web.StreamResponse:
    return web.json_response(request.app[DISCOVERY].table.views())


ADOPT_BODY: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "pattern": CAMERA_NAME, "description": "the new camera's name"},
        "username": {"type": "string", "maxLength": MAX_CREDENTIAL},
        "password": {"type": "string", "maxLength": MAX_CREDENTIAL, "description": "kept 0600, never returned"},
        "record": {"type": "string", "maxLength": MAX_URL, "description": "left out: the device's main stream"},
        "detect": {"type": "string", "maxLength": MAX_URL, "description": "left out: its smallest stream"},
    },
}
ADOPT_OP = _op(
    "An owner adopts a device as a camera (fresh password): each stream is tested first, then the adoption is "
    "logged, kept and the camera starts recording",
    {
        "type": "object",
        "properties": {"camera": {"type": "string"}, "device": DEVICE_REF, "streams": {"type": "object"}},
    },
    "400 401 403 404 409 413 422 503",
    status="201",
    parameters=[ID_PARAM],
    requestBody={"required": True, "content": {"application/json": {"schema": ADOPT_BODY}}},
)


@ROUTES.post("/api/discovered/{id}/adopt", ADOPT_OP, audited=True)
async def adopt(request: web.Request) -> web.StreamResponse:
    require_roles(request, "owner")
    who = require_fresh(request)
    body = await read_json(request, MAX_BODY)
    unknown = sorted(set(body) - set(ADOPT_BODY["properties"]))
    if unknown:
        raise BadRequest(f"unknown field {unknown[0]!r}; known: {', '.join(ADOPT_BODY['properties'])}")
    name = _text(body, "name", 63, required=True)
    if name is None or not re.match(CAMERA_NAME, name):
        raise BadRequest(f"'name' must be lower-case letters, digits, '-' and '_' (pattern {CAMERA_NAME})")
    choice = Choice(
        name=name,
        username=_text(body, "username", MAX_CREDENTIAL),
        password=_text(body, "password", MAX_CREDENTIAL),
        record=_text(body, "record", MAX_URL),
        detect=_text(body, "detect", MAX_URL),
    )
    answer = await request.app[DISCOVERY].adopt(who, request.match_info["id"], choice)
    return web.json_response(answer, status=201)


IGNORE_OP = _op(
    "An owner ignores a discovered device, or takes it back (ignored: false)",
    DEVICE_REF,
    "400 401 403 404 409 413",
    parameters=[ID_PARAM],
    requestBody={
        "required": False,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {"ignored": {"type": "boolean"}},
                }
            }
        },
    },
)


@ROUTES.post("/api/discovered/{id}/ignore", IGNORE_OP)
async def ignore(request: web.Request) -> web.StreamResponse:
    who = require_roles(request, "owner")
    body = await read_json(request, MAX_BODY) if request.can_read_body else {}
    if set(body) - {"ignored"} or not isinstance(body.get("ignored", True), bool):
        raise BadRequest('the body is {"ignored": true} or {"ignored": false}')
    view = await request.app[DISCOVERY].ignore(who, request.match_info["id"], bool(body.get("ignored", True)))
    return web.json_response(view)


REMOVE_OP = _op(
    "An owner removes an adopted camera (fresh password): logged, stopped and forgotten; its clips stay under "
    "retention",
    None,
    "401 403 404 503",
    status="204",
    parameters=[{"name": "name", "in": "path", "required": True, "schema": {"type": "string", "pattern": CAMERA_NAME}}],
)


@ROUTES.delete("/api/cameras/{name}", REMOVE_OP, audited=True)
async def remove(request: web.Request) -> web.StreamResponse:
    require_roles(request, "owner")
    who = require_fresh(request)
    await request.app[DISCOVERY].remove(who, request.match_info["name"])
    return web.Response(status=204)


def _text(body: dict[str, Any], key: str, max_len: int, required: bool = False) -> str | None:
    value = body.get(key)
    if value is None:
        if required:
            raise BadRequest(f"'{key}' is required")
        return None
    if not isinstance(value, str) or not value or len(value) > max_len or not value.isprintable():
        raise BadRequest(f"'{key}' must be printable text of 1 to {max_len} characters")
    return value
