"""OpenAPI 3.1 paths for /api/auth/*, merged into hub/openapi.py's document.

`OPENAPI_PATHS` goes under "paths"; `OPENAPI_SECURITY_SCHEMES` under
"components.securitySchemes". Errors use the document's shared `Error` schema.
"""

from __future__ import annotations

from typing import Any

from camhub.auth.credentials import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from camhub.auth.service import MAX_USERNAME_INPUT
from camhub.auth.throttle import ACCOUNT_LIMIT, ADDRESS_LIMIT, LOCKOUT_S, WINDOW_S
from camhub.http.bodies import BODY_RULES, DEFAULT_LIMIT

_ERROR = {"$ref": "#/components/schemas/Error"}
_SECURITY = [{"sessionCookie": []}, {"bearerToken": []}]
_SESSION_ONLY = [{"sessionCookie": []}]
# Token ids are SQLite rowids; hub/api_clips.py's MAX_ID is the same bound, not imported because it imports camhub.auth.
_MAX_ROWID = 2**63 - 1


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _body(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object", "required": required, "properties": properties}}},
    }


_PASSWORD = {"type": "string", "minLength": 1, "maxLength": MAX_PASSWORD_LENGTH}
_NEW_PASSWORD = {
    "type": "string",
    "minLength": MIN_PASSWORD_LENGTH,
    "maxLength": MAX_PASSWORD_LENGTH,
    "description": "must differ from the current password and the user name",
}
_ROLE = {"enum": ["owner", "member", "custodian", "requester"]}
_ME = {
    "type": "object",
    "required": ["user", "role", "must_change_password", "via", "password_proven_at"],
    "properties": {
        "user": {"type": "string"},
        "role": _ROLE,
        "must_change_password": {"type": "boolean", "description": "true until a one-time password is changed"},
        "via": {"enum": ["session", "api", "requester"], "description": "the credential of this request"},
        "password_proven_at": {
            "type": ["number", "null"],
            "description": "Unix seconds the password was last typed in this session",
        },
        "cameras": {
            "type": ["array", "null"],
            "items": {"type": "string"},
            "description": "a member's cameras; null: every camera",
        },
    },
}
_TOKEN = {
    "type": "object",
    "required": ["id", "name", "token", "expires_at"],
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "token": {"type": "string", "description": "the secret; shown only in this response"},
        "expires_at": {"type": ["number", "null"], "description": "Unix seconds; null: until revoked"},
    },
}
_TOKEN_ROW = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "kind": {"enum": ["api", "requester"]},
        "name": {"type": "string"},
        "user": {"type": "string"},
        "created_at": {"type": "number", "description": "Unix seconds"},
        "expires_at": {"type": ["number", "null"], "description": "Unix seconds"},
        "last_used_at": {"type": ["number", "null"], "description": "Unix seconds, to the minute"},
        "revoked_at": {"type": ["number", "null"], "description": "Unix seconds"},
    },
}
_401 = {"401": _json(_ERROR, "login_required: no valid session or token")}
_403 = {"403": _json(_ERROR, "forbidden (role), or password_change_required")}
_400 = {"400": _json(_ERROR, f"invalid_request: a missing or malformed field; invalid_body: {BODY_RULES}")}
_413 = {"413": _json(_ERROR, f"payload_too_large: a body over {DEFAULT_LIMIT} bytes")}

OPENAPI_PATHS: dict[str, Any] = {
    "/api/auth/login": {
        "post": {
            "summary": "Log in with a password; sets the camhub_session cookie (HttpOnly, SameSite=Strict)",
            "description": (
                f"{ACCOUNT_LIMIT} failures per user name, or {ADDRESS_LIMIT} per client address, within "
                f"{int(WINDOW_S)} s lock logins for {int(LOCKOUT_S)} s. Unknown users and wrong passwords "
                "get the same answer."
            ),
            "security": [],
            "requestBody": _body(
                {"username": {"type": "string", "maxLength": MAX_USERNAME_INPUT}, "password": _PASSWORD},
                ["username", "password"],
            ),
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "required": ["user", "role", "must_change_password"],
                        "properties": {
                            "user": {"type": "string"},
                            "role": _ROLE,
                            "must_change_password": {"type": "boolean"},
                        },
                    },
                    "logged in; the session cookie is set",
                ),
                **_400,
                **_413,
                "401": _json(_ERROR, "login_failed: wrong user name or password"),
                "429": _json(_ERROR, "login_locked: too many failed logins; try again later"),
            },
        }
    },
    "/api/auth/logout": {
        "post": {
            "summary": "End this session (revoked in the store) and clear the cookie",
            # Not secured: it answers 204 to anyone, so a stale or missing cookie still ends in a logged-out browser.
            "security": [],
            "responses": {"204": {"description": "logged out (also when no session came)"}},
        }
    },
    "/api/auth/me": {
        "get": {
            "summary": "Who this request speaks for",
            "security": _SECURITY,
            "responses": {"200": _json(_ME, "the caller"), **_401},
        }
    },
    "/api/auth/password": {
        "post": {
            "summary": "Change one's password (needs the current one); ends the account's other sessions",
            "security": _SESSION_ONLY,
            "requestBody": _body(
                {"current_password": _PASSWORD, "new_password": _NEW_PASSWORD}, ["current_password", "new_password"]
            ),
            "responses": {
                "200": _json(_ME, "changed; this session counts as freshly authenticated"),
                **_400,
                **_413,
                "401": _json(_ERROR, "login_required, or login_failed: wrong current password"),
                "403": _json(_ERROR, "forbidden: tokens cannot change passwords"),
                "429": _json(_ERROR, "login_locked"),
            },
        }
    },
    "/api/auth/reauth": {
        "post": {
            "summary": "Type the password again, so deciding requests and overrides work for the next 300 s",
            "security": _SESSION_ONLY,
            "requestBody": _body({"password": _PASSWORD}, ["password"]),
            "responses": {
                "200": _json(_ME, "password_proven_at is now"),
                **_400,
                **_413,
                "401": _json(_ERROR, "login_required, or login_failed"),
                **_403,
                "429": _json(_ERROR, "login_locked"),
            },
        }
    },
    "/api/auth/tokens": {
        "post": {
            "summary": "Create an API token for one's scripts; the token is returned only here",
            "security": _SESSION_ONLY,
            "requestBody": _body(
                {
                    "name": {"type": "string", "minLength": 1, "maxLength": 100},
                    "expires_in_s": {
                        "type": ["number", "null"],
                        "exclusiveMinimum": 0,
                        "description": "seconds; absent or null: until revoked",
                    },
                },
                ["name"],
            ),
            "responses": {"201": _json(_TOKEN, "the new token"), **_400, **_413, **_401, **_403},
        },
        "get": {
            "summary": "One's tokens (owners: all API and requester tokens), without secrets",
            "security": _SECURITY,
            "responses": {"200": _json({"type": "array", "items": _TOKEN_ROW}, "tokens by id"), **_401, **_403},
        },
    },
    "/api/auth/tokens/{id}": {
        "delete": {
            "summary": "Revoke a token (one's own; owners: any)",
            "security": _SECURITY,
            "parameters": [
                {
                    "name": "id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "integer", "minimum": 1, "maximum": _MAX_ROWID},
                }
            ],
            "responses": {
                "204": {"description": "revoked"},
                **_400,
                **_401,
                **_403,
                "404": _json(_ERROR, "no such token of yours"),
            },
        }
    },
}

OPENAPI_SECURITY_SCHEMES: dict[str, Any] = {
    "sessionCookie": {
        "type": "apiKey",
        "in": "cookie",
        "name": "camhub_session",
        "description": "set by POST /api/auth/login",
    },
    "bearerToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "an API token (cht_...) or a requester token (chr_...)",
    },
}
