"""The /api/auth routes, each declared with its OpenAPI operation: log in and out, who am I, the password,
re-authentication, and one's API tokens.

`ROUTES` is served by `camhub.http.app.make_app`, which sets `SERVICE` to the
hub's `AccountService` and runs `auth_middleware` with it. The handlers use
the sessions and tokens services through it. Each operation names its own
security (the login and logout answer anyone; a password proof or a new token
needs a login session, not a token) and its own 401 and 403, so none is
declared `household`; every POST but logout may write an audit entry first
(a login, or a failed password), so those are `audited`.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from camhub.auth.access import COOKIE, IDENTITY, SERVICE, require_roles, signed_in
from camhub.auth.credentials import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from camhub.auth.errors import InvalidRequest
from camhub.auth.identity import ROLES, Identity
from camhub.auth.sessions import MAX_USERNAME_INPUT, SESSION_ABSOLUTE_S
from camhub.auth.throttle import ACCOUNT_LIMIT, ADDRESS_LIMIT, LOCKOUT_S, WINDOW_S
from camhub.http.apidoc import SESSION_ONLY, SESSION_OR_TOKEN, Schema, error_answer, json_answer
from camhub.http.bodies import BODY_RULES, DEFAULT_LIMIT, read_json
from camhub.http.routes import Routes

ROUTES = Routes("auth")

TOKEN_ID = re.compile(r"[0-9]{1,19}")
MAX_TOKEN_ID = 2**63 - 1  # token ids are SQLite rowids: SQLite's largest integer

PASSWORD: Schema = {"type": "string", "minLength": 1, "maxLength": MAX_PASSWORD_LENGTH}
NEW_PASSWORD: Schema = {
    "type": "string",
    "minLength": MIN_PASSWORD_LENGTH,
    "maxLength": MAX_PASSWORD_LENGTH,
    "description": "must differ from the current password and the user name",
}
ROLE: Schema = {"enum": list(ROLES)}
ME: Schema = {
    "type": "object",
    "required": ["user", "role", "must_change_password", "via", "password_proven_at"],
    "properties": {
        "user": {"type": "string"},
        "role": ROLE,
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
NOT_SIGNED_IN = {"401": error_answer("login_required: no valid session or token")}
NOT_ALLOWED = {"403": error_answer("forbidden (role), or password_change_required")}
BAD_BODY = {
    "400": error_answer(f"invalid_request: a missing or malformed field; invalid_body: {BODY_RULES}"),
    "413": error_answer(f"payload_too_large: a body over {DEFAULT_LIMIT} bytes"),
}


def body_of(properties: Schema, required: list[str]) -> Schema:
    """An operation's required JSON object body."""
    return {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object", "required": required, "properties": properties}}},
    }


async def read_fields(request: web.Request, *fields: str) -> dict[str, Any]:
    """The JSON body, with each of `fields` present as a string."""
    body = await read_json(request)
    for name in fields:
        if not isinstance(body.get(name), str):
            raise InvalidRequest(f"{name!r} is required, as a string")
    return body


def me_json(identity: Identity) -> dict[str, Any]:
    return {
        "user": identity.username,
        "role": identity.role,
        "must_change_password": identity.must_change_password,
        "via": identity.via,
        "password_proven_at": identity.password_proven_at,
        "cameras": sorted(identity.cameras) if identity.cameras is not None else None,
    }


LOGIN_OP = {
    "summary": "Log in with a password; sets the camhub_session cookie (HttpOnly, SameSite=Strict)",
    "description": (
        f"{ACCOUNT_LIMIT} failures per user name, or {ADDRESS_LIMIT} per client address, within "
        f"{int(WINDOW_S)} s lock logins for {int(LOCKOUT_S)} s. Unknown users and wrong passwords "
        "get the same answer."
    ),
    "security": [],
    "requestBody": body_of(
        {"username": {"type": "string", "maxLength": MAX_USERNAME_INPUT}, "password": PASSWORD},
        ["username", "password"],
    ),
    "responses": {
        "200": json_answer(
            {
                "type": "object",
                "required": ["user", "role", "must_change_password"],
                "properties": {"user": {"type": "string"}, "role": ROLE, "must_change_password": {"type": "boolean"}},
            },
            "logged in; the session cookie is set",
        ),
        **BAD_BODY,
        "401": error_answer("login_failed: wrong user name or password"),
        "429": error_answer("login_locked: too many failed logins; try again later"),
    },
}


@ROUTES.post("/api/auth/login", LOGIN_OP, audited=True)
async def login(request: web.Request) -> web.StreamResponse:
    body = await read_fields(request, "username", "password")
    sessions = request.config_dict[SERVICE].sessions
    result = await sessions.login(body["username"], body["password"], request.remote or "unknown")
    identity = result.identity
    response = web.json_response(
        {"user": identity.username, "role": identity.role, "must_change_password": identity.must_change_password}
    )
    response.set_cookie(
        COOKIE,
        result.session_token,
        httponly=True,
        samesite="Strict",
        secure=request.secure,
        path="/",
        max_age=int(SESSION_ABSOLUTE_S),
    )
    return response


LOGOUT_OP = {
    "summary": "End this session (revoked in the store) and clear the cookie",
    # Not secured: it answers 204 to anyone, so a stale or missing cookie still ends in a logged-out browser.
    "security": [],
    "responses": {"204": {"description": "logged out (also when no session came)"}},
}


@ROUTES.post("/api/auth/logout", LOGOUT_OP)
async def logout(request: web.Request) -> web.StreamResponse:
    identity = request.get(IDENTITY)
    if identity is not None:
        await request.config_dict[SERVICE].sessions.logout(identity)
    response = web.Response(status=204)
    response.del_cookie(COOKIE, path="/")
    return response


# A person with a one-time password may still use me, password and logout;
# every other route refuses them (require_roles) until they change it.
ME_OP = {
    "summary": "Who this request speaks for",
    "security": SESSION_OR_TOKEN,
    "responses": {"200": json_answer(ME, "the caller"), **NOT_SIGNED_IN},
}


@ROUTES.get("/api/auth/me", ME_OP)
async def me(request: web.Request) -> web.StreamResponse:
    return web.json_response(me_json(signed_in(request)))


PASSWORD_OP = {
    "summary": "Change one's password (needs the current one); ends the account's other sessions",
    "security": SESSION_ONLY,
    "requestBody": body_of(
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD}, ["current_password", "new_password"]
    ),
    "responses": {
        "200": json_answer(ME, "changed; this session counts as freshly authenticated"),
        **BAD_BODY,
        "401": error_answer("login_required, or login_failed: wrong current password"),
        "403": error_answer("forbidden: tokens cannot change passwords"),
        "429": error_answer("login_locked"),
    },
}


@ROUTES.post("/api/auth/password", PASSWORD_OP, audited=True)
async def change_password(request: web.Request) -> web.StreamResponse:
    identity = signed_in(request)
    body = await read_fields(request, "current_password", "new_password")
    changed = await request.config_dict[SERVICE].sessions.change_password(
        identity, body["current_password"], body["new_password"], request.remote or "unknown"
    )
    return web.json_response(me_json(changed))


REAUTH_OP = {
    "summary": "Type the password again, so deciding requests and overrides work for the next 300 s",
    "security": SESSION_ONLY,
    "requestBody": body_of({"password": PASSWORD}, ["password"]),
    "responses": {
        "200": json_answer(ME, "password_proven_at is now"),
        **BAD_BODY,
        "401": error_answer("login_required, or login_failed"),
        **NOT_ALLOWED,
        "429": error_answer("login_locked"),
    },
}


@ROUTES.post("/api/auth/reauth", REAUTH_OP, audited=True)
async def reauth(request: web.Request) -> web.StreamResponse:
    identity = require_roles(request, "owner", "member", "custodian")
    body = await read_fields(request, "password")
    fresh = await request.config_dict[SERVICE].sessions.reauthenticate(
        identity, body["password"], request.remote or "unknown"
    )
    return web.json_response(me_json(fresh))


TOKEN: Schema = {
    "type": "object",
    "required": ["id", "name", "token", "expires_at"],
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "token": {"type": "string", "description": "the secret; shown only in this response"},
        "expires_at": {"type": ["number", "null"], "description": "Unix seconds; null: until revoked"},
    },
}
CREATE_TOKEN_OP = {
    "summary": "Create an API token for one's scripts; the token is returned only here",
    "security": SESSION_ONLY,
    "requestBody": body_of(
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
    "responses": {"201": json_answer(TOKEN, "the new token"), **BAD_BODY, **NOT_SIGNED_IN, **NOT_ALLOWED},
}


@ROUTES.post("/api/auth/tokens", CREATE_TOKEN_OP, audited=True)
async def create_token(request: web.Request) -> web.StreamResponse:
    identity = require_roles(request, "owner", "member", "custodian")
    body = await read_fields(request, "name")
    expires = body.get("expires_in_s")
    if expires is not None and (isinstance(expires, bool) or not isinstance(expires, (int, float))):
        raise InvalidRequest("'expires_in_s' must be a number of seconds")
    issued = await request.config_dict[SERVICE].tokens.create_api_token(identity, body["name"], expires)
    return web.json_response(
        {"id": issued.id, "name": issued.name, "token": issued.token, "expires_at": issued.expires_at}, status=201
    )


TOKEN_ROW: Schema = {
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
LIST_TOKENS_OP = {
    "summary": "One's tokens (owners: all API and requester tokens), without secrets",
    "security": SESSION_OR_TOKEN,
    "responses": {
        "200": json_answer({"type": "array", "items": TOKEN_ROW}, "tokens by id"),
        **NOT_SIGNED_IN,
        **NOT_ALLOWED,
    },
}


@ROUTES.get("/api/auth/tokens", LIST_TOKENS_OP)
async def list_tokens(request: web.Request) -> web.StreamResponse:
    identity = require_roles(request, "owner", "member", "custodian")
    return web.json_response(await request.config_dict[SERVICE].tokens.list_tokens(identity))


REVOKE_TOKEN_OP = {
    "summary": "Revoke a token (one's own; owners: any)",
    "security": SESSION_OR_TOKEN,
    "parameters": [
        {
            "name": "id",
            "in": "path",
            "required": True,
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_TOKEN_ID},
        }
    ],
    "responses": {
        "204": {"description": "revoked"},
        "400": BAD_BODY["400"],
        **NOT_SIGNED_IN,
        **NOT_ALLOWED,
        "404": error_answer("no such token of yours"),
    },
}


@ROUTES.delete("/api/auth/tokens/{id}", REVOKE_TOKEN_OP)
async def revoke_token(request: web.Request) -> web.StreamResponse:
    identity = require_roles(request, "owner", "member", "custodian")
    raw = request.match_info["id"]
    # ASCII digits within SQLite's integer range: int() also takes "²", "1_0" and numbers SQLite cannot hold.
    if not TOKEN_ID.fullmatch(raw) or not 0 < int(raw) <= MAX_TOKEN_ID:
        raise InvalidRequest(f"a token id is a whole number from 1 to {MAX_TOKEN_ID}")
    await request.config_dict[SERVICE].tokens.revoke_token(identity, int(raw))
    return web.Response(status=204)
