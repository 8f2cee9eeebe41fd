"""Camera routes: status of each camera, health, and live pictures (a snapshot and an MJPEG view).

Status and health are public (no footage); the snapshot and the live view
are footage, for the household only, and a live view re-checks its viewer's
credential every LIVE_RECHECK_S seconds so a logout or a revoked token ends
it. Pictures come from frames the detect input already decoded
(camhub.http.live), so viewers add no decoding.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from camhub.audit.routes import AUDIT_LOG
from camhub.auth import HOUSEHOLD, IDENTITY, household_only, recheck, require_camera
from camhub.capture.camera import CameraPipeline
from camhub.config import CAMERA_NAME
from camhub.errors import HubError, NotFound
from camhub.http.apidoc import error_answer, json_answer
from camhub.http.live import Pictures
from camhub.http.routes import Routes

if TYPE_CHECKING:
    from camhub.outputs import Output

log = logging.getLogger(__name__)

CAMERAS: web.AppKey[dict[str, CameraPipeline]] = web.AppKey("cameras")
LIVE: web.AppKey[dict[str, Pictures]] = web.AppKey("live")
STARTED = web.AppKey("started", float)
# The running outputs (MQTT) by domain; each shows its own health.
OUTPUTS: web.AppKey[dict[str, Output]] = web.AppKey("outputs")
# Seconds a live stream waits for a new frame before it sends the last one again,
# so proxies and browsers see the connection is alive.
LIVE_KEEPALIVE = 5.0
# Seconds between checks that a live view's session or token still holds (not logged out,
# revoked, ended by a password change, a member's camera not taken away); it ends otherwise.
LIVE_RECHECK_S = 2.0
BOUNDARY = "camhubframe"

INPUT_STATUS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "roles": {"type": "array", "items": {"enum": ["record", "detect"]}},
        "source": {"type": "string", "description": "the input's URL or path, password masked"},
        "state": {"enum": ["starting", "connecting", "online", "retrying", "stopped"]},
        "codec": {"type": ["string", "null"]},
        "width": {"type": ["integer", "null"]},
        "height": {"type": ["integer", "null"]},
        "stream_fps": {"type": ["number", "null"], "description": "frames per second the stream declares"},
        "packets_per_second": {"type": "number", "description": "packets received per second, last 5 s"},
        "frames_analysed_per_second": {"type": "number"},
        "packets_received": {"type": "integer"},
        "frames_analysed": {"type": "integer"},
        "last_packet_time": {"type": ["number", "null"], "description": "Unix seconds"},
        "last_frame_time": {"type": ["number", "null"], "description": "Unix seconds"},
        "last_error": {"type": ["string", "null"], "description": "redacted: never holds a password"},
        "last_error_time": {"type": ["number", "null"], "description": "Unix seconds"},
        "connects": {"type": "integer"},
        "failures": {"type": "integer"},
        "decode_errors": {"type": "integer"},
        "retry_in": {"type": ["number", "null"], "description": "seconds until the next connection attempt"},
        "as_of": {
            "type": "number",
            "description": "Unix seconds the counts and times above were read at: now, or for an input run in a "
            "detect process its last report (about a second old)",
        },
    },
}


CAMERA_STATUS: dict[str, Any] = {
    "type": "object",
    "required": ["name", "online", "state", "fps_in", "fps_analysed", "last_frame_time", "last_error", "inputs"],
    "properties": {
        "name": {"type": "string"},
        "online": {"type": "boolean", "description": "every input is connected"},
        "state": {
            "enum": ["starting", "online", "degraded", "offline"],
            "description": "starting: the hub has not begun connecting yet (the demo, while its scenes render)",
        },
        "fps_in": {"type": "number", "description": "packets per second of the busiest input"},
        "fps_analysed": {"type": "number", "description": "decoded frames analysed per second"},
        "analysis_fps": {"type": "number", "description": "frames per second picked for analysis, as set now"},
        "last_frame_time": {"type": ["number", "null"], "description": "Unix seconds of the last analysed frame"},
        "last_error": {"type": ["string", "null"]},
        "inputs": {"type": "array", "items": {"$ref": "#/components/schemas/InputStatus"}},
        "motion": {
            "type": ["object", "null"],
            "description": "null when the camera is disabled",
            "properties": {
                "detecting": {
                    "type": "boolean",
                    "description": "frames are analysed; switched with cameras.<name>.motion.enabled or over MQTT",
                },
                "threshold": {
                    "type": "number",
                    "description": "luma levels set; with auto_threshold, the least the learnt threshold may be",
                },
                "learnt_threshold": {
                    "type": "number",
                    "description": "luma levels a pixel had to change by in the last analysed frame",
                },
                "zones": {"type": "array", "items": {"type": "string"}, "description": "zones the last frame touched"},
                "active": {"type": "boolean", "description": "a motion event is open"},
                "score": {"type": "number", "description": "changed fraction of the last analysed frame, 0..1"},
                "events": {"type": "integer"},
                "last_start": {"type": ["number", "null"], "description": "Unix seconds"},
                "last_end": {"type": ["number", "null"], "description": "Unix seconds"},
            },
        },
        "recording": {
            "type": ["object", "null"],
            "description": "null when no input has the record role",
            "properties": {
                "enabled": {
                    "type": "boolean",
                    "description": "motion opens clips; switched with cameras.<name>.record.enabled or over MQTT",
                },
                "recording": {"type": "boolean", "description": "a clip is being written"},
                "clips": {"type": "integer", "description": "clips closed since the hub started"},
                "last_clip_end": {"type": ["number", "null"], "description": "Unix seconds"},
                "error": {
                    "type": ["string", "null"],
                    "description": "e.g. disk full; cleared when recording works again",
                },
                "paused": {"type": "boolean", "description": "recording paused for lack of disk space"},
            },
        },
    },
}

HEALTH: dict[str, Any] = {
    "type": "object",
    "required": ["status", "uptime", "cameras", "online"],
    "properties": {
        "status": {
            "enum": ["ok", "degraded"],
            "description": "degraded: the audit log cannot be written; the hub records, audited actions answer 503",
        },
        "uptime": {"type": "number", "description": "seconds since the web server started"},
        "cameras": {"type": "integer"},
        "online": {"type": "integer", "description": "cameras whose every input is connected"},
        "outputs": {
            "type": "object",
            "description": "each running output (mqtt) by name: whether it is connected, what it queued, sent and "
            "dropped, and the inbound messages it ignored by kind (docs/mqtt.md)",
            "additionalProperties": {"type": "object"},
        },
        "audit": {
            "type": "object",
            "required": ["writable", "reason"],
            "properties": {
                "writable": {
                    "type": "boolean",
                    "description": "false from a failed audit write until one succeeds; "
                    "retried at the next audited action and every few seconds",
                },
                "reason": {
                    "type": ["string", "null"],
                    "description": "why it cannot be written, e.g. 'database or disk is full'",
                },
            },
        },
    },
}


NAME = {"name": "name", "in": "path", "required": True, "schema": {"type": "string", "pattern": CAMERA_NAME}}
NOT_FOUND = {"404": error_answer("no camera of that name")}
HEALTH_OP = {
    "summary": "Liveness, for health checks; 200 while the hub answers, `status` says how it is",
    "responses": {"200": json_answer(HEALTH, "ok, or degraded while the audit log cannot be written")},
}
LIST_OP = {
    "summary": "Status of every camera",
    "responses": {
        "200": json_answer({"type": "array", "items": {"$ref": "#/components/schemas/CameraStatus"}}, "cameras by name")
    },
}
GET_OP = {
    "summary": "Status of one camera",
    "parameters": [NAME],
    "responses": {"200": json_answer({"$ref": "#/components/schemas/CameraStatus"}, "the camera"), **NOT_FOUND},
}
SNAPSHOT_OP = {
    "summary": "The newest analysed frame as a JPEG",
    "parameters": [NAME],
    "responses": {
        "200": {"description": "JPEG", "content": {"image/jpeg": {}}},
        "404": error_answer("no such camera, or no picture yet"),
    },
}
LIVE_OP = {
    "summary": "Live view: analysed frames as multipart/x-mixed-replace JPEGs",
    "description": "Made from frames already decoded for detection; viewers add no decoding.",
    "parameters": [NAME],
    "responses": {"200": {"description": "MJPEG stream", "content": {"multipart/x-mixed-replace": {}}}, **NOT_FOUND},
}
ROUTES = Routes("cameras", schemas={"CameraStatus": CAMERA_STATUS, "InputStatus": INPUT_STATUS})


def _camera(request: web.Request) -> CameraPipeline:
    name = request.match_info["name"]
    cameras = request.app[CAMERAS]
    camera = cameras.get(name)
    if camera is None:
        raise NotFound(f"no camera named {name!r}; known: {', '.join(sorted(cameras)) or 'none'}")
    return camera


@ROUTES.get("/api/health", HEALTH_OP)
async def health(request: web.Request) -> web.StreamResponse:
    """Always 200 while the hub answers; `status` is "degraded" while the audit log cannot be written
    (recording goes on, audited actions answer 503)."""
    cameras = request.app[CAMERAS]
    online = sum(c.status()["online"] for c in cameras.values())
    body: dict[str, Any] = {
        "status": "ok",
        "uptime": round(time.monotonic() - request.app[STARTED], 1),
        "cameras": len(cameras),
        "online": online,
    }
    outputs = request.app.get(OUTPUTS)
    if outputs:
        body["outputs"] = {domain: output.health() for domain, output in sorted(outputs.items())}
    audit = request.app.get(AUDIT_LOG)
    if audit is not None:
        body["audit"] = {"writable": audit.writable, "reason": audit.unwritable}
        if not audit.writable:
            body["status"] = "degraded"
    return web.json_response(body)


@ROUTES.get("/api/cameras", LIST_OP)
async def list_cameras(request: web.Request) -> web.StreamResponse:
    shown = sorted((n, c) for n, c in request.app[CAMERAS].items() if _listed(request, n))
    return web.json_response([c.status() for _, c in shown])


@ROUTES.get("/api/cameras/{name}", GET_OP)
async def get_camera(request: web.Request) -> web.StreamResponse:
    camera = _camera(request)
    if not _listed(request, camera.name):
        raise NotFound(f"no camera named {camera.name!r}")
    return web.json_response(camera.status())


def _listed(request: web.Request, camera: str) -> bool:
    """Status is public, but a member limited to some cameras is told only of those, as on every footage
    route: to them the others do not exist."""
    identity = request.get(IDENTITY)
    return identity is None or not identity.household or identity.may_view(camera)


@ROUTES.get("/api/cameras/{name}/snapshot.jpg", SNAPSHOT_OP, household=True)
@household_only
async def snapshot(request: web.Request) -> web.StreamResponse:
    camera = _camera(request)
    require_camera(request, camera.name)
    latest = await request.app[LIVE][camera.name].jpeg()
    if latest is None:
        raise NotFound(f"camera {camera.name!r} has no picture yet; its status says why")
    return web.Response(body=latest[1], content_type="image/jpeg", headers={"Cache-Control": "no-store"})


@ROUTES.get("/api/cameras/{name}/live.mjpeg", LIVE_OP, household=True)
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
                if not await still_allowed(request, camera.name):
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


async def still_allowed(request: web.Request, camera: str) -> bool:
    """Whether the viewer's credential still grants this camera; if not, say why in one log line."""
    try:
        await recheck(request, *HOUSEHOLD)
        require_camera(request, camera)
    except HubError as exc:
        log.info("live view of %r ended: %s", camera, exc)
        return False
    return True
