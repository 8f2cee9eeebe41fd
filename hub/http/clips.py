"""Clip routes: list and filter clips, serve their video (with Range) and snapshots.

Paths come from the index, never from the request, so no request can name a
file outside the data folder. Every route here is footage: `household_only`.
`/api/clips?zone=Z` (repeatable, at most MAX_ZONES_IN_QUERY) lists the clips
that touched any of the zones named; a zone name that could not be one is a
400 naming it, and the names reach SQL only as bound parameters.
`/api/clips/cameras` lists the cameras that have clips (a removed camera's
clips are still there to review), with their oldest and newest clip.
A clip's video answers one byte range (aiohttp's FileResponse: 206 with
Content-Range). A Range this route cannot serve (past the end, backwards, the
empty suffix `bytes=-0`, several ranges, not a byte range) is checked here
first and answered 416 with `Content-Range: bytes */size` and a JSON error
saying why, like every other error.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from aiohttp import web

from camhub.auth import IDENTITY, household_only, require_camera
from camhub.clock import parse_time
from camhub.config import CAMERA_NAME
from camhub.errors import BadRequest, NotFound
from camhub.http.apidoc import TIME_TEXT, error_answer, json_answer
from camhub.http.routes import Routes
from camhub.store.db import Database
from camhub.store.index import ClipRecord, clip_cameras, get_clip, query_clips

DB = web.AppKey("db", Database)
DATA_DIR = web.AppKey("data_dir", Path)
MAX_LIMIT = 500
CLIP_ID = re.compile(r"[0-9]{1,19}")  # ASCII digits only: str.isdigit() also takes "²"
MAX_ID = 2**63 - 1  # SQLite's largest integer
DEFAULT_LIMIT = 100
# A zone name as the config allows it (letters, digits, '-', '_', like a camera's name, either case).
ZONE_NAME = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$"
ZONE_NAME_LENGTH = 63
MAX_ZONES_IN_QUERY = 16
# One byte range as aiohttp's Request.http_range reads it; 19 digits reach past any file (and keep int() quick).
BYTE_RANGE = re.compile(r"bytes=([0-9]{0,19})-([0-9]{0,19})", re.IGNORECASE)

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
        "zones": {
            "type": "array",
            "items": {"type": "string"},
            "description": "sorted names of the motion zones the clip's event touched; empty when it touched none, "
            "or when they are unknown (a clip indexed from its file by recovery or repair)",
        },
        "state": {"enum": ["ok"]},
        "video_url": {"type": "string"},
        "snapshot_url": {"type": ["string", "null"]},
        "thumbnail_url": {"type": ["string", "null"]},
    },
}
CLIP_ID_PARAM = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID, "description": "ASCII digits"},
}
TIME = {"oneOf": [{"type": "number"}, TIME_TEXT]}
# `next` is "<start time>_<clip id>", as cursor_of writes it.
CURSOR = rf"^[-+.eE0-9]{{1,32}}_{CLIP_ID.pattern}$"
NO_CLIP = {"404": error_answer("no such clip, or the clip has no such file")}
LIST_OP = {
    "summary": "Clips, newest first, filtered by camera, time and motion zone; paginated",
    "parameters": [
        {"name": "camera", "in": "query", "schema": {"type": "string", "pattern": CAMERA_NAME}},
        {
            "name": "zone",
            "in": "query",
            "style": "form",
            "explode": True,
            "schema": {
                "type": "array",
                "items": {"type": "string", "pattern": ZONE_NAME},
                "maxItems": MAX_ZONES_IN_QUERY,
            },
            "description": "clips whose motion touched this zone; repeat it (zone=a&zone=b) for clips that "
            f"touched any of them, at most {MAX_ZONES_IN_QUERY} times",
        },
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
        "200": json_answer(
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
        "400": error_answer("a bad time, limit, cursor or zone (error key bad_request)"),
        "404": error_answer("camera: no camera of that name (to a member, also one outside their cameras)"),
    },
}
ONE_OP = {
    "summary": "One clip",
    "parameters": [CLIP_ID_PARAM],
    "responses": {"200": json_answer({"$ref": "#/components/schemas/Clip"}, "the clip"), **NO_CLIP},
}
VIDEO_OP = {
    "summary": "The clip's fragmented MP4; supports HTTP Range requests",
    "parameters": [CLIP_ID_PARAM],
    "responses": {
        "200": {"description": "MP4", "content": {"video/mp4": {}}},
        "206": {"description": "the requested byte range", "content": {"video/mp4": {}}},
        "416": error_answer(
            "the Range asks for no byte of the clip, or is not one byte range (error key range_not_satisfiable); "
            "Content-Range says the clip's size (bytes */size)"
        ),
        **NO_CLIP,
    },
}
CAMERAS_OP = {
    "summary": "The cameras that have clips, with how many and the start of the oldest and newest; by name",
    "description": "A camera removed from the config keeps its clips, so it is listed here. A member sees only "
    "their cameras.",
    "responses": {
        "200": json_answer(
            {
                "type": "object",
                "properties": {
                    "cameras": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "camera": {"type": "string"},
                                "clips": {"type": "integer"},
                                "oldest": {"type": "number", "description": "Unix seconds, UTC: start of the oldest"},
                                "newest": {"type": "number", "description": "Unix seconds, UTC: start of the newest"},
                            },
                        },
                    }
                },
            },
            "the cameras with clips",
        )
    },
}
SNAPSHOT_OP = {
    "summary": "JPEG of the frame with the most motion",
    "parameters": [CLIP_ID_PARAM],
    "responses": {"200": {"description": "JPEG", "content": {"image/jpeg": {}}}, **NO_CLIP},
}
THUMBNAIL_OP = {
    "summary": "Small JPEG of the same frame",
    "parameters": [CLIP_ID_PARAM],
    "responses": {"200": {"description": "JPEG", "content": {"image/jpeg": {}}}, **NO_CLIP},
}
ROUTES = Routes("clips", schemas={"Clip": CLIP})


def query_time(name: str, value: str | None) -> float | None:
    """A time in the query (camhub.clock.parse_time's rules), or None when absent."""
    if value is None or value == "":
        return None
    try:
        return parse_time(value)
    except ValueError as exc:
        raise BadRequest(f"{name}: {exc}") from None


def parse_cursor(value: str | None) -> tuple[float, int] | None:
    if not value:
        return None
    try:
        start, clip_id = value.split("_", 1)
        parsed = float(start), int(clip_id)
    except ValueError:
        parsed = None
    if parsed is None or not math.isfinite(parsed[0]) or not 0 < parsed[1] <= MAX_ID:
        raise BadRequest(f"cursor={value!r} is not a cursor this API gave out; pass the `next` value as it was")
    return parsed


def query_zones(values: list[str]) -> list[str] | None:
    """The zone names of `zone=` parameters (empty ones ignored), or None when there are none."""
    if len(values) > MAX_ZONES_IN_QUERY:
        raise BadRequest(f"zone is given {len(values)} times; at most {MAX_ZONES_IN_QUERY} zones per query")
    zones = [v for v in values if v]
    for zone in zones:
        if len(zone) > ZONE_NAME_LENGTH:
            raise BadRequest(f"zone: a name of {len(zone)} characters; a zone name has at most {ZONE_NAME_LENGTH}")
        if not re.fullmatch(ZONE_NAME, zone):
            raise BadRequest(
                f"zone={zone!r} is not a zone name: letters, digits, '-' and '_', starting with a letter or digit"
            )
    return zones or None


def range_problem(header: str, size: int) -> str | None:
    """Why the Range `header` cannot be served from a file of `size` bytes, or None when it can."""
    match = BYTE_RANGE.fullmatch(header.strip())
    if match is None or match.groups() == ("", ""):
        shown = header[:40] + ("…" if len(header) > 40 else "")
        return f"Range {shown!r} is not one byte range; ask for bytes=FIRST-LAST, bytes=FIRST- or bytes=-COUNT"
    first, last = match.groups()
    if not first:
        return f"Range {header!r} asks for the last 0 bytes" if int(last) == 0 else None
    if int(first) >= size:
        return f"Range {header!r} starts past the end: the clip has {size} bytes (0 to {size - 1})"
    if last and int(last) < int(first):
        return f"Range {header!r} ends before it starts"
    return None


def cursor_of(clip: ClipRecord) -> str:
    return f"{clip.start_time!r}_{clip.id}"


def clip_json(clip: ClipRecord) -> dict[str, object]:
    body = clip.as_json()
    body.pop("path")
    body.pop("snapshot_path")
    body.pop("thumbnail_path")
    body["video_url"] = f"/api/clips/{clip.id}/video"
    body["snapshot_url"] = f"/api/clips/{clip.id}/snapshot" if clip.snapshot_path else None
    body["thumbnail_url"] = f"/api/clips/{clip.id}/thumbnail" if clip.thumbnail_path else None
    return body


@ROUTES.get("/api/clips", LIST_OP, household=True)
@household_only
async def list_clips(request: web.Request) -> web.StreamResponse:
    q = request.query
    start, end = query_time("start", q.get("start")), query_time("end", q.get("end"))
    if start is not None and end is not None and end <= start:
        raise BadRequest(f"end ({q.get('end')}) must be after start ({q.get('start')})")
    try:
        limit = int(q.get("limit", DEFAULT_LIMIT))
    except ValueError:
        raise BadRequest(f"limit={q.get('limit')!r} is not a whole number") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit={limit} must be between 1 and {MAX_LIMIT}")
    after = parse_cursor(q.get("cursor"))
    camera = q.get("camera") or None
    zones = query_zones(q.getall("zone", []))
    if camera is not None:
        require_camera(request, camera)
    allowed = _allowed_cameras(request)  # a member limited to some cameras lists only theirs
    clips = await request.app[DB].read(
        lambda db: query_clips(
            db, camera=camera, cameras=allowed, start=start, end=end, limit=limit + 1, after=after, zones=zones
        )
    )
    page = clips[:limit]
    more = len(clips) > limit
    return web.json_response(
        {"clips": [clip_json(c) for c in page], "next": cursor_of(page[-1]) if more and page else None}
    )


def _allowed_cameras(request: web.Request) -> frozenset[str] | None:
    """The cameras a member is limited to; None for everyone else."""
    identity = request.get(IDENTITY)
    return identity.cameras if identity is not None and identity.role == "member" else None


# Registered before /api/clips/{id}, which would otherwise take "cameras" for an id and answer 404.
@ROUTES.get("/api/clips/cameras", CAMERAS_OP, household=True)
@household_only
async def cameras_with_clips(request: web.Request) -> web.StreamResponse:
    allowed = _allowed_cameras(request)
    found = await request.app[DB].read(lambda db: clip_cameras(db, allowed))
    return web.json_response(
        {"cameras": [{k: row[k] for k in ("camera", "clips", "oldest", "newest")} for row in found]}
    )


async def _clip(request: web.Request) -> ClipRecord:
    raw = request.match_info["id"]
    if not CLIP_ID.fullmatch(raw) or not 0 < int(raw) <= MAX_ID:
        raise NotFound(f"no clip {raw!r}; clip ids are whole numbers")
    clip_id = int(raw)
    clip = await request.app[DB].read(lambda db: get_clip(db, clip_id))
    if clip is None or clip.state != "ok":
        raise NotFound(f"no clip {clip_id}")
    require_camera(request, clip.camera)
    return clip


@ROUTES.get("/api/clips/{id}", ONE_OP, household=True)
@household_only
async def one_clip(request: web.Request) -> web.StreamResponse:
    return web.json_response(clip_json(await _clip(request)))


def _file(request: web.Request, relative: str | None, what: str, content_type: str) -> web.StreamResponse:
    if relative is None:
        raise NotFound(f"this clip has no {what}")
    path = request.app[DATA_DIR] / relative
    if not path.is_file():
        raise NotFound(f"the {what} file of this clip is missing; run `camhub check`")
    return web.FileResponse(path, headers={"Content-Type": content_type, "Cache-Control": "private, max-age=3600"})


@ROUTES.get("/api/clips/{id}/video", VIDEO_OP, household=True)
@household_only
async def clip_video(request: web.Request) -> web.StreamResponse:
    clip = await _clip(request)
    response = _file(request, clip.path, "video", "video/mp4")
    byte_range = request.headers.get("Range")
    if byte_range is not None:
        size = (request.app[DATA_DIR] / clip.path).stat().st_size
        problem = range_problem(byte_range, size)
        if problem is not None:
            return web.json_response(
                {"error": "range_not_satisfiable", "message": problem},
                status=416,
                headers={"Content-Range": f"bytes */{size}"},
            )
    return response


@ROUTES.get("/api/clips/{id}/snapshot", SNAPSHOT_OP, household=True)
@household_only
async def clip_snapshot(request: web.Request) -> web.StreamResponse:
    clip = await _clip(request)
    return _file(request, clip.snapshot_path, "snapshot", "image/jpeg")


@ROUTES.get("/api/clips/{id}/thumbnail", THUMBNAIL_OP, household=True)
@household_only
async def clip_thumbnail(request: web.Request) -> web.StreamResponse:
    clip = await _clip(request)
    return _file(request, clip.thumbnail_path, "thumbnail", "image/jpeg")
