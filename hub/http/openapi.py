"""The OpenAPI 3.1 document for /api, assembled in one place from every area's declared routes.

Each area declares its routes with their operations (camhub.http.routes);
this module only puts them together: it adds the security requirement and
the 401/403 answers to household routes, the 503 answer to audited ones,
and the components the areas contribute. A test compares the document with
the routes the app really serves, so a route cannot be added without being
documented, and checks that exactly the operations with a `security`
requirement refuse anonymous callers.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aiohttp import web

from camhub import __version__
from camhub.audit.routes import ROUTES as AUDIT_ROUTES
from camhub.auth import OPENAPI_SECURITY_SCHEMES
from camhub.auth import ROUTES as AUTH_ROUTES
from camhub.discovery.routes import ROUTES as DISCOVERY_ROUTES
from camhub.http.apidoc import ERROR_SCHEMA, SESSION_OR_TOKEN, error_answer, json_answer
from camhub.http.camera_settings import ROUTES as CAMERA_SETTINGS_ROUTES
from camhub.http.cameras import ROUTES as CAMERA_ROUTES
from camhub.http.clips import ROUTES as CLIP_ROUTES
from camhub.http.events import ROUTES as EVENT_ROUTES
from camhub.http.live_routes import ROUTES as LIVE_ROUTES
from camhub.http.pages import ROUTES as PAGE_ROUTES
from camhub.http.routes import Route, Routes
from camhub.http.storage import ROUTES as STORAGE_ROUTES
from camhub.privacy.account_routes import ROUTES as ACCOUNT_ROUTES
from camhub.privacy.override_routes import ROUTES as OVERRIDE_ROUTES
from camhub.privacy.request_routes import ROUTES as REQUEST_ROUTES
from camhub.privacy.transparency.routes import ROUTES as TRANSPARENCY_ROUTES

AUDIT_UNAVAILABLE = error_answer(
    "audit_unavailable: the audit log cannot be written (disk full, I/O error, read-only, "
    "locked); nothing was done, and a share download was not counted. The message says "
    "why; GET /api/health shows when it is back"
)
HOUSEHOLD_REFUSALS = {
    "401": error_answer("login_required: no valid session or token"),
    "403": error_answer("forbidden: not an owner or member; or password_change_required"),
}

ROUTES = Routes("openapi")


@ROUTES.get(
    "/api/openapi.json",
    {"summary": "This document", "responses": {"200": json_answer({"type": "object"}, "OpenAPI 3.1")}},
)
async def openapi(request: web.Request) -> web.StreamResponse:
    return web.json_response(openapi_document())


# Every table the hub can serve, in the order the document lists them.
TABLES: tuple[Routes, ...] = (
    PAGE_ROUTES,
    CAMERA_ROUTES,
    LIVE_ROUTES,
    CAMERA_SETTINGS_ROUTES,
    ROUTES,
    CLIP_ROUTES,
    AUDIT_ROUTES,
    AUTH_ROUTES,
    REQUEST_ROUTES,
    ACCOUNT_ROUTES,
    OVERRIDE_ROUTES,
    TRANSPARENCY_ROUTES,
    DISCOVERY_ROUTES,
    EVENT_ROUTES,
    STORAGE_ROUTES,
)


def operation(route: Route) -> dict[str, Any]:
    """The route's operation as the document shows it."""
    op = dict(route.operation)
    responses = dict(op["responses"])
    if route.household:
        op["security"] = SESSION_OR_TOKEN
        responses.update(HOUSEHOLD_REFUSALS)
    if route.audited:
        responses["503"] = AUDIT_UNAVAILABLE
    op["responses"] = responses
    return op


def paths_of(tables: Iterable[Routes]) -> dict[str, dict[str, Any]]:
    paths: dict[str, dict[str, Any]] = {}
    for table in tables:
        for route in table:
            paths.setdefault(route.path, {})[route.method.lower()] = operation(route)
    return paths


def openapi_document(tables: Iterable[Routes] = TABLES) -> dict[str, Any]:
    tables = tuple(tables)
    schemas: dict[str, Any] = {"Error": ERROR_SCHEMA}
    for table in tables:
        schemas.update(table.schemas)
    return {
        "openapi": "3.1.0",
        "info": {"title": "camhub", "version": __version__},
        "paths": paths_of(tables),
        "components": {"schemas": schemas, "securitySchemes": OPENAPI_SECURITY_SCHEMES},
    }
