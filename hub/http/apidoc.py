"""The words the OpenAPI document is written in, shared by every area's route declarations.

Only building blocks live here (the error schema, a JSON answer, the two
security requirements); each area documents its own routes beside their
handlers, and `camhub.http.openapi` assembles the document.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

ERROR: Schema = {"$ref": "#/components/schemas/Error"}
ERROR_SCHEMA: Schema = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {
        "error": {"type": "string", "description": "stable key, e.g. not_found"},
        "message": {"type": "string"},
    },
}
# Most signed-in routes accept a session cookie or a token (API or requester); a few (password change) only a session.
SESSION_OR_TOKEN: list[dict[str, list[str]]] = [{"sessionCookie": []}, {"bearerToken": []}]
SESSION_ONLY: list[dict[str, list[str]]] = [{"sessionCookie": []}]
# Longer than any ISO 8601 time Python reads (2026-11-29T10:00:00.123456+05:30:00.123456 is 42), so the
# bound refuses nothing valid; the code refuses longer text as "not an ISO 8601 time".
TIME_TEXT: Schema = {
    "type": "string",
    "format": "date-time",
    "maxLength": 64,
    "description": "ISO 8601 with a zone, e.g. 2026-11-29T10:00:00Z",
}


def json_answer(schema: Schema, description: str) -> Schema:
    """A response whose body is JSON of `schema`."""
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def error_answer(description: str) -> Schema:
    """A response whose body is the hub's `{"error", "message"}`."""
    return json_answer(ERROR, description)


def text_answer(description: str) -> Schema:
    return {"description": description, "content": {"text/plain": {"schema": {"type": "string"}}}}
