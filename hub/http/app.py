"""The hub's web app: its middleware, and the route tables of the services it has.

Errors become JSON `{"error": key, "message": ...}` in one middleware, with
the status code each `HubError` subclass names. With an `AccountService`,
the auth middleware runs inside it and the /api/auth routes are served;
footage routes (snapshots, live views, clips) are `household_only`, camera
status and health stay public. Each area declares its routes
(camhub.http.routes); the OpenAPI document at /api/openapi.json is
assembled from the same tables (camhub.http.openapi).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Middleware

from camhub.audit import AuditLog
from camhub.audit.routes import AUDIT_GUARD, AUDIT_LOG
from camhub.audit.routes import ROUTES as AUDIT_ROUTES
from camhub.auth import ROUTES as AUTH_ROUTES
from camhub.auth import SERVICE, AccountService, auth_middleware
from camhub.capture.camera import CameraPipeline
from camhub.discovery.routes import DISCOVERY
from camhub.discovery.routes import ROUTES as DISCOVERY_ROUTES
from camhub.discovery.service import Discovery
from camhub.errors import HubError
from camhub.http.camera_settings import ROUTES as CAMERA_SETTINGS_ROUTES
from camhub.http.camera_settings import SETTINGS
from camhub.http.cameras import CAMERAS, LIVE, OUTPUTS, STARTED
from camhub.http.cameras import ROUTES as CAMERA_ROUTES
from camhub.http.clips import DATA_DIR, DB
from camhub.http.clips import ROUTES as CLIP_ROUTES
from camhub.http.events import add_event_routes
from camhub.http.live import Pictures
from camhub.http.live_mp4 import LiveStream
from camhub.http.live_routes import LIVE_STREAMS
from camhub.http.live_routes import ROUTES as LIVE_ROUTES
from camhub.http.openapi import ROUTES as OPENAPI_ROUTES
from camhub.http.pages import ROUTES as PAGE_ROUTES
from camhub.http.routes import Handler
from camhub.logs import quiet_client_faults
from camhub.outputs import Output
from camhub.privacy.account_routes import ROUTES as ACCOUNT_ROUTES
from camhub.privacy.override_routes import ROUTES as OVERRIDE_ROUTES
from camhub.privacy.request_routes import ROUTES as REQUEST_ROUTES
from camhub.privacy.routes import PRIVACY, audit_entry_guard
from camhub.privacy.service import Privacy
from camhub.privacy.transparency.routes import ROUTES as TRANSPARENCY_ROUTES
from camhub.settings import CameraSettings
from camhub.store.db import Database

log = logging.getLogger(__name__)

# Error keys for the HTTP errors aiohttp raises itself (no such route, a wrong method, ...).
HTTP_ERROR_KEYS = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}
INTERNAL_ERROR = "the hub failed to answer this request; its log says why"


def error_response(key: str, message: str, status: int, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": key, "message": message}, status=status, headers=headers)


def _http_error(exc: web.HTTPException) -> web.Response:
    if isinstance(exc, web.HTTPMethodNotAllowed):
        method = exc.method if len(exc.method) <= 16 else "this method"
        message = f"{method} is not allowed here; use {', '.join(sorted(exc.allowed_methods))}"
    elif exc.text and exc.text != f"{exc.status}: {exc.reason}":  # aiohttp's default text says nothing
        message = exc.text
    elif exc.status == 404:
        message = "no such route; /api/openapi.json lists them"
    else:
        message = exc.reason
    # Allow (405), Retry-After and the like stay; the body is ours.
    headers = {k: v for k, v in exc.headers.items() if k.lower() not in ("content-type", "content-length")}
    return error_response(HTTP_ERROR_KEYS.get(exc.status, "http_error"), message, exc.status, headers)


def _hang_up(request: web.Request) -> web.StreamResponse:
    """End a request that can get no answer: its client left, or its streamed answer broke midway."""
    if request.transport is not None:
        request.transport.close()
    return web.Response(status=500)  # never reaches anyone; aiohttp needs a response to finish the request


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error becomes `{"error": key, "message": ...}`: a `HubError` with its own status, aiohttp's own
    (404, 405 with Allow, ...) with their headers, and anything else a 500 with a generic message, logged
    once with its traceback. A client that hung up gets one DEBUG line."""
    try:
        return await handler(request)
    except HubError as exc:
        answer = error_response(exc.key, str(exc), exc.status)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        answer = _http_error(exc)
    except Exception as exc:
        if isinstance(exc, ConnectionResetError) and (request.transport is None or request.transport.is_closing()):
            log.debug("%s %s: the client hung up before the answer was sent", request.method, request.path)
            return _hang_up(request)
        log.exception("%s %s failed", request.method, request.path)
        answer = error_response("internal_error", INTERNAL_ERROR, 500)
    if request.writer.output_size > 0:  # a streamed answer had begun; an error cannot replace it
        return _hang_up(request)
    return answer


# Every answer says the dashboard loads nothing from anywhere but the hub: no CDN, no outside font, no
# inline script, no framing by another page. Videos and pictures may also come from blobs the page makes.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


def make_app(
    cameras: dict[str, CameraPipeline],
    live_views: dict[str, Pictures],
    db: Database | None = None,
    data_dir: Path | None = None,
    audit: AuditLog | None = None,
    *,
    accounts: AccountService | None = None,
    privacy: Privacy | None = None,
    discovery: Discovery | None = None,
    outputs: dict[str, Output] | None = None,
    live_streams: dict[str, LiveStream] | None = None,
    settings: CameraSettings | None = None,
) -> web.Application:
    """The hub's web app, serving `cameras` and their `live_views` (by camera name). The hub always
    passes `accounts` and `privacy`; without accounts (unit tests that build the app directly) no route
    asks for a login. With privacy, audit entries are shown only to those who may read them."""
    # The auth middleware runs inside the error middleware, so its HubErrors become JSON.
    middlewares: list[Middleware] = [error_middleware]
    if accounts is not None:
        middlewares.append(auth_middleware(accounts))
    quiet_client_faults()
    app = web.Application(middlewares=middlewares, client_max_size=1024**2)
    app.on_response_prepare.append(_security_headers)
    app[CAMERAS] = cameras
    app[STARTED] = time.monotonic()  # uptime is a duration: immune to the wall clock being set
    app[LIVE] = live_views  # each one a frame consumer its camera was built with
    app[OUTPUTS] = outputs if outputs is not None else {}  # filled as the hub starts them
    for table in (PAGE_ROUTES, CAMERA_ROUTES, OPENAPI_ROUTES):
        table.add_to(app)
    if live_streams is not None:  # each one a packet consumer of its camera's record input
        app[LIVE_STREAMS] = live_streams
        LIVE_ROUTES.add_to(app)
    if db is not None and data_dir is not None:
        app[DB] = db
        app[DATA_DIR] = data_dir
        CLIP_ROUTES.add_to(app)
    if audit is not None:
        app[AUDIT_LOG] = audit
        if privacy is not None:  # entries are shown only to those who may read them
            app[AUDIT_GUARD] = audit_entry_guard
        AUDIT_ROUTES.add_to(app)
    if accounts is not None:
        app[SERVICE] = accounts
        AUTH_ROUTES.add_to(app)
    if discovery is not None:
        app[DISCOVERY] = discovery
        DISCOVERY_ROUTES.add_to(app)
    if settings is not None:
        app[SETTINGS] = settings
        CAMERA_SETTINGS_ROUTES.add_to(app)
    if privacy is not None:
        app[PRIVACY] = privacy
        for table in (REQUEST_ROUTES, ACCOUNT_ROUTES, OVERRIDE_ROUTES, TRANSPARENCY_ROUTES):
            table.add_to(app)
        add_event_routes(app)  # the live updates' stream; its bus is the privacy context's
    return app
