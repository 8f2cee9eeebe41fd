"""HTTP routes for the audit log, and their OpenAPI paths.

`ROUTES` serves the latest signed checkpoint (text/plain, for witnesses and
the MQTT retained copy), the verifier key, inclusion proofs and consistency
proofs, from the log the app holds under `AUDIT_LOG`; `AUDIT_GUARD`, when the
app sets it, may refuse to show an entry (who may read which).
Errors are `HubError`s, so the app's error middleware answers them as JSON.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from camhub.audit.errors import AuditError
from camhub.audit.log import AuditLog
from camhub.errors import BadRequest, NotFound
from camhub.http.apidoc import SESSION_OR_TOKEN, error_answer, text_answer
from camhub.http.routes import Routes


def _int(request: web.Request, name: str, value: str | None) -> int:
    try:
        return int(value if value is not None else "")
    except ValueError:
        raise BadRequest(f"{name} must be an integer, got {value if value is None else value[:40]!r}") from None


EntryGuard = Callable[[web.Request, dict[str, Any]], Awaitable[None]]
# The app's open log, for /api/health to say whether it can be written.
AUDIT_LOG = web.AppKey("audit_log", AuditLog)
AUDIT_GUARD: web.AppKey[EntryGuard] = web.AppKey("audit_guard")


_HASHES = {"type": "array", "items": {"type": "string", "description": "base64 SHA-256"}}
# Sizes and indexes count the log's SQLite rows, so none exceeds SQLite's largest integer.
_MAX_SIZE = 2**63 - 1
_SIZE = {"type": "integer", "minimum": 1, "maximum": _MAX_SIZE}

CHECKPOINT_OP: dict[str, Any] = {
    "summary": "The latest signed checkpoint (C2SP tlog-checkpoint signed note)",
    "responses": {"200": text_answer("signed note: origin, size, base64 root, time line, signatures")},
}
KEY_OP: dict[str, Any] = {
    "summary": "The log's verifier key (<name>+<key id>+<base64 key>)",
    "responses": {"200": text_answer("verifier key")},
}
PROOF_OP: dict[str, Any] = {
    "summary": (
        "An entry with its RFC 9162 inclusion proof. Entries name people, so only the household and "
        "custodians may read them; a login entry (owner_logged_in, owner_login_failed, login_lockout) "
        "answers 404 to members and custodians unless it is about their own account, and an entry "
        "about an override whose notice is delayed answers 404 to all but its invoker"
    ),
    "security": SESSION_OR_TOKEN,
    "parameters": [
        {
            "name": "index",
            "in": "path",
            "required": True,
            "schema": {"type": "integer", "minimum": 0, "maximum": _MAX_SIZE - 1},
        },
        {
            "name": "size",
            "in": "query",
            "required": False,
            "schema": _SIZE,
            "description": "tree size to prove against (default: the latest)",
        },
    ],
    "responses": {
        "200": {
            "description": "the proof",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["index", "tree_size", "entry", "proof", "checkpoint"],
                        "properties": {
                            "index": {"type": "integer"},
                            "tree_size": {"type": "integer"},
                            "entry": {"type": "string", "description": "canonical JSON, the leaf data"},
                            "proof": _HASHES,
                            "checkpoint": {"type": ["string", "null"]},
                        },
                    }
                }
            },
        },
        "400": error_answer("bad_request: index or size is not an integer"),
        "401": error_answer("login_required: no valid session or token "),
        "403": error_answer("forbidden: requesters may not read entries "),
        "404": error_answer("not_found: no such entry at that size, or a sealed one"),
    },
}
CONSISTENCY_OP: dict[str, Any] = {
    "summary": "An RFC 9162 consistency proof between two tree sizes",
    "parameters": [
        {
            "name": "old",
            "in": "query",
            "required": True,
            "schema": {"type": "integer", "minimum": 0, "maximum": _MAX_SIZE},
        },
        {"name": "new", "in": "query", "required": False, "schema": _SIZE},
    ],
    "responses": {
        "200": {
            "description": "the proof",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["old", "new", "proof"],
                        "properties": {
                            "old": {"type": "integer"},
                            "new": {"type": "integer"},
                            "proof": _HASHES,
                        },
                    }
                }
            },
        },
        "400": error_answer("bad_request: old or new is not an integer, or the sizes are out of range"),
    },
}

ROUTES = Routes("audit")


@ROUTES.get("/api/audit/checkpoint", CHECKPOINT_OP)
async def checkpoint(request: web.Request) -> web.Response:
    return web.Response(text=request.app[AUDIT_LOG].latest.note, content_type="text/plain")


@ROUTES.get("/api/audit/key", KEY_OP)
async def key(request: web.Request) -> web.Response:
    return web.Response(text=str(request.app[AUDIT_LOG].verifier_key) + "\n", content_type="text/plain")


@ROUTES.get("/api/audit/proof/{index}", PROOF_OP)
async def proof(request: web.Request) -> web.Response:
    log = request.app[AUDIT_LOG]
    index = _int(request, "index", request.match_info["index"])
    size = _int(request, "size", request.query.get("size", str(log.size)))
    try:
        hashes = await log.inclusion_proof(index, size)
        entry = await log.entry(index)
    except AuditError as exc:
        raise NotFound(str(exc)) from None
    guard = request.app.get(AUDIT_GUARD)
    if guard is not None:
        await guard(request, json.loads(entry))
    latest = log.latest
    return web.json_response(
        {
            "index": index,
            "tree_size": size,
            "entry": entry.decode(),
            "proof": [base64.b64encode(h).decode() for h in hashes],
            "checkpoint": latest.note if latest.size == size else None,
        }
    )


@ROUTES.get("/api/audit/consistency", CONSISTENCY_OP)
async def consistency(request: web.Request) -> web.Response:
    log = request.app[AUDIT_LOG]
    old = _int(request, "old", request.query.get("old"))
    new = _int(request, "new", request.query.get("new", str(log.size)))
    try:
        hashes = await log.consistency_proof(old, new)
    except AuditError as exc:
        raise BadRequest(str(exc)) from None
    return web.json_response({"old": old, "new": new, "proof": [base64.b64encode(h).decode() for h in hashes]})
