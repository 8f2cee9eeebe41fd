"""The hub's HTTP interface: the status page, /api/cameras and live views.

Errors become JSON `{"error": key, "message": ...}` in one middleware, with
the status code each `HubError` subclass names. With an `AccountService`,
the auth middleware runs inside it and the /api/auth routes are served;
footage routes (snapshots, live views, clips) are `household_only`, camera
status and health stay public. The OpenAPI document at /api/openapi.json
lists every route.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from importlib import resources
from pathlib import Path
from typing import Any

from aiohttp import web

from camhub.audit import AuditLog
from camhub.audit.routes import AUDIT_LOG
from camhub.audit.routes import add_routes as add_audit_routes
from camhub.auth import AccountService, auth_middleware, household_only, require_camera
from camhub.auth import add_routes as add_auth_routes
from camhub.auth.routes import recheck
from camhub.auth.service import HOUSEHOLD
from camhub.capture.camera import CameraPipeline
from camhub.errors import HubError, NotFound
from camhub.http.clips import add_routes as add_clip_routes
from camhub.http.live import LiveView
from camhub.http.openapi import openapi_document
from camhub.logs import quiet_client_faults
from camhub.privacy.routes import add_routes as add_privacy_routes
from camhub.privacy.routes import audit_entry_guard
from camhub.privacy.service import Privacy
from camhub.store.db import Database

log = logging.getLogger(__name__)

CAMERAS = web.AppKey("cameras", dict[str, CameraPipeline])
LIVE = web.AppKey("live", dict[str, LiveView])
STARTED = web.AppKey("started", float)
# Seconds a live stream waits for a new frame before it sends the last one again,
# so proxies and browsers see the connection is alive.
LIVE_KEEPALIVE = 5.0
# Seconds between checks that a live view's session or token still holds (not logged out,
# revoked, ended by a password change, a member's camera not taken away); it ends otherwise.
LIVE_RECHECK_S = 2.0
BOUNDARY = "camhubframe"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


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


def _camera(request: web.Request) -> CameraPipeline:
    name = request.match_info["name"]
    camera = request.app[CAMERAS].get(name)
    if camera is None:
        raise NotFound(f"no camera named {name!r}; known: {', '.join(sorted(request.app[CAMERAS])) or 'none'}")
    return camera


async def index(request: web.Request) -> web.StreamResponse:
    page = resources.files("camhub.web").joinpath("index.html").read_bytes()
    return web.Response(body=page, content_type="text/html", charset="utf-8")


async def static_file(request: web.Request) -> web.StreamResponse:
    name = request.match_info["file"]
    types = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
    suffix = name[name.rfind(".") :] if "." in name else ""
    if "/" in name or name.startswith(".") or suffix not in types:
        raise NotFound(f"no static file {name!r}")
    resource = resources.files("camhub.web").joinpath(name)
    if not resource.is_file():
        raise NotFound(f"no static file {name!r}")
    return web.Response(body=resource.read_bytes(), content_type=types[suffix], charset="utf-8")


async def health(request: web.Request) -> web.StreamResponse:
    """Always 200 while the hub answers; `status` is "degraded" while the audit log cannot be written
    (recording goes on, audited actions answer 503)."""
    cameras = request.app[CAMERAS]
    online = sum(c.status()["online"] for c in cameras.values())
    body: dict[str, Any] = {
        "status": "ok",
        "uptime": round(time.time() - request.app[STARTED], 1),
        "cameras": len(cameras),
        "online": online,
    }
    audit = request.app.get(AUDIT_LOG)
    if audit is not None:
        body["audit"] = {"writable": audit.writable, "reason": audit.unwritable}
        if not audit.writable:
            body["status"] = "degraded"
    return web.json_response(body)


async def list_cameras(request: web.Request) -> web.StreamResponse:
    return web.json_response([c.status() for _, c in sorted(request.app[CAMERAS].items())])


async def get_camera(request: web.Request) -> web.StreamResponse:
    return web.json_response(_camera(request).status())


@household_only
async def snapshot(request: web.Request) -> web.StreamResponse:
    camera = _camera(request)
    require_camera(request, camera.name)
    latest = await request.app[LIVE][camera.name].jpeg()
    if latest is None:
        raise NotFound(f"camera {camera.name!r} has no picture yet; its status says why")
    return web.Response(body=latest[1], content_type="image/jpeg", headers={"Cache-Control": "no-store"})


@household_only
async def live_mjpeg(request: web.Request) -> web.StreamResponse:
    camera = _camera(request)
    require_camera(request, camera.name)
    view = request.app[LIVE][camera.name]
    response = web.StreamResponse(
        headers={
            "Content-Type": f"multipart/x-mixed-replace; boundary={BOUNDARY}",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    seq = 0
    last: bytes | None = None
    loop = asyncio.get_running_loop()
    recheck_at, keepalive_at = loop.time() + LIVE_RECHECK_S, loop.time()
    try:
        while True:
            if loop.time() >= recheck_at:
                if not await _still_allowed(request, camera.name):
                    break
                recheck_at = loop.time() + LIVE_RECHECK_S
            # Wait no longer than the next check, so a stalled camera cannot put it off.
            got = await view.next_jpeg(seq, max(0.0, min(keepalive_at, recheck_at) - loop.time()))
            if got is not None:
                seq, last = got
            elif loop.time() < keepalive_at:
                continue  # woken to check the credential, not to keep the connection alive
            keepalive_at = loop.time() + LIVE_KEEPALIVE
            if last is None:
                continue
            head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(last)}\r\n\r\n"
            await response.write(head.encode() + last + b"\r\n")
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    return response


async def _still_allowed(request: web.Request, camera: str) -> bool:
    """Whether the viewer's credential still grants this camera; if not, say why in one log line."""
    try:
        await recheck(request, *HOUSEHOLD)
        require_camera(request, camera)
    except HubError as exc:
        log.info("live view of %r ended: %s", camera, exc)
        return False
    return True


async def openapi(request: web.Request) -> web.StreamResponse:
    return web.json_response(openapi_document())


def make_app(
    cameras: dict[str, CameraPipeline],
    live_views: dict[str, LiveView],
    db: Database | None = None,
    data_dir: Path | None = None,
    audit: AuditLog | None = None,
    *,
    accounts: AccountService | None = None,
    privacy: Privacy | None = None,
) -> web.Application:
    """The hub's web app, serving `cameras` and their `live_views` (by camera name). The hub always
    passes `accounts` and `privacy`; without accounts (unit tests that build the app directly) no route
    asks for a login. With privacy, audit entries are shown only to those who may read them."""
    # The auth middleware runs inside the error middleware, so its HubErrors become JSON.
    middlewares = [error_middleware] if accounts is None else [error_middleware, auth_middleware(accounts)]
    quiet_client_faults()
    app = web.Application(middlewares=middlewares, client_max_size=1024**2)
    app[CAMERAS] = cameras
    app[STARTED] = time.time()
    app[LIVE] = live_views  # each one a frame consumer its camera was built with
    app.router.add_get("/", index)
    app.router.add_get("/static/{file}", static_file)
    app.router.add_get("/api/health", health)
    app.router.add_get("/api/cameras", list_cameras)
    app.router.add_get("/api/cameras/{name}", get_camera)
    app.router.add_get("/api/cameras/{name}/snapshot.jpg", snapshot)
    app.router.add_get("/api/cameras/{name}/live.mjpeg", live_mjpeg)
    app.router.add_get("/api/openapi.json", openapi)
    if db is not None and data_dir is not None:
        add_clip_routes(app, db, data_dir)
    if audit is not None:
        add_audit_routes(app, audit, guard=audit_entry_guard if privacy is not None else None)
    if accounts is not None:
        add_auth_routes(app, accounts)
    if privacy is not None:
        add_privacy_routes(app, privacy)
    return app
