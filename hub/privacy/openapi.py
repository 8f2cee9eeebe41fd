"""The OpenAPI vocabulary the privacy routes share: their error answers, field schemas and the objects they return.

Each privacy route module (`request_routes`, `account_routes`,
`override_routes`, `transparency.routes`) documents its operations beside
its handlers with `operation(...)` and these schemas; what only one route
reads (a request body) stays with that route. Privacy operations state
their own security and their own error answers (`ERRORS`: which role, which
fresh password), so their routes are not declared `household`.

Limits are taken from `PrivacyConfig`'s defaults and the modules that enforce
them, so the document cannot drift from the code; a household may change
the configurable ones (docs/config.md), which the descriptions say.
"""

from __future__ import annotations

from typing import Any

from camhub.auth import USERNAME
from camhub.clock import LAST_SECOND
from camhub.config import CAMERA_NAME, PrivacyConfig
from camhub.http.apidoc import SESSION_OR_TOKEN, TIME_TEXT, Schema, json_answer
from camhub.http.bodies import BODY_RULES
from camhub.privacy.consent import MAX_PENDING_PER_REQUESTER, STATES
from camhub.privacy.requesters import MAX_PENDING as MAX_REGISTRATIONS
from camhub.privacy.scope import TEXT_MAX

DEFAULTS = PrivacyConfig()

TIME: Schema = {
    "oneOf": [{"type": "integer", "minimum": 0, "maximum": LAST_SECOND, "description": "Unix seconds, UTC"}, TIME_TEXT]
}
CAMERAS: Schema = {
    "type": "array",
    "minItems": 1,
    "uniqueItems": True,
    "items": {"type": "string", "pattern": CAMERA_NAME},
    "description": "names of configured cameras; an unknown one is refused (400) with the known ones listed",
}
SECONDS: Schema = {"type": "integer", "description": "Unix seconds, UTC"}
NULLABLE_SECONDS: Schema = {"type": ["integer", "null"], "description": "Unix seconds, UTC"}
USER_NAME: Schema = {
    "type": "string",
    "pattern": USERNAME.pattern,
    "description": "letters, digits, '.', '_', '@' or '-'",
}


def id_schema(prefix: str) -> Schema:
    """Ids the hub makes: a prefix and 128 random bits in hex (consent.py, overrides.py, holds.py)."""
    return {"type": "string", "pattern": f"^{prefix}_[0-9a-f]{{32}}$"}


REQUEST_ID, OVERRIDE_ID, HOLD_ID = id_schema("req"), id_schema("ovr"), id_schema("hold")


def text_schema(max_len: int = TEXT_MAX, description: str = "") -> Schema:
    """A text field as `Fields.text` reads it: non-empty, at most `max_len` characters."""
    return {
        "type": "string",
        "minLength": 1,
        "maxLength": max_len,
        **({"description": description} if description else {}),
    }


def path_param(name: str, schema: Schema) -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": schema}


def list_of(schema: Schema) -> Schema:
    return {"type": "array", "items": schema}


REQUEST_PARAM, OVERRIDE_PARAM, HOLD_PARAM = (
    path_param("id", REQUEST_ID),
    path_param("id", OVERRIDE_ID),
    path_param("id", HOLD_ID),
)
USER_PARAM = path_param("username", USER_NAME)

ERROR: Schema = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {
        "error": {"type": "string", "description": "stable key, e.g. invalid_field"},
        "message": {
            "type": "string",
            "description": "what is wrong, naming the field or value, and what would be right",
        },
    },
}
ERRORS: dict[str, str] = {
    "400": "invalid_field: a field is missing, mistyped, too long or unknown (named in the message); invalid_body: "
    f"{BODY_RULES}; bad_request",
    "401": "login_required: no valid session or token; reauth_required: the action needs a password typed within 300 s "
    "(POST /api/auth/reauth)",
    "403": "forbidden: the role may not do this; password_change_required",
    "404": "not_found: no such item, or it belongs to someone else (the same answer on purpose)",
    "409": "already_decided: the request is decided or expired, or this owner voted already",
    "410": "link_gone: the share link expired, was revoked or has no downloads left",
    "413": f"payload_too_large: a JSON body over privacy.max_request_bytes (default {DEFAULTS.max_request_bytes}) or a "
    f"document over privacy.max_document_bytes (default {DEFAULTS.max_document_bytes})",
    "429": f"too_many_pending: the requester has {MAX_PENDING_PER_REQUESTER} requests pending; "
    f"too_many_registrations: {MAX_REGISTRATIONS} registrations wait for the owners",
}


def error_answers(codes: str) -> dict[str, Schema]:
    """The privacy error answers for status codes like "401 403 404"."""
    return {code: json_answer(ERROR, ERRORS[code]) for code in codes.split()}


def operation(
    summary: str,
    ok: str,
    schema: Schema | None,
    errors: str,
    *,
    body: Schema | None = None,
    status: str = "200",
    secure: bool = True,
    params: tuple[Schema, ...] = (),
) -> dict[str, Any]:
    """An operation answering `status` with `schema` (JSON) and the error answers `errors` ("401 403");
    with a JSON `body`, with the privacy security requirement unless `secure` is False."""
    op: dict[str, Any] = {
        "summary": summary,
        "responses": {
            status: json_answer(schema, ok) if schema else {"description": ok},
            **error_answers(errors),
        },
    }
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if secure:
        op["security"] = SESSION_OR_TOKEN
    if params:
        op["parameters"] = list(params)
    return op


# The objects the routes answer with.

SCOPE: Schema = {
    "type": "object",
    "required": ["cameras", "start_s", "end_s", "clip_ids"],
    "properties": {
        "cameras": {"type": "array", "items": {"type": "string"}},
        "start_s": SECONDS,
        "end_s": SECONDS,
        "clip_ids": {
            "type": ["array", "null"],
            "items": {"type": "integer"},
            "description": "only these clips (narrowed by an owner); null: every clip in the window",
        },
    },
}

LINK: Schema = {
    "type": ["object", "null"],
    "description": "the share link of the release; null until approved",
    "properties": {
        "id": {"type": "string"},
        "url": {"type": "string", "description": "GET it to download the package; the URL is the credential"},
        "expires_s": SECONDS,
        "downloads": {"type": "integer"},
        "max_downloads": {"type": "integer"},
        "revoked_s": NULLABLE_SECONDS,
        "usable": {"type": "boolean"},
    },
}

SHARE_CONTENTS: Schema = {
    "type": "object",
    "required": ["export_id", "scope", "files", "downloads_left", "expires_s"],
    "properties": {
        "export_id": {"type": "string"},
        "built_s": SECONDS,
        "package_bytes": {"type": "integer", "description": "the zip's size in bytes"},
        "expires_s": SECONDS,
        "downloads": {"type": "integer", "description": "downloads used"},
        "max_downloads": {"type": "integer"},
        "downloads_left": {"type": "integer"},
        "scope": SCOPE,
        "files": {
            "type": "array",
            "description": "the manifest's files (docs/exports.md): name, camera, start_ms, end_ms "
            "(Unix milliseconds), bytes, sha256, trimmed",
            "items": {"type": "object"},
        },
    },
}

SEES: Schema = {
    "enum": ["own_requests", "account_requests"],
    "description": "own_requests: the token sees only the requests it submitted; account_requests: every "
    "request of its account (the owner chose to merge it with the account's other tokens)",
}

REQUESTER_ACCOUNT: Schema = {
    "type": "object",
    "description": "a requester account and how it came to exist",
    "properties": {
        "account": {"type": "string", "description": "its user name; self-registered accounts are reg-<16 hex>"},
        "display_name": {"type": "string", "description": "the name it chose when it registered; else its user name"},
        "origin": {"enum": ["self_registered", "issued_by_owner"]},
        "created_by": {
            "type": ["string", "null"],
            "description": "the owner who created it; null if it registered itself",
        },
        "created_at": {"type": "number", "description": "Unix seconds, UTC"},
        "enabled": {"type": "boolean"},
    },
}

REQUEST: Schema = {
    "type": "object",
    "properties": {
        "id": REQUEST_ID,
        "requester": {"type": "string"},
        "identity": {"type": "string"},
        "organisation": {"type": "string"},
        "contact": {"type": "string"},
        "purpose": {"type": "string"},
        "case_reference": {"type": ["string", "null"]},
        "legal_basis": {"type": ["string", "null"], "description": "what the requester asks under, as they state it"},
        "cameras": {"type": "array", "items": {"type": "string"}},
        "start_s": SECONDS,
        "end_s": SECONDS,
        "wanted_by_s": SECONDS,
        "created_s": SECONDS,
        "expires_s": {
            **SECONDS,
            "description": f"undecided after this, it expires as denied "
            f"(privacy.request_expiry_days, default {DEFAULTS.request_expiry_days:g})",
        },
        "state": {"enum": list(STATES)},
        "decided_s": NULLABLE_SECONDS,
        "message": {"type": ["string", "null"], "description": "the deciding owner's message"},
        "granted": {**SCOPE, "type": ["object", "null"]},
        "export_id": {"type": ["string", "null"]},
        "share_link": LINK,
        "votes": {"type": "array", "description": "owners only: each owner's decision", "items": {"type": "object"}},
        "token_id": {
            "type": ["integer", "null"],
            "description": "owners only: the requester token that submitted it "
            "(null: submitted before tokens were recorded)",
        },
        "submitted_by": {
            "type": ["object", "null"],
            "description": "owners only: the submitting token and its account, and how each came to exist",
            "properties": {
                "account": REQUESTER_ACCOUNT,
                "token": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "name": {"type": "string"},
                        "created_at": {"type": "number"},
                        "issued_by": {
                            "type": ["string", "null"],
                            "description": "the owner who issued it; null: the registration's own token",
                        },
                        "sees": SEES,
                    },
                },
            },
        },
    },
}

OVERRIDE: Schema = {
    "type": "object",
    "description": "the override as invoked, with what was supplied",
    "properties": {
        **{
            k: {"type": ["string", "null"]}
            for k in (
                "id",
                "kind",
                "authority",
                "jurisdiction",
                "case_number",
                "judge",
                "agency",
                "officer_contact",
                "document_sha256",
                "delay_ordered_by",
                "delay_provision",
                "invoked_by",
                "hold_id",
                "export_id",
            )
        },
        "issued_s": SECONDS,
        "cameras": {"type": "array", "items": {"type": "string"}},
        "start_s": SECONDS,
        "end_s": SECONDS,
        "invoked_s": SECONDS,
        "notice_delayed_until_s": NULLABLE_SECONDS,
        "notice_sent_s": NULLABLE_SECONDS,
        "follow_up_due_s": {
            **NULLABLE_SECONDS,
            "description": "emergencies: invoked + privacy.emergency_follow_up_hours "
            f"(default {DEFAULTS.emergency_follow_up_hours:g} h)",
        },
        "follow_up": {"type": ["object", "null"]},
        "follow_up_missed_s": NULLABLE_SECONDS,
        "delay_extensions": {
            "type": "array",
            "description": "each further delay: until_s, ordered_by, provision, at_s",
            "items": {"type": "object"},
        },
        "supplied": {"type": ["object", "null"], "description": "files, bytes, created_s and downloads of the release"},
        "share_link": LINK,
    },
}

HOLD: Schema = {
    "type": "object",
    "properties": {
        "id": HOLD_ID,
        "basis": {"type": "string", "description": "owner, or override:<id>"},
        "cameras": {"type": "array", "items": {"type": "string"}},
        "start_s": SECONDS,
        "end_s": SECONDS,
        "created_by": {"type": "string"},
        "created_s": SECONDS,
        "expires_s": {
            **SECONDS,
            "description": f"privacy.hold_days (default {DEFAULTS.hold_days:g}) after placing or renewing",
        },
        "released_s": NULLABLE_SECONDS,
    },
}
