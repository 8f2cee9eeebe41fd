"""`GET /api/storage`: what the disk holds and what retention will do, for the dashboard's Storage page.

Read-only and household only: the data folder's disk (total, used, free),
the clips per camera (count, bytes, oldest and newest), the oldest clip and
when its age limit lets retention delete it, the retention limits the hub
runs with, and, for owners, each standing hold with the clips and bytes it
keeps from retention. A member sees only the cameras an owner allowed them,
and no holds. Sealed holds are left out as `GET /api/holds` leaves them out,
so the totals shown never reveal one.
"""

from __future__ import annotations

import asyncio
import functools
import shutil
from typing import Any

import sqlite_utils
from aiohttp import web

from camhub.auth import IDENTITY, household_only
from camhub.auth.identity import Identity
from camhub.http.apidoc import json_answer
from camhub.http.clips import DATA_DIR, DB
from camhub.http.routes import Routes
from camhub.privacy.routes import PRIVACY
from camhub.recording.retention import Retention
from camhub.store.index import clip_cameras, clips_overlapping, oldest_clip

RETENTION = web.AppKey("retention", Retention)

SECONDS = {"type": ["number", "null"], "description": "Unix seconds"}
STORAGE: dict[str, Any] = {
    "type": "object",
    "required": ["disk", "cameras", "oldest_clip", "retention"],
    "properties": {
        "disk": {
            "type": "object",
            "description": "the file system of the data folder, in bytes",
            "properties": {"total": {"type": "integer"}, "used": {"type": "integer"}, "free": {"type": "integer"}},
        },
        "cameras": {
            "type": "array",
            "description": "clips by camera (a member: their cameras only)",
            "items": {
                "type": "object",
                "properties": {
                    "camera": {"type": "string"},
                    "clips": {"type": "integer"},
                    "bytes": {"type": "integer"},
                    "oldest_start": SECONDS,
                    "newest_end": SECONDS,
                    "retain_days": {"type": "number", "description": "days this camera's clips are kept"},
                },
            },
        },
        "oldest_clip": {
            "type": ["object", "null"],
            "properties": {
                "id": {"type": "integer"},
                "camera": {"type": "string"},
                "start": SECONDS,
                "end": SECONDS,
                "bytes": {"type": "integer"},
                "due_s": {**SECONDS, "description": "when its camera's age limit lets retention delete it"},
                "held": {"type": "boolean", "description": "a hold keeps it (owners only)"},
            },
        },
        "retention": {
            "type": "object",
            "properties": {
                "days": {"type": "number", "description": "retention.days: cameras without their own limit"},
                "max_bytes": {"type": ["integer", "null"], "description": "retention.max_bytes; null: no budget"},
                "min_free_bytes": {"type": "integer", "description": "retention.min_free_bytes"},
                "interval_s": {"type": "number", "description": "retention.interval"},
                "deleted_since_start": {"type": "integer", "description": "clips retention deleted since start"},
            },
        },
        "holds": {
            "type": "array",
            "description": "owners only: standing holds and what each keeps from retention",
            "items": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "basis": {"type": "string"},
                    "cameras": {"type": "array", "items": {"type": "string"}},
                    "start_s": SECONDS,
                    "end_s": SECONDS,
                    "expires_s": SECONDS,
                    "clips": {"type": "integer"},
                    "bytes": {"type": "integer"},
                },
            },
        },
    },
}
ROUTES = Routes("storage")


@ROUTES.get(
    "/api/storage",
    {
        "summary": "Disk used and free, clips per camera, the oldest clip, retention limits; holds for owners",
        "responses": {"200": json_answer(STORAGE, "the storage of the data folder")},
    },
    household=True,
)
@household_only
async def storage(request: web.Request) -> web.StreamResponse:
    retention = request.app[RETENTION]
    identity: Identity | None = request.get(IDENTITY)
    db, data_dir = request.app[DB], request.app[DATA_DIR]
    disk = await asyncio.to_thread(shutil.disk_usage, data_dir)
    limits = retention.limits
    per_camera = [
        {
            "camera": row["camera"],
            "clips": row["clips"],
            "bytes": row["bytes"],
            "oldest_start": row["oldest"],
            "newest_end": row["newest_end"],
            "retain_days": limits.days.get(row["camera"], limits.default_days),
        }
        for row in await db.read(clip_cameras)
        if identity is None or identity.may_view(row["camera"])
    ]
    owner = identity is None or identity.role == "owner"
    holds = await _holds(request, identity) if owner else []
    body: dict[str, Any] = {
        "disk": {"total": disk.total, "used": disk.used, "free": disk.free},
        "cameras": per_camera,
        "oldest_clip": await _oldest(db, per_camera, holds if owner else None),
        "retention": {
            "days": limits.default_days,
            "max_bytes": limits.max_bytes,
            "min_free_bytes": limits.min_free_bytes,
            "interval_s": retention.interval,
            "deleted_since_start": retention.deleted,
        },
    }
    if owner:
        body["holds"] = holds
    return web.json_response(body)


async def _oldest(db: Any, per_camera: list[dict[str, Any]], holds: list[dict[str, Any]] | None) -> Any:
    """The oldest clip of the cameras shown, when its age limit is due, and (owners) whether a hold keeps it."""
    if not per_camera:
        return None
    first = min(per_camera, key=lambda c: c["oldest_start"])
    row = await db.read(lambda d: oldest_clip(d, first["camera"]))
    if row is None:
        return None
    clip: dict[str, Any] = {
        "id": row["id"],
        "camera": row["camera"],
        "start": row["start_time"],
        "end": row["end_time"],
        "bytes": row["bytes"],
        "due_s": row["end_time"] + first["retain_days"] * 86400,
    }
    if holds is not None:
        clip["held"] = any(
            row["camera"] in h["cameras"] and row["start_time"] < h["end_s"] and row["end_time"] > h["start_s"]
            for h in holds
        )
    return clip


async def _holds(request: web.Request, identity: Identity | None) -> list[dict[str, Any]]:
    """Standing holds an owner may see, each with the clips and bytes it keeps (sealed holds left out)."""
    privacy = request.app.get(PRIVACY)
    if privacy is None or identity is None:
        return []
    now = privacy.ctx.now()
    shown = [h for h in await privacy.holds.list_for(identity) if h["released_s"] is None and h["expires_s"] > now]

    def kept(d: sqlite_utils.Database, hold: dict[str, Any]) -> tuple[int, int]:
        counts = [clips_overlapping(d, camera, hold["start_s"], hold["end_s"]) for camera in hold["cameras"]]
        return sum(c for c, _ in counts), sum(b for _, b in counts)

    out = []
    for hold in shown:
        clips, size = await request.app[DB].read(functools.partial(kept, hold=hold))
        out.append(
            {
                **{k: hold[k] for k in ("id", "basis", "cameras", "start_s", "end_s", "expires_s")},
                "clips": clips,
                "bytes": size,
            }
        )
    return out


def add_storage_routes(app: web.Application, retention: Retention) -> None:
    """Serve /api/storage on `app` (which must serve clips: it reads their index), with the hub's retention."""
    app[RETENTION] = retention
    ROUTES.add_to(app)
