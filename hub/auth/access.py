"""Who may call a route: the auth middleware, the access markers and checks every area's handlers use.

`auth_middleware(service)` resolves the caller from the session cookie or an
`Authorization: Bearer` token and stores it on the request; it never refuses a
request by itself unless the route's handler carries a marker
(`household_only`, `roles_required(...)`). Handlers may also call
`require_household(request)` and friends directly, and `recheck` a credential
for a response that lasts. Errors are `HubError`s: put this middleware inside
the API's error middleware so they become JSON.

Each carrier holds one kind of credential: the `camhub_session` cookie only a
login session, the Bearer header only an API or requester token;
`OPENAPI_SECURITY_SCHEMES` documents both for /api/openapi.json.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web
from aiohttp.typedefs import Middleware

from camhub.auth import credentials as cred
from camhub.auth.errors import Forbidden, LoginRequired, PasswordChangeRequired
from camhub.auth.identity import HOUSEHOLD, Identity
from camhub.auth.service import AccountService
from camhub.auth.sessions import FRESH_AUTH_S
from camhub.errors import NotFound
from camhub.http.routes import Handler

H = TypeVar("H", bound=Handler)

SERVICE = web.AppKey("auth_service", AccountService)
IDENTITY = web.RequestKey("auth_identity", Identity)
# The credential the identity came from, so long-lived responses can check it again (`recheck`).
CREDENTIAL = web.RequestKey("auth_credential", str)
# Why a request that carried something has no identity: the 401 says it instead of a generic line.
_WHY_ANONYMOUS = web.RequestKey("auth_why_anonymous", str)
BEARER_PREFIXES = (cred.API_PREFIX, cred.REQUESTER_PREFIX)
COOKIE = "camhub_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# The attribute a marker sets on a handler: the roles that may call it.
_ACCESS = "__camhub_roles__"

OPENAPI_SECURITY_SCHEMES: dict[str, Any] = {
    "sessionCookie": {
        "type": "apiKey",
        "in": "cookie",
        "name": COOKIE,
        "description": "set by POST /api/auth/login",
    },
    "bearerToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "an API token (cht_...) or a requester token (chr_...)",
    },
}


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


def signed_in(request: web.Request) -> Identity:
    """The caller, whatever its role, even with a one-time password still to change; else `LoginRequired`."""
    identity: Identity | None = request.get(IDENTITY)
    if identity is None:
        raise LoginRequired(request.get(_WHY_ANONYMOUS, "log in, or send a valid token, to use this"))
    return identity


def require_roles(request: web.Request, *roles: str) -> Identity:
    identity = signed_in(request)
    if identity.must_change_password:
        raise PasswordChangeRequired("change your one-time password first (POST /api/auth/password)")
    if identity.role not in roles:
        raise Forbidden(f"a {identity.role} account may not do this")
    return identity


def require_household(request: web.Request) -> Identity:
    """The caller, if an owner or member; else `LoginRequired` (401) or `Forbidden` (403)."""
    return require_roles(request, *HOUSEHOLD)


def require_fresh(request: web.Request, max_age_s: float = FRESH_AUTH_S) -> Identity:
    """For deciding requests and overrides: the password must have been typed within `max_age_s`."""
    identity = require_roles(request, "owner", "custodian")
    request.config_dict[SERVICE].sessions.require_fresh(identity, max_age_s)
    return identity


def require_camera(request: web.Request, camera: str) -> None:
    """Refuse a member the footage of a camera they are not allowed; to them it does not exist.

    Without an identity (an app built without the auth middleware) nothing is refused here.
    """
    identity = request.get(IDENTITY)
    if identity is not None and not identity.may_view(camera):
        raise NotFound(f"no camera named {camera!r}")


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
