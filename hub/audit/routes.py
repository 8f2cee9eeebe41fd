"""HTTP routes for the audit log, and their OpenAPI paths.

`add_routes(app, log)` serves the latest signed checkpoint (text/plain, for
witnesses and the MQTT retained copy), the verifier key, inclusion proofs and
consistency proofs. `OPENAPI_PATHS` is merged into hub/openapi.py's document.
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


def _int(request: web.Request, name: str, value: str | None) -> int:
    try:
        return int(value if value is not None else "")
    except ValueError:
        raise BadRequest(f"{name} must be an integer, got {value if value is None else value[:40]!r}") from None


EntryGuard = Callable[[web.Request, dict[str, Any]], Awaitable[None]]
# The app's open log, for /api/health to say whether it can be written.
AUDIT_LOG = web.AppKey("audit_log", AuditLog)


def add_routes(app: web.Application, log: AuditLog, guard: EntryGuard | None = None) -> None:
    """Serve the routes; `guard(request, entry)` may raise to refuse showing an entry (who may read which)."""
    app[AUDIT_LOG] = log

    async def checkpoint(request: web.Request) -> web.Response:
        return web.Response(text=log.latest.note, content_type="text/plain")

    async def key(request: web.Request) -> web.Response:
        return web.Response(text=str(log.verifier_key) + "\n", content_type="text/plain")

    async def proof(request: web.Request) -> web.Response:
        index = _int(request, "index", request.match_info["index"])
        size = _int(request, "size", request.query.get("size", str(log.size)))
        try:
            hashes = await log.inclusion_proof(index, size)
            entry = await log.entry(index)
        except AuditError as exc:
            raise NotFound(str(exc)) from None
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

    async def consistency(request: web.Request) -> web.Response:
        old = _int(request, "old", request.query.get("old"))
        new = _int(request, "new", request.query.get("new", str(log.size)))
        try:
            hashes = await log.consistency_proof(old, new)
        except AuditError as exc:
            raise BadRequest(str(exc)) from None
        return web.json_response({"old": old, "new": new, "proof": [base64.b64encode(h).decode() for h in hashes]})

    app.router.add_get("/api/audit/checkpoint", checkpoint)
    app.router.add_get("/api/audit/key", key)
    app.router.add_get("/api/audit/proof/{index}", proof)
    app.router.add_get("/api/audit/consistency", consistency)


_TEXT = {"content": {"text/plain": {"schema": {"type": "string"}}}}
_ERROR = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_HASHES = {"type": "array", "items": {"type": "string", "description": "base64 SHA-256"}}
# Sizes and indexes count the log's SQLite rows, so none exceeds SQLite's largest integer.
_MAX_SIZE = 2**63 - 1
_SIZE = {"type": "integer", "minimum": 1, "maximum": _MAX_SIZE}

OPENAPI_PATHS: dict[str, Any] = {
    "/api/audit/checkpoint": {
        "get": {
            "summary": "The latest signed checkpoint (C2SP tlog-checkpoint signed note)",
            "responses": {
                "200": {"description": "signed note: origin, size, base64 root, time line, signatures", **_TEXT}
            },
        }
    },
    "/api/audit/key": {
        "get": {
            "summary": "The log's verifier key (<name>+<key id>+<base64 key>)",
            "responses": {"200": {"description": "verifier key", **_TEXT}},
        }
    },
    "/api/audit/proof/{index}": {
        "get": {
            "summary": (
                "An entry with its RFC 9162 inclusion proof. Entries name people, so only the household and "
                "custodians may read them; a login entry (owner_logged_in, owner_login_failed, login_lockout) "
                "answers 404 to members and custodians unless it is about their own account, and an entry "
                "about an override whose notice is delayed answers 404 to all but its invoker"
            ),
            "security": [{"sessionCookie": []}, {"bearerToken": []}],
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
                "400": {"description": "bad_request: index or size is not an integer", **_ERROR},
                "401": {"description": "login_required: no valid session or token ", **_ERROR},
                "403": {"description": "forbidden: requesters may not read entries ", **_ERROR},
                "404": {"description": "not_found: no such entry at that size, or a sealed one", **_ERROR},
            },
        }
    },
    "/api/audit/consistency": {
        "get": {
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
                "400": {
                    "description": "bad_request: old or new is not an integer, or the sizes are out of range",
                    **_ERROR,
                },
            },
        }
    },
}
