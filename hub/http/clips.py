"""Clip routes: list and filter clips, serve their video (with Range) and snapshots.

Paths come from the index, never from the request, so no request can name a
file outside the data folder. Every route here is footage: `household_only`.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from pathlib import Path

from aiohttp import web

from camhub.auth import IDENTITY, household_only, require_camera
from camhub.errors import BadRequest, NotFound
from camhub.store.db import Database
from camhub.store.index import ClipRecord, get_clip, query_clips

DB = web.AppKey("db", Database)
DATA_DIR = web.AppKey("data_dir", Path)
MAX_LIMIT = 500
CLIP_ID = re.compile(r"[0-9]{1,19}")  # ASCII digits only: str.isdigit() also takes "²"
MAX_ID = 2**63 - 1  # SQLite's largest integer
DEFAULT_LIMIT = 100


def parse_time(name: str, value: str | None) -> float | None:
    """Unix seconds or ISO 8601 with a zone, e.g. 2026-11-29T10:00:00Z."""
    if value is None or value == "":
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(
            f"{name}={value!r} is not a time; use Unix seconds or ISO 8601 like 2026-11-29T10:00:00Z"
        ) from None
    if parsed.tzinfo is None:
        raise BadRequest(f"{name}={value!r} has no time zone; add Z or +HH:MM")
    return parsed.timestamp()


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


@household_only
async def list_clips(request: web.Request) -> web.StreamResponse:
    q = request.query
    start, end = parse_time("start", q.get("start")), parse_time("end", q.get("end"))
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
    if camera is not None:
        require_camera(request, camera)
    identity = request.get(IDENTITY)
    # A member limited to some cameras lists only theirs.
    allowed = identity.cameras if identity is not None and identity.role == "member" else None
    clips = await request.app[DB].read(
        lambda db: query_clips(db, camera=camera, cameras=allowed, start=start, end=end, limit=limit + 1, after=after)
    )
    page = clips[:limit]
    more = len(clips) > limit
    return web.json_response(
        {"clips": [clip_json(c) for c in page], "next": cursor_of(page[-1]) if more and page else None}
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


@household_only
async def clip_video(request: web.Request) -> web.StreamResponse:
    clip = await _clip(request)
    return _file(request, clip.path, "video", "video/mp4")


@household_only
async def clip_snapshot(request: web.Request) -> web.StreamResponse:
    clip = await _clip(request)
    return _file(request, clip.snapshot_path, "snapshot", "image/jpeg")


@household_only
async def clip_thumbnail(request: web.Request) -> web.StreamResponse:
    clip = await _clip(request)
    return _file(request, clip.thumbnail_path, "thumbnail", "image/jpeg")


def add_routes(app: web.Application, db: Database, data_dir: Path) -> None:
    app[DB] = db
    app[DATA_DIR] = data_dir
    app.router.add_get("/api/clips", list_clips)
    app.router.add_get("/api/clips/{id}", one_clip)
    app.router.add_get("/api/clips/{id}/video", clip_video)
    app.router.add_get("/api/clips/{id}/snapshot", clip_snapshot)
    app.router.add_get("/api/clips/{id}/thumbnail", clip_thumbnail)
