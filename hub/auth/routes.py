"""aiohttp integration: the auth middleware, access markers and the /api/auth routes.

`auth_middleware(service)` resolves the caller from the session cookie or an
`Authorization: Bearer` token and stores it on the request; it never refuses a
request by itself unless the route's handler carries a marker
(`household_only`, `roles_required(...)`). Handlers may also call
`require_household(request)` and friends directly. Errors are `HubError`s: put
this middleware inside the API's error middleware so they become JSON.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web
from aiohttp.typedefs import Middleware

from camhub.auth import credentials as cred
from camhub.auth.errors import (
    Forbidden,
    InvalidRequest,
    LoginRequired,
    PasswordChangeRequired,
)
from camhub.auth.service import (
    FRESH_AUTH_S,
    HOUSEHOLD,
    SESSION_ABSOLUTE_S,
    AccountService,
    Identity,
    IssuedToken,
)
from camhub.errors import NotFound
from camhub.http.bodies import read_json

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
H = TypeVar("H", bound=Handler)

SERVICE = web.AppKey("auth_service", AccountService)
IDENTITY = web.RequestKey("auth_identity", Identity)
# The credential the identity came from, so long-lived responses can check it again (`recheck`).
CREDENTIAL = web.RequestKey("auth_credential", str)
# Why a request that carried something has no identity: the 401 says it instead of a generic line.
_WHY_ANONYMOUS = web.RequestKey("auth_why_anonymous", str)
BEARER_PREFIXES = (cred.API_PREFIX, cred.REQUESTER_PREFIX)
COOKIE = "camhub_session"
# The attribute a marker sets on a handler: the roles that may call it.
_ACCESS = "__camhub_roles__"


def roles_required(*roles: str) -> Callable[[H], H]:
    """Mark a handler so the middleware lets only these roles through (401/403 otherwise)."""

    def mark(handler: H) -> H:
        setattr(handler, _ACCESS, frozenset(roles))
        return handler

    return mark


def household_only(handler: H) -> H:
    """Mark a footage route: owners and members only."""
    return roles_required(*HOUSEHOLD)(handler)


def current_identity(request: web.Request) -> Identity | None:
    return request.get(IDENTITY)


def require_roles(request: web.Request, *roles: str) -> Identity:
    identity = _signed_in(request)
    if identity.must_change_password:
        raise PasswordChangeRequired("change your one-time password first (POST /api/auth/password)")
    if identity.role not in roles:
        raise Forbidden(f"a {identity.role} account may not do this")
    return identity


async def recheck(request: web.Request, *roles: str) -> Identity | None:
    """Check the request's credential again, for a response that outlives a moment (a live view).

    Raises as `require_roles` would if the session ended (logout, password change
    elsewhere, expiry), the token was revoked, the account disabled or its role
    changed; returns the fresh identity, also stored on the request so that
    `require_camera` sees a member's current cameras. None for a request that had
    no identity to begin with (an app without the auth middleware).
    """
    token = request.get(CREDENTIAL)
    if token is None:
        return None
    request[IDENTITY] = await request.config_dict[SERVICE].authenticate(token)
    return require_roles(request, *roles)


def require_camera(request: web.Request, camera: str) -> None:
    """Refuse a member the footage of a camera they are not allowed; to them it does not exist.

    Without an identity (an app built without the auth middleware) nothing is refused here.
    """
    identity = request.get(IDENTITY)
    if identity is not None and not identity.may_view(camera):
        raise NotFound(f"no camera named {camera!r}")


def require_household(request: web.Request) -> Identity:
    """The caller, if an owner or member; else `LoginRequired` (401) or `Forbidden` (403)."""
    return require_roles(request, *HOUSEHOLD)


def require_fresh(request: web.Request, max_age_s: float = FRESH_AUTH_S) -> Identity:
    """For deciding requests and overrides: the password must have been typed within `max_age_s`."""
    identity = require_roles(request, "owner", "custodian")
    request.config_dict[SERVICE].require_fresh(identity, max_age_s)
    return identity


def _credential(request: web.Request) -> tuple[str | None, str | None]:
    """The request's credential, or None and why it was set aside.

    Each carrier holds one kind: the cookie only a login session (the hub sets
    it, HttpOnly, at login), the Bearer header only an API or requester token.
    A credential in the wrong carrier is ignored, as if absent, whatever it is.
    A Bearer header, when present, is the credential; the cookie is then unused.
    """
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        token = header[7:].strip()
        if token.startswith(BEARER_PREFIXES):
            return token, None
        return (
            None,
            "send an API or requester token (cht_..., chr_...) as Authorization: Bearer; sessions use the cookie",
        )
    cookie = request.cookies.get(COOKIE)
    if cookie is None or cookie.startswith(cred.SESSION_PREFIX):
        return cookie, None
    return None, f"the {COOKIE} cookie carries only a login session; send tokens as Authorization: Bearer"


TOKEN_ID = re.compile(r"[0-9]{1,19}")
MAX_TOKEN_ID = 2**63 - 1  # SQLite's largest integer
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _cross_site(request: web.Request) -> bool:
    """An unsafe request carrying the session cookie whose Origin is not this hub."""
    origin = request.headers.get("Origin")
    if request.method in SAFE_METHODS or origin is None or COOKIE not in request.cookies:
        return False
    if request.headers.get("Authorization", "")[:7].lower() == "bearer ":
        return False
    return origin != f"{request.scheme}://{request.host}"


def auth_middleware(service: AccountService) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        token, why = _credential(request)
        if token is not None and _cross_site(request):
            # A page on another origin making the browser send the owner's cookie with a
            # state-changing request (CSRF). Scripts with tokens send no cookie and no Origin.
            raise Forbidden(f"a request from {request.headers['Origin']} may not act with this hub's login cookie")
        if token is not None:
            try:
                request[IDENTITY] = await service.authenticate(token)
                request[CREDENTIAL] = token
            except LoginRequired as exc:
                # A stale cookie must not break public pages; marked routes refuse below.
                why = str(exc)
        if why is not None:
            request[_WHY_ANONYMOUS] = why
        route_handler = getattr(request.match_info, "handler", None)
        roles = getattr(route_handler, _ACCESS, None)
        if roles is not None:
            require_roles(request, *roles)
        return await handler(request)

    return middleware


async def _body(request: web.Request, *fields: str) -> dict[str, Any]:
    body = await read_json(request)
    for name in fields:
        if not isinstance(body.get(name), str):
            raise InvalidRequest(f"{name!r} is required, as a string")
    return body


def _signed_in(request: web.Request) -> Identity:
    identity = request.get(IDENTITY)
    if identity is None:
        raise LoginRequired(request.get(_WHY_ANONYMOUS, "log in, or send a valid token, to use this"))
    return identity


def _me(identity: Identity) -> dict[str, Any]:
    return {
        "user": identity.username,
        "role": identity.role,
        "must_change_password": identity.must_change_password,
        "via": identity.via,
        "password_proven_at": identity.password_proven_at,
        "cameras": sorted(identity.cameras) if identity.cameras is not None else None,
    }


def _token_json(issued: IssuedToken) -> dict[str, Any]:
    return {"id": issued.id, "name": issued.name, "token": issued.token, "expires_at": issued.expires_at}


def add_routes(app: web.Application, service: AccountService) -> None:
    """Serve /api/auth/*; the app must also run `auth_middleware(service)`."""
    app[SERVICE] = service

    async def login(request: web.Request) -> web.StreamResponse:
        body = await _body(request, "username", "password")
        result = await service.login(body["username"], body["password"], request.remote or "unknown")
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

    async def logout(request: web.Request) -> web.StreamResponse:
        identity = request.get(IDENTITY)
        if identity is not None:
            await service.logout(identity)
        response = web.Response(status=204)
        response.del_cookie(COOKIE, path="/")
        return response

    # A person with a one-time password may still use me, password and logout;
    # every other route refuses them (require_roles) until they change it.
    async def me(request: web.Request) -> web.StreamResponse:
        return web.json_response(_me(_signed_in(request)))

    async def change_password(request: web.Request) -> web.StreamResponse:
        identity = _signed_in(request)
        body = await _body(request, "current_password", "new_password")
        changed = await service.change_password(
            identity, body["current_password"], body["new_password"], request.remote or "unknown"
        )
        return web.json_response(_me(changed))

    async def reauth(request: web.Request) -> web.StreamResponse:
        identity = require_roles(request, "owner", "member", "custodian")
        body = await _body(request, "password")
        fresh = await service.reauthenticate(identity, body["password"], request.remote or "unknown")
        return web.json_response(_me(fresh))

    async def create_token(request: web.Request) -> web.StreamResponse:
        identity = require_roles(request, "owner", "member", "custodian")
        body = await _body(request, "name")
        expires = body.get("expires_in_s")
        if expires is not None and (isinstance(expires, bool) or not isinstance(expires, (int, float))):
            raise InvalidRequest("'expires_in_s' must be a number of seconds")
        issued = await service.create_api_token(identity, body["name"], expires)
        return web.json_response(_token_json(issued), status=201)

    async def list_tokens(request: web.Request) -> web.StreamResponse:
        identity = require_roles(request, "owner", "member", "custodian")
        return web.json_response(await service.list_tokens(identity))

    async def revoke_token(request: web.Request) -> web.StreamResponse:
        identity = require_roles(request, "owner", "member", "custodian")
        raw = request.match_info["id"]
        # ASCII digits within SQLite's integer range: int() also takes "²", "1_0" and numbers SQLite cannot hold.
        if not TOKEN_ID.fullmatch(raw) or not 0 < int(raw) <= MAX_TOKEN_ID:
            raise InvalidRequest(f"a token id is a whole number from 1 to {MAX_TOKEN_ID}")
        token_id = int(raw)
        await service.revoke_token(identity, token_id)
        return web.Response(status=204)

    app.router.add_post("/api/auth/login", login)
    app.router.add_post("/api/auth/logout", logout)
    app.router.add_get("/api/auth/me", me)
    app.router.add_post("/api/auth/password", change_password)
    app.router.add_post("/api/auth/reauth", reauth)
    app.router.add_post("/api/auth/tokens", create_token)
    app.router.add_get("/api/auth/tokens", list_tokens)
    app.router.add_delete("/api/auth/tokens/{id}", revoke_token)
