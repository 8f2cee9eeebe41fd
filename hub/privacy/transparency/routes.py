"""Routes for what the household is told: the owners' notices and the transparency report.

`GET /api/notices` lists what owners were told (requests waiting or
expired, registrations, overrides, missed follow-ups; never footage).
`GET /api/transparency[?month=YYYY-MM]` serves the report computed from the
audit log (`camhub.privacy.transparency.tally`) to household members, as JSON of
`REPORT_SCHEMA`, read up to the log's latest checkpoint.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from camhub.audit.log import AuditLog
from camhub.auth import require_household, require_roles
from camhub.http.apidoc import ERROR, SESSION_OR_TOKEN, Schema, json_answer
from camhub.http.routes import Routes
from camhub.privacy.openapi import SECONDS, error_answers, list_of, operation
from camhub.privacy.routes import PRIVACY
from camhub.privacy.transparency.source import report_for_log
from camhub.privacy.transparency.tally import LAYOUT, MONTH, check_month

ROUTES = Routes("transparency")

NOTICE: Schema = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "kind": {
            "enum": [
                "request_received",
                "request_expired",
                "requester_registered",
                "override",
                "follow_up_missed",
                "camera_name_clash",
            ]
        },
        "subject": {"type": "string", "description": "the request or override id"},
        "body": {"type": "object", "description": "what owners are told; never footage"},
        "created_s": SECONDS,
    },
}


@ROUTES.get(
    "/api/notices",
    operation(
        "What owners were told: requests waiting or expired, overrides, missed follow-ups",
        "newest first (at most 100)",
        list_of(NOTICE),
        "401 403",
    ),
)
async def notices(request: web.Request) -> web.StreamResponse:
    return web.json_response(await request.app[PRIVACY].notices(require_roles(request, "owner")))


def _counts_schema(description: str, month: bool = False) -> dict[str, Any]:
    properties: dict[str, Any] = (
        {"month": {"type": "string", "pattern": MONTH.pattern, "description": "calendar month in UTC, YYYY-MM"}}
        if month
        else {}
    )
    for group, text, items in LAYOUT:
        properties[group] = {
            "type": "object",
            "description": text,
            "required": [key for key, _, _ in items],
            "properties": {key: {"type": "integer", "minimum": 0, "description": what} for key, _, what in items},
        }
    return {"type": "object", "description": description, "required": list(properties), "properties": properties}


REPORT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "computed from the audit log alone; see docs/audit.md, Transparency report",
    "required": [
        "as_of_s",
        "origin",
        "entries",
        "first_index",
        "last_index",
        "months",
        "totals",
        "flagged_emergencies",
    ],
    "properties": {
        "as_of_s": {
            "type": "integer",
            "description": "Unix seconds the report was computed for; follow-up deadlines before it have passed",
        },
        "origin": {"type": ["string", "null"], "description": "the log's origin, camhub/<hub id>"},
        "entries": {"type": "integer", "minimum": 0, "description": "audit log entries read"},
        "first_index": {"type": ["integer", "null"], "description": "index of the first entry read; null if none"},
        "last_index": {"type": ["integer", "null"], "description": "index of the last entry read; null if none"},
        "months": {
            "type": "array",
            "description": "every month from the first entry's to the last's, ascending "
            "(only the asked month with ?month=)",
            "items": _counts_schema(
                "one month's counts; each event counts in the month of its own entry, "
                "except emergency_follow_up, which counts in the override's month",
                month=True,
            ),
        },
        "totals": _counts_schema("the sum of the months listed"),
        "flagged_emergencies": {
            "type": "array",
            "description": "emergency overrides whose follow-up legal process was not filed by its deadline",
            "items": {
                "type": "object",
                "required": ["override_id", "month", "due_s", "entry"],
                "properties": {
                    "override_id": {"type": "string", "description": "the override's id"},
                    "month": {"type": "string", "description": "month the override was invoked, YYYY-MM (UTC)"},
                    "due_s": {"type": "integer", "description": "Unix seconds the follow-up was due by"},
                    "entry": {"type": "integer", "description": "index of its override_invoked entry in the audit log"},
                },
            },
        },
    },
}

REPORT_OP: dict[str, Any] = {
    "summary": "The transparency report: requests, decisions, overrides and releases per month (household members)",
    "parameters": [
        {
            "name": "month",
            "in": "query",
            "required": False,
            "schema": {"type": "string", "pattern": MONTH.pattern},
            "description": "only this month, YYYY-MM (UTC)",
        }
    ],
    "responses": {
        "200": json_answer(REPORT_SCHEMA, "the report"),
        "400": json_answer(ERROR, "month is not YYYY-MM (error key bad_request)"),
        **error_answers("401 403"),
    },
    "security": SESSION_OR_TOKEN,
}


@ROUTES.get("/api/transparency", REPORT_OP)
async def transparency(request: web.Request) -> web.StreamResponse:
    require_household(request)
    privacy = request.app[PRIVACY]
    return await report_answer(request, privacy.ctx.audit, privacy.ctx.now())


async def report_answer(request: web.Request, log: AuditLog, now_s: int) -> web.Response:
    """The report of `log` as JSON, only the month the query names if it names one (400 if it is not a month)."""
    month = request.query.get("month")
    if month is not None:
        check_month(month)
    report = await report_for_log(log, now_s)
    return web.json_response((report.only(month) if month is not None else report).as_json())
