"""HTTP routes for the audit log, and their OpenAPI paths.

`ROUTES` serves the latest signed checkpoint (text/plain, for witnesses and
the MQTT retained copy), the verifier key, inclusion proofs and consistency
proofs, from the log the app holds under `AUDIT_LOG`; `AUDIT_GUARD`, when the
app sets it, may refuse to show an entry (who may read which).

For the dashboard's audit page: the recent entries, newest first, a page at
a time (each through the guard; what it refuses is left out), and whether the
log verifies (`camhub.audit.verify`, the same check as `camhub audit verify`,
run on a worker thread once per signed checkpoint and remembered until the
next, so asking again costs nothing).
Errors are `HubError`s, so the app's error middleware answers them as JSON.
"""

from __future__ import annotations

import asyncio
import base64
import json
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from camhub.audit.errors import AuditError, VerificationFailed
from camhub.audit.log import AuditLog
from camhub.audit.verify import verify_log
from camhub.auth import require_roles
from camhub.errors import BadRequest, NotFound
from camhub.http.apidoc import SESSION_OR_TOKEN, error_answer, json_answer, text_answer
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


# Who may read entries at all (the guard then decides entry by entry), and whether the log verifies.
READERS = ("owner", "member", "custodian")
PAGE_MAX = 100  # entries one page may scan


async def _visible(request: web.Request, entries: list[tuple[int, bytes]]) -> list[dict[str, Any]]:
    """The entries the caller may read, as JSON objects, newest first."""
    guard = request.app.get(AUDIT_GUARD)
    shown = []
    for _, data in reversed(entries):
        entry = json.loads(data)
        if guard is not None:
            try:
                await guard(request, entry)
            except NotFound:
                continue
        shown.append(entry)
    return shown


ENTRIES_OP: dict[str, Any] = {
    "summary": (
        "Recent audit entries, newest first, a page at a time: the entries below index `before`, at most `limit` "
        "of them scanned; those the caller may not read (see the proof route) are left out"
    ),
    "security": SESSION_OR_TOKEN,
    "parameters": [
        {
            "name": "before",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 0, "maximum": _MAX_SIZE},
            "description": "scan entries below this index (default: the log's size, so the newest first)",
        },
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 1, "maximum": PAGE_MAX},
            "description": f"how many indexes to scan (default 25, at most {PAGE_MAX})",
        },
    ],
    "responses": {
        "200": json_answer(
            {
                "type": "object",
                "required": ["size", "entries", "next_before"],
                "properties": {
                    "size": {"type": "integer", "description": "entries in the log (its latest checkpoint's size)"},
                    "entries": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["actor", "event", "fields", "index", "time_ms"],
                            "description": "a stored entry, parsed (docs/audit.md)",
                        },
                    },
                    "next_before": {
                        "type": ["integer", "null"],
                        "description": "`before` for the next, older page; null when entry 0 was reached",
                    },
                },
            },
            "one page of entries",
        ),
        "400": error_answer("bad_request: before or limit is not an integer in range"),
        "401": error_answer("login_required: no valid session or token"),
        "403": error_answer("forbidden: requesters may not read entries"),
    },
}


@ROUTES.get("/api/audit/entries", ENTRIES_OP)
async def entries(request: web.Request) -> web.Response:
    require_roles(request, *READERS)
    log = request.app[AUDIT_LOG]
    size = log.size
    asked = _int(request, "before", request.query.get("before", str(size)))
    limit = _int(request, "limit", request.query.get("limit", "25"))
    if not 0 <= asked <= _MAX_SIZE or not 1 <= limit <= PAGE_MAX:
        raise BadRequest(
            f"before must be from 0 to {_MAX_SIZE} and limit from 1 to {PAGE_MAX}; got {asked} and {limit}"
        )
    before = min(asked, size)  # past the end of the log: its newest entries
    start = max(0, before - limit)
    try:
        found = await log.entries(start, before)
    except AuditError as exc:
        raise NotFound(str(exc)) from None
    shown = await _visible(request, found)
    return web.json_response({"size": size, "entries": shown, "next_before": start if start > 0 else None})


VERIFY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["verified", "size", "checkpoints", "origin", "key", "message", "entry", "checked_s"],
    "properties": {
        "verified": {"type": "boolean"},
        "size": {"type": ["integer", "null"], "description": "entries verified; null when it failed"},
        "checkpoints": {"type": ["integer", "null"], "description": "signed checkpoints verified"},
        "origin": {"type": "string"},
        "key": {"type": ["string", "null"], "description": "the verifier key the log names as active"},
        "message": {"type": ["string", "null"], "description": "when it failed: what, naming the first bad entry"},
        "entry": {"type": ["integer", "null"], "description": "the first bad entry's index, when one is named"},
        "checked_s": {"type": "integer", "description": "Unix seconds (the hub's clock) the check ran"},
    },
}
VERIFY_OP: dict[str, Any] = {
    "summary": (
        "Whether the audit log verifies: every leaf hash, root and checkpoint signature, as `camhub audit verify` "
        "checks them; run once per signed checkpoint"
    ),
    "security": SESSION_OR_TOKEN,
    "responses": {
        "200": json_answer(VERIFY_SCHEMA, "the verification's result (a failed one is a 200 with verified false)"),
        "401": error_answer("login_required: no valid session or token"),
        "403": error_answer("forbidden: requesters may not ask"),
    },
}


class _Verified:
    """The last verification of one open log, kept until its latest checkpoint changes."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()  # one verification at a time; callers meanwhile wait for its result
        self.note: str | None = None
        self.result: dict[str, Any] = {}


_VERIFIED: weakref.WeakKeyDictionary[AuditLog, _Verified] = weakref.WeakKeyDictionary()


def _verify_now(log: AuditLog) -> dict[str, Any]:
    """Verify the log's folder as the command line does; a failure is a result, not an error."""
    checked = int(log.clock())
    try:
        report = verify_log(log.folder.parent)
    except (VerificationFailed, AuditError) as exc:
        entry = exc.entry if isinstance(exc, VerificationFailed) else None
        return {
            "verified": False,
            "size": None,
            "checkpoints": None,
            "origin": log.origin,
            "key": None,
            "message": str(exc),
            "entry": entry,
            "checked_s": checked,
        }
    return {
        "verified": True,
        "size": report.size,
        "checkpoints": report.checkpoints,
        "origin": report.origin,
        "key": report.key,
        "message": None,
        "entry": None,
        "checked_s": checked,
    }


@ROUTES.get("/api/audit/verify", VERIFY_OP)
async def verify(request: web.Request) -> web.Response:
    require_roles(request, *READERS)
    log = request.app[AUDIT_LOG]
    state = _VERIFIED.setdefault(log, _Verified())
    async with state.lock:
        note = log.latest.note
        if state.note != note:
            state.result = await asyncio.to_thread(_verify_now, log)
            state.note = note
    return web.json_response(state.result)
