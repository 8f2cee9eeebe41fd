"""Routes for a camera's settings: read by the household, changed by an owner with a fresh password.

`GET /api/cameras/{name}/settings` shows the values a camera runs with, what
the config says for each, and which are kept changes (a member sees only
the cameras they may). `PATCH` changes the keys it names, all or none,
through `CameraSettings.change_many`: checked (a refusal names the key and
what would be right), written to the audit log as `setting_changed` per key,
kept in camera-settings.json and applied to the running camera with no
restart (docs/config.md, "Settings changed while the hub runs").
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from camhub.auth import require_camera, require_fresh, require_household, require_roles
from camhub.config import CAMERA_NAME, CameraConfig
from camhub.errors import NotFound
from camhub.http.apidoc import SESSION_OR_TOKEN, Schema, error_answer, json_answer
from camhub.http.bodies import BODY_RULES, read_json
from camhub.http.routes import Routes
from camhub.motion.zones import MAX_POINTS, MAX_POLYGONS
from camhub.setting_rules import KEYS, MASKS, NUMBERS, RETAIN_DAYS, SWITCHES, ZONES, SettingRefused, config_value
from camhub.settings import CameraSettings

SETTINGS: web.AppKey[CameraSettings] = web.AppKey("camera_settings")
# The largest body: every zone and mask at its most points, each coordinate written out in full.
MAX_BODY = 512 * 1024

POINT: Schema = {
    "type": "array",
    "minItems": 2,
    "maxItems": 2,
    "items": {"type": "number", "minimum": 0, "maximum": 1},
    "description": "[x, y] in 0..1 of the frame: (0, 0) the top left corner, (1, 1) the bottom right",
}
POLYGON: Schema = {
    "type": "array",
    "minItems": 3,
    "maxItems": MAX_POINTS,
    "items": POINT,
    "description": "corners in order around the area, not crossing, the first not repeated at the end",
}


def _number(key: str) -> Schema:
    low, low_in, high, high_in, unit = NUMBERS[key]
    schema: Schema = {"type": "number", "description": unit}
    schema["minimum" if low_in else "exclusiveMinimum"] = low
    schema["maximum" if high_in else "exclusiveMaximum"] = high
    return schema


VALUES: Schema = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        **{key: {"type": "boolean"} for key in SWITCHES},
        **{key: _number(key) for key in NUMBERS},
        RETAIN_DAYS: {**_number(RETAIN_DAYS), "type": ["number", "null"], "description": "days; null: retention.days"},
        ZONES: {
            "type": "object",
            "maxProperties": MAX_POLYGONS,
            "propertyNames": {"pattern": CAMERA_NAME},
            "description": "zone name to its area; when any is given, motion counts only inside zones",
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "required": ["points"],
                "properties": {
                    "points": POLYGON,
                    "min_area": {"type": ["number", "null"], "exclusiveMinimum": 0, "maximum": 1},
                },
            },
        },
        MASKS: {
            "type": "array",
            "maxItems": MAX_POLYGONS,
            "items": POLYGON,
            "description": "areas where change never counts",
        },
    },
}
ANSWER: Schema = {
    "type": "object",
    "required": ["camera", "settings", "config", "kept"],
    "properties": {
        "camera": {"type": "string"},
        "settings": {**VALUES, "description": "the values in force"},
        "config": {**VALUES, "description": "what the config says; a kept change wins while this is unchanged"},
        "kept": {"type": "array", "items": {"enum": list(KEYS)}, "description": "keys set while the hub ran"},
        "retention_days": {"type": "number", "description": "retention.days, used while retain_days is null"},
    },
}
NAME_PARAM: Schema = {
    "name": "name",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": CAMERA_NAME},
}
ERRORS = {
    "400": f"setting_refused: a key is unknown or its value wrong (the message starts with the key and says what "
    f"is right), or invalid_body: {BODY_RULES}",
    "401": "login_required, or reauth_required: changing settings needs a password typed within 300 s",
    "403": "forbidden: only owners change settings; members and owners read them",
    "404": "not_found: no running camera of that name (or one the member may not see)",
    "413": f"payload_too_large: a body over {MAX_BODY} bytes",
    "503": "audit_unavailable: the audit log cannot be written, so nothing was changed",
}


def _op(summary: str, errors: str, **extra: Any) -> dict[str, Any]:
    return {
        "summary": summary,
        "security": SESSION_OR_TOKEN,
        "parameters": [NAME_PARAM],
        "responses": {
            "200": json_answer({"$ref": "#/components/schemas/CameraSettings"}, "the camera's settings"),
            **{code: error_answer(ERRORS[code]) for code in errors.split()},
        },
        **extra,
    }


ROUTES = Routes("camera settings", schemas={"CameraSettings": ANSWER})


def _running(request: web.Request) -> tuple[str, CameraConfig]:
    name = request.match_info["name"]
    require_camera(request, name)
    cfg = request.app[SETTINGS].config_of(name)
    if cfg is None:
        raise NotFound(f"no running camera named {name!r}")
    return name, cfg


def _answer(request: web.Request, name: str, cfg: CameraConfig) -> web.Response:
    settings = request.app[SETTINGS]
    return web.json_response(
        {
            "camera": name,
            "settings": dict(settings.values(name, cfg).settings),
            "config": {key: config_value(cfg, key) for key in KEYS},
            "kept": settings.kept_keys(name, cfg),
            "retention_days": settings.retention_days,
        }
    )


@ROUTES.get(
    "/api/cameras/{name}/settings",
    _op("A camera's settings: the values in force, the config's, and which were changed", "401 403 404"),
    household=True,
)
async def camera_settings(request: web.Request) -> web.StreamResponse:
    require_household(request)
    return _answer(request, *_running(request))


@ROUTES.route(
    "PATCH",
    "/api/cameras/{name}/settings",
    _op(
        "An owner changes a camera's settings (fresh password): the keys given, all or none, logged as "
        "setting_changed, kept, and applied without a restart",
        "400 401 403 404 413 503",
        requestBody={"required": True, "content": {"application/json": {"schema": VALUES}}},
    ),
    audited=True,
)
async def change_camera_settings(request: web.Request) -> web.StreamResponse:
    require_roles(request, "owner")
    who = require_fresh(request)  # as adopting a camera: an owner's password typed within 300 s
    name, _ = _running(request)
    body = await read_json(request, MAX_BODY)
    unknown = sorted(set(body) - set(KEYS))
    if unknown:
        raise SettingRefused(f"{unknown[0]!r} is not a camera setting; settings: {', '.join(KEYS)}")
    await request.app[SETTINGS].change_many(name, body, actor=who.username, source="api")
    return _answer(request, *_running(request))
