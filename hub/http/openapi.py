"""The OpenAPI 3.1 document for /api, kept beside the routes it describes.

A test compares this document with the routes the app really serves, so a
route cannot be added without being documented, and checks that exactly the
operations with a `security` requirement refuse anonymous callers.
"""

from __future__ import annotations

from typing import Any

from camhub import __version__
from camhub.audit.routes import OPENAPI_PATHS as AUDIT_PATHS
from camhub.auth import OPENAPI_PATHS as AUTH_PATHS
from camhub.auth import OPENAPI_SECURITY_SCHEMES
from camhub.config import CAMERA_NAME
from camhub.http.clips import CLIP_ID as CLIP_ID_DIGITS
from camhub.http.clips import DEFAULT_LIMIT, MAX_ID, MAX_LIMIT
from camhub.privacy.openapi import OPENAPI_PATHS as PRIVACY_PATHS
from camhub.privacy.openapi import TIME_TEXT

ERROR = {"$ref": "#/components/schemas/Error"}
NAME = {"name": "name", "in": "path", "required": True, "schema": {"type": "string", "pattern": CAMERA_NAME}}
# hub/api.py's static_file serves only these: no folders, no dot files.
STATIC_FILE = r"^[^./][^/]*\.(js|css|svg)$"

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
    },
}

CAMERA_STATUS: dict[str, Any] = {
    "type": "object",
    "required": ["name", "online", "state", "fps_in", "fps_analysed", "last_frame_time", "last_error", "inputs"],
    "properties": {
        "name": {"type": "string"},
        "online": {"type": "boolean", "description": "every input is connected"},
        "state": {"enum": ["online", "degraded", "offline"]},
        "fps_in": {"type": "number", "description": "packets per second of the busiest input"},
        "fps_analysed": {"type": "number", "description": "decoded frames analysed per second"},
        "last_frame_time": {"type": ["number", "null"], "description": "Unix seconds of the last analysed frame"},
        "last_error": {"type": ["string", "null"]},
        "inputs": {"type": "array", "items": {"$ref": "#/components/schemas/InputStatus"}},
        "motion": {
            "type": ["object", "null"],
            "description": "null when motion detection is off for the camera",
            "properties": {
                "active": {"type": "boolean", "description": "a motion event is open"},
                "score": {"type": "number", "description": "changed fraction of the last analysed frame, 0..1"},
                "events": {"type": "integer"},
                "last_start": {"type": ["number", "null"], "description": "Unix seconds"},
                "last_end": {"type": ["number", "null"], "description": "Unix seconds"},
            },
        },
        "recording": {
            "type": ["object", "null"],
            "description": "null when the camera does not record",
            "properties": {
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


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


NOT_FOUND = {"404": _json(ERROR, "no camera of that name")}
HOUSEHOLD_SECURITY = [{"sessionCookie": []}, {"bearerToken": []}]


def household_operation(operation: dict[str, Any]) -> dict[str, Any]:
    """A footage operation: owners and members only, by session cookie or API token."""
    return {
        **operation,
        "security": HOUSEHOLD_SECURITY,
        "responses": {
            **operation["responses"],
            "401": _json(ERROR, "login_required: no valid session or token"),
            "403": _json(ERROR, "forbidden: not an owner or member; or password_change_required"),
        },
    }


CLIP: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "camera": {"type": "string"},
        "start_time": {"type": "number", "description": "Unix seconds, UTC: capture time of the first packet"},
        "end_time": {"type": "number", "description": "Unix seconds, UTC"},
        "duration": {"type": "number", "description": "seconds"},
        "bytes": {"type": "integer", "description": "size of the MP4 file"},
        "codec": {"type": "string", "description": "h264 or hevc (stream copy); MJPEG sources are recorded as h264"},
        "width": {"type": "integer"},
        "height": {"type": "integer"},
        "sha256": {"type": "string", "description": "hex SHA-256 of the MP4 file"},
        "peak_motion": {"type": ["number", "null"], "description": "fraction of the frame changed at the peak"},
        "state": {"enum": ["ok"]},
        "video_url": {"type": "string"},
        "snapshot_url": {"type": ["string", "null"]},
        "thumbnail_url": {"type": ["string", "null"]},
    },
}
CLIP_ID = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID, "description": "ASCII digits"},
}
TIME = {"oneOf": [{"type": "number"}, TIME_TEXT]}
# `next` is "<start time>_<clip id>", as hub/api_clips.py's cursor_of writes it.
CURSOR = rf"^[-+.eE0-9]{{1,32}}_{CLIP_ID_DIGITS.pattern}$"
NO_CLIP = {"404": _json(ERROR, "no such clip, or the clip has no such file")}
CLIP_PATHS: dict[str, Any] = {
    "/api/clips": {
        "get": household_operation(
            {
                "summary": "Clips, newest first, filtered by camera and time; paginated",
                "parameters": [
                    {"name": "camera", "in": "query", "schema": {"type": "string", "pattern": CAMERA_NAME}},
                    {
                        "name": "start",
                        "in": "query",
                        "schema": TIME,
                        "description": "clips ending after this time (Unix seconds or ISO 8601 with zone)",
                    },
                    {"name": "end", "in": "query", "schema": TIME, "description": "clips starting before this time"},
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
                    },
                    {
                        "name": "cursor",
                        "in": "query",
                        "schema": {"type": "string", "pattern": CURSOR},
                        "description": "the `next` of the previous page",
                    },
                ],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "clips": {"type": "array", "items": {"$ref": "#/components/schemas/Clip"}},
                                "next": {
                                    "type": ["string", "null"],
                                    "pattern": CURSOR,
                                    "description": "cursor of the next page; null on the last",
                                },
                            },
                        },
                        "a page of clips",
                    ),
                    "400": _json(ERROR, "a bad time, limit or cursor (error key bad_request)"),
                    "404": _json(ERROR, "camera: no camera of that name (to a member, also one outside their cameras)"),
                },
            }
        )
    },
    "/api/clips/{id}": {
        "get": household_operation(
            {
                "summary": "One clip",
                "parameters": [CLIP_ID],
                "responses": {"200": _json({"$ref": "#/components/schemas/Clip"}, "the clip"), **NO_CLIP},
            }
        )
    },
    "/api/clips/{id}/video": {
        "get": household_operation(
            {
                "summary": "The clip's fragmented MP4; supports HTTP Range requests",
                "parameters": [CLIP_ID],
                "responses": {
                    "200": {"description": "MP4", "content": {"video/mp4": {}}},
                    "206": {"description": "the requested byte range", "content": {"video/mp4": {}}},
                    **NO_CLIP,
                },
            }
        )
    },
    "/api/clips/{id}/snapshot": {
        "get": household_operation(
            {
                "summary": "JPEG of the frame with the most motion",
                "parameters": [CLIP_ID],
                "responses": {"200": {"description": "JPEG", "content": {"image/jpeg": {}}}, **NO_CLIP},
            }
        )
    },
    "/api/clips/{id}/thumbnail": {
        "get": household_operation(
            {
                "summary": "Small JPEG of the same frame",
                "parameters": [CLIP_ID],
                "responses": {"200": {"description": "JPEG", "content": {"image/jpeg": {}}}, **NO_CLIP},
            }
        )
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
AUDIT_UNAVAILABLE = _json(
    ERROR,
    "audit_unavailable: the audit log cannot be written (disk full, I/O error, read-only, "
    "locked); nothing was done, and a share download was not counted. The message says "
    "why; GET /api/health shows when it is back",
)


def _may_refuse_unaudited(paths: dict[str, Any]) -> dict[str, Any]:
    """`paths` with a 503 on every operation that writes an audit entry first: every POST but logout, and downloads."""

    def audited(path: str, method: str) -> bool:
        return (method == "post" and path != "/api/auth/logout") or path == "/api/share/{token}"

    return {
        path: {
            method: {**op, "responses": {**op["responses"], "503": AUDIT_UNAVAILABLE}} if audited(path, method) else op
            for method, op in item.items()
        }
        for path, item in paths.items()
    }


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "camhub", "version": __version__},
        "paths": {
            "/": {"get": {"summary": "Status page", "responses": {"200": {"description": "HTML"}}}},
            "/static/{file}": {
                "get": {
                    "summary": "Script and style of the status page",
                    "parameters": [
                        {
                            "name": "file",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "pattern": STATIC_FILE},
                        }
                    ],
                    "responses": {"200": {"description": "the file"}, "404": _json(ERROR, "no such file")},
                }
            },
            "/api/health": {
                "get": {
                    "summary": "Liveness, for health checks; 200 while the hub answers, `status` says how it is",
                    "responses": {"200": _json(HEALTH, "ok, or degraded while the audit log cannot be written")},
                }
            },
            "/api/cameras": {
                "get": {
                    "summary": "Status of every camera",
                    "responses": {
                        "200": _json(
                            {"type": "array", "items": {"$ref": "#/components/schemas/CameraStatus"}}, "cameras by name"
                        )
                    },
                }
            },
            "/api/cameras/{name}": {
                "get": {
                    "summary": "Status of one camera",
                    "parameters": [NAME],
                    "responses": {
                        "200": _json({"$ref": "#/components/schemas/CameraStatus"}, "the camera"),
                        **NOT_FOUND,
                    },
                }
            },
            "/api/cameras/{name}/snapshot.jpg": {
                "get": household_operation(
                    {
                        "summary": "The newest analysed frame as a JPEG",
                        "parameters": [NAME],
                        "responses": {
                            "200": {"description": "JPEG", "content": {"image/jpeg": {}}},
                            "404": _json(ERROR, "no such camera, or no picture yet"),
                        },
                    }
                )
            },
            "/api/cameras/{name}/live.mjpeg": {
                "get": household_operation(
                    {
                        "summary": "Live view: analysed frames as multipart/x-mixed-replace JPEGs",
                        "description": "Made from frames already decoded for detection; viewers add no decoding.",
                        "parameters": [NAME],
                        "responses": {
                            "200": {"description": "MJPEG stream", "content": {"multipart/x-mixed-replace": {}}},
                            **NOT_FOUND,
                        },
                    }
                )
            },
            "/api/openapi.json": {
                "get": {"summary": "This document", "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1")}}
            },
            **CLIP_PATHS,
            **AUDIT_PATHS,
            **_may_refuse_unaudited(AUTH_PATHS),
            **_may_refuse_unaudited(PRIVACY_PATHS),
        },
        "components": {
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error", "message"],
                    "properties": {
                        "error": {"type": "string", "description": "stable key, e.g. not_found"},
                        "message": {"type": "string"},
                    },
                },
                "CameraStatus": CAMERA_STATUS,
                "InputStatus": INPUT_STATUS,
                "Clip": CLIP,
            },
            "securitySchemes": OPENAPI_SECURITY_SCHEMES,
        },
    }
