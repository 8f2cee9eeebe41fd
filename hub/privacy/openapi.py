"""OpenAPI paths and schemas for outside requests, overrides, holds, share links and notices.

Limits are taken from `PrivacyConfig`'s defaults and the modules that enforce
them, so the document cannot drift from the code; a household may change
the configurable ones (docs/config.md), which the descriptions say.
"""

from __future__ import annotations

import inspect
from typing import Any

from camhub.auth import USERNAME
from camhub.clock import LAST_SECOND
from camhub.config import CAMERA_NAME, PrivacyConfig
from camhub.http.apidoc import TIME_TEXT
from camhub.http.bodies import BODY_RULES
from camhub.http.clips import MAX_ID
from camhub.privacy.consent import MAX_PENDING_PER_REQUESTER
from camhub.privacy.egress import TOKEN as SHARE_TOKEN
from camhub.privacy.overrides import FOLLOW_UP_KINDS, KINDS, NEEDS_JUDGE, SHA256
from camhub.privacy.requesters import MAX_PENDING as MAX_REGISTRATIONS
from camhub.privacy.scope import Fields

_D = PrivacyConfig()
_TEXT_MAX: int = inspect.signature(Fields.text).parameters["max_len"].default
SECURITY = [{"sessionCookie": []}, {"bearerToken": []}]
TIME = {
    "oneOf": [{"type": "integer", "minimum": 0, "maximum": LAST_SECOND, "description": "Unix seconds, UTC"}, TIME_TEXT]
}
CAMERAS = {
    "type": "array",
    "minItems": 1,
    "uniqueItems": True,
    "items": {"type": "string", "pattern": CAMERA_NAME},
    "description": "names of configured cameras; an unknown one is refused (400) with the known ones listed",
}
SECONDS = {"type": "integer", "description": "Unix seconds, UTC"}
NULLABLE_SECONDS = {"type": ["integer", "null"], "description": "Unix seconds, UTC"}
USER_NAME = {"type": "string", "pattern": USERNAME.pattern, "description": "letters, digits, '.', '_', '@' or '-'"}


def _id(prefix: str) -> dict[str, Any]:
    """Ids the hub makes: a prefix and 128 random bits in hex (consent.py, overrides.py, holds.py)."""
    return {"type": "string", "pattern": f"^{prefix}_[0-9a-f]{{32}}$"}


REQUEST_ID, OVERRIDE_ID, HOLD_ID, EXPORT_ID = _id("req"), _id("ovr"), _id("hold"), _id("exp")


def _text(max_len: int = _TEXT_MAX, description: str = "") -> dict[str, Any]:
    return {
        "type": "string",
        "minLength": 1,
        "maxLength": max_len,
        **({"description": description} if description else {}),
    }


def _path(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema}


ERROR = {
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
ERRORS = {
    "400": "invalid_field: a field is missing, mistyped, too long or unknown (named in the message); invalid_body: "
    f"{BODY_RULES}; bad_request",
    "401": "login_required: no valid session or token; reauth_required: the action needs a password typed within 300 s "
    "(POST /api/auth/reauth)",
    "403": "forbidden: the role may not do this; password_change_required",
    "404": "not_found: no such item, or it belongs to someone else (the same answer on purpose)",
    "409": "already_decided: the request is decided or expired, or this owner voted already",
    "410": "link_gone: the share link expired, was revoked or has no downloads left",
    "413": f"payload_too_large: a JSON body over privacy.max_request_bytes (default {_D.max_request_bytes}) or a "
    f"document over privacy.max_document_bytes (default {_D.max_document_bytes})",
    "429": f"too_many_pending: the requester has {MAX_PENDING_PER_REQUESTER} requests pending; "
    f"too_many_registrations: {MAX_REGISTRATIONS} registrations wait for the owners",
}

SCOPE = {
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
LINK = {
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

REQUEST_BODY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["identity", "organisation", "contact", "purpose", "cameras", "start", "end", "wanted_by"],
    "properties": {
        "identity": _text(description="the person asking, as they name themselves"),
        "organisation": _text(),
        "contact": _text(description="how the owner can reach them"),
        "purpose": _text(2000),
        "case_reference": _text(description="optional case or incident number"),
        "cameras": CAMERAS,
        "start": {
            **TIME,
            "description": "window start, inclusive; the window must end in the past and last at most "
            f"privacy.max_window_hours (default {_D.max_window_hours:g} h)",
        },
        "end": {**TIME, "description": "window end, exclusive; after start"},
        "wanted_by": {**TIME, "description": "when an answer is needed: in the future, within a year"},
    },
}
SEES = {
    "enum": ["own_requests", "account_requests"],
    "description": "own_requests: the token sees only the requests it submitted; account_requests: every "
    "request of its account (the owner chose to merge it with the account's other tokens)",
}
REQUESTER_ACCOUNT = {
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
REQUEST = {
    "type": "object",
    "properties": {
        "id": REQUEST_ID,
        "requester": {"type": "string"},
        "identity": {"type": "string"},
        "organisation": {"type": "string"},
        "contact": {"type": "string"},
        "purpose": {"type": "string"},
        "case_reference": {"type": ["string", "null"]},
        "cameras": {"type": "array", "items": {"type": "string"}},
        "start_s": SECONDS,
        "end_s": SECONDS,
        "wanted_by_s": SECONDS,
        "created_s": SECONDS,
        "expires_s": {
            **SECONDS,
            "description": f"undecided after this, it expires as denied "
            f"(privacy.request_expiry_days, default {_D.request_expiry_days:g})",
        },
        "state": {"enum": ["pending", "approved", "narrowed", "denied", "expired"]},
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
DECISION_BODY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["decision"],
    "properties": {
        "decision": {
            "enum": ["approve", "narrow", "deny"],
            "description": f"policy privacy.decision_policy (default {_D.decision_policy}): any owner decides, "
            "or all must approve; a denial is final",
        },
        "cameras": {**CAMERAS, "description": "narrow: a subset of the cameras asked for"},
        "start": {**TIME, "description": "narrow: a later start inside the window"},
        "end": {**TIME, "description": "narrow: an earlier end inside the window"},
        "clip_ids": {
            "type": "array",
            "minItems": 1,
            "items": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
            "description": "narrow: only these clips (from GET /api/requests/{id}/clips)",
        },
        "message": _text(2000, "shown to the requester"),
    },
}
OVERRIDE_BODY = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "kind",
        "authority",
        "jurisdiction",
        "case_number",
        "issued",
        "agency",
        "officer_contact",
        "cameras",
        "start",
        "end",
        "document_sha256",
        "notice",
    ],
    "properties": {
        "kind": {"enum": list(KINDS), "description": "preservation places a hold and releases nothing"},
        "authority": _text(description="issuing authority"),
        "jurisdiction": _text(),
        "case_number": _text(),
        "judge": _text(description=f"required for {' and '.join(NEEDS_JUDGE)}"),
        "issued": {**TIME, "description": "date issued; not in the future"},
        "agency": _text(description="requesting agency"),
        "officer_contact": _text(),
        "cameras": CAMERAS,
        "start": {**TIME, "description": "same bounds as a request's window"},
        "end": TIME,
        "document_sha256": {
            "type": "string",
            "pattern": SHA256.pattern,
            "description": "a document uploaded to /api/documents",
        },
        "notice": {"enum": ["none", "delayed"], "description": "none: owners are told at once"},
        "notice_delayed_until": {
            **TIME,
            "description": "with notice=delayed: in the future, at most "
            f"privacy.max_notice_delay_days (default {_D.max_notice_delay_days:g}) days away",
        },
        "delay_ordered_by": _text(description="with notice=delayed: who ordered or certified the delay"),
        "delay_provision": _text(description="optional: under which provision"),
    },
}
OVERRIDE = {
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
            f"(default {_D.emergency_follow_up_hours:g} h)",
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
FOLLOW_UP_BODY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["kind", "case_number", "document_sha256"],
    "properties": {
        "kind": {"enum": list(FOLLOW_UP_KINDS)},
        "case_number": _text(),
        "document_sha256": OVERRIDE_BODY["properties"]["document_sha256"],
    },
}
HOLD_BODY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["cameras", "start", "end"],
    "properties": {"cameras": CAMERAS, "start": TIME, "end": {**TIME, "description": "at most 366 days after start"}},
}
HOLD = {
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
            "description": f"privacy.hold_days (default {_D.hold_days:g}) after placing or renewing",
        },
        "released_s": NULLABLE_SECONDS,
    },
}
NOTICE = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "kind": {
            "enum": ["request_received", "request_expired", "requester_registered", "override", "follow_up_missed"]
        },
        "subject": {"type": "string", "description": "the request or override id"},
        "body": {"type": "object", "description": "what owners are told; never footage"},
        "created_s": SECONDS,
    },
}


def _op(
    summary: str,
    ok: str,
    schema: dict[str, Any] | None,
    errors: str,
    *,
    body: dict[str, Any] | None = None,
    status: str = "200",
    secure: bool = True,
    params: tuple[dict[str, Any], ...] = (),
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "responses": {
            status: {"description": ok, **({"content": {"application/json": {"schema": schema}}} if schema else {})}
        },
    }
    for code in errors.split():
        op["responses"][code] = {"description": ERRORS[code], "content": {"application/json": {"schema": ERROR}}}
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if secure:
        op["security"] = SECURITY
    op["parameters"] = list(params)
    return op


def _LIST(s: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": s}


REQUEST_PARAM, OVERRIDE_PARAM, HOLD_PARAM = _path("id", REQUEST_ID), _path("id", OVERRIDE_ID), _path("id", HOLD_ID)
USER_PARAM = _path("username", USER_NAME)

OPENAPI_PATHS: dict[str, Any] = {
    "/api/requests": {
        "post": _op(
            "A requester asks for footage (requester token)",
            "the request, pending",
            REQUEST,
            "400 401 403 413 429",
            body=REQUEST_BODY,
            status="201",
        ),
        "get": {
            **_op("Requests: owners see all, a requester their own", "newest first", _LIST(REQUEST), "400 401 403"),
            "parameters": [
                {
                    "name": "state",
                    "in": "query",
                    "required": False,
                    "schema": {"enum": ["pending", "approved", "narrowed", "denied", "expired"]},
                }
            ],
        },
    },
    "/api/requests/{id}": {
        "get": _op(
            "One request (owner, or its requester)", "the request", REQUEST, "401 403 404", params=(REQUEST_PARAM,)
        )
    },
    "/api/requests/{id}/clips": {
        "get": _op(
            "Owners: the clips the asked-for scope reaches, to choose from",
            "clip records",
            _LIST({"type": "object"}),
            "401 403 404",
            params=(REQUEST_PARAM,),
        )
    },
    "/api/requests/{id}/decision": {
        "post": _op(
            "An owner approves, narrows or denies (fresh password); "
            "a final approval builds the package and a share link",
            "the request after the decision",
            REQUEST,
            "400 401 403 404 409 413",
            body=DECISION_BODY,
            params=(REQUEST_PARAM,),
        )
    },
    "/api/requests/{id}/release": {
        "post": _op(
            "An owner builds the package of an approved request whose release failed (fresh password)",
            "the request, with its share link",
            REQUEST,
            "401 403 404 409",
            params=(REQUEST_PARAM,),
        )
    },
    "/api/requests/{id}/revoke": {
        "post": _op(
            "An owner revokes the share link of a release",
            "the request",
            REQUEST,
            "401 403 404",
            params=(REQUEST_PARAM,),
        )
    },
    "/api/share/{token}": {
        "get": {
            **_op(
                "Download an export package through a share link (no login: the link is the credential); "
                f"each download is logged before its first byte; default {_D.share_link_downloads} downloads "
                f"within {_D.share_link_days:g} days",
                "the package (zip: clips, manifest.json, audit entry, inclusion proof, signed checkpoint; "
                "docs/exports.md)",
                None,
                "404 410",
                secure=False,
                params=(_path("token", {"type": "string", "pattern": f"^{SHARE_TOKEN.pattern}$"}),),
            ),
            "responses": {
                "200": {
                    "description": "the package",
                    "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
                },
                "404": {"description": ERRORS["404"], "content": {"application/json": {"schema": ERROR}}},
                "410": {"description": ERRORS["410"], "content": {"application/json": {"schema": ERROR}}},
            },
        }
    },
    "/api/requesters/tokens": {
        "post": _op(
            "An owner issues a requester token to an outside party (its account is created on first issue; "
            "never into a self-registered account: 409)",
            "the token, shown once, and the account it belongs to",
            {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "requester": {"type": "string"},
                    "name": {"type": "string"},
                    "token": {"type": "string"},
                    "expires_at": {"type": ["number", "null"]},
                    "sees": SEES,
                    "account": REQUESTER_ACCOUNT,
                    "same_name": {
                        **_LIST(REQUESTER_ACCOUNT),
                        "description": "self-registered accounts that chose this "
                        "name: the party itself, or someone posing as it",
                    },
                },
            },
            "400 401 403 409 413",
            status="201",
            body={
                "type": "object",
                "additionalProperties": False,
                "required": ["requester", "name"],
                "properties": {
                    "requester": {**_text(64), **USER_NAME},
                    "name": _text(100),
                    "expires_in_s": {"type": "integer", "minimum": 1, "maximum": 365 * 86400, "default": 30 * 86400},
                    "sees": {**SEES, "default": "own_requests"},
                },
            },
        )
    },
    "/api/requesters/register": {
        "post": _op(
            "An outside party registers; its token works once an owner approves "
            f"(no login; at most {MAX_REGISTRATIONS} waiting)",
            "the requester token, shown once, and the account made for it (never the name asked for, so the "
            "answer is the same whatever names exist)",
            {
                "type": "object",
                "properties": {
                    "username": {"type": "string", "description": "the account: reg-<16 hex>"},
                    "display_name": {"type": "string", "description": "the name asked for, shown to owners"},
                    "token": {"type": "string"},
                    "expires_at": {"type": ["number", "null"]},
                    "state": {"enum": ["pending"]},
                    "note": {"type": "string"},
                },
            },
            "400 413 429",
            status="201",
            secure=False,
            body={
                "type": "object",
                "additionalProperties": False,
                "required": ["username", "identity", "organisation", "contact"],
                "properties": {
                    "username": {**_text(64), **USER_NAME},
                    "identity": _text(),
                    "organisation": _text(),
                    "contact": _text(),
                },
            },
        )
    },
    "/api/requesters/registrations": {
        "get": {
            **_op(
                "Owners: registrations of outside parties",
                "newest first",
                _LIST(
                    {
                        "type": "object",
                        "properties": {
                            "username": {
                                "type": "string",
                                "description": "the account (reg-<16 hex>); approve or refuse by it",
                            },
                            "display_name": {"type": "string", "description": "the name it chose"},
                            "origin": {"enum": ["self_registered"]},
                            "same_name": {
                                **_LIST(REQUESTER_ACCOUNT),
                                "description": "other requester accounts going by the same name",
                            },
                            "identity": {"type": "string"},
                            "organisation": {"type": "string"},
                            "contact": {"type": "string"},
                            "remote": {"type": "string"},
                            "created_s": SECONDS,
                            "state": {"enum": ["pending", "approved", "refused"]},
                            "decided_by": {"type": ["string", "null"]},
                            "decided_s": NULLABLE_SECONDS,
                        },
                    }
                ),
                "400 401 403",
            ),
            "parameters": [
                {
                    "name": "state",
                    "in": "query",
                    "required": False,
                    "schema": {"enum": ["pending", "approved", "refused"]},
                }
            ],
        }
    },
    "/api/requesters/registrations/{username}/{verdict}": {
        "post": {
            **_op(
                "An owner approves or refuses a registration (logged as setting_changed)",
                "the registration",
                {"type": "object"},
                "401 403 404",
                params=(USER_PARAM,),
            ),
            "parameters": [
                USER_PARAM,
                {"name": "verdict", "in": "path", "required": True, "schema": {"enum": ["approve", "refuse"]}},
            ],
        }
    },
    "/api/accounts": {
        "post": _op(
            "An owner creates an owner, member or custodian account (fresh password); returns its one-time password",
            "the account",
            {
                "type": "object",
                "properties": {
                    "username": {"type": "string"},
                    "role": {"type": "string"},
                    "cameras": {"type": ["array", "null"]},
                    "one_time_password": {"type": "string"},
                },
            },
            "400 401 403 409 413",
            status="201",
            body={
                "type": "object",
                "additionalProperties": False,
                "required": ["username", "role"],
                "properties": {
                    "username": {**_text(64), **USER_NAME},
                    "role": {"enum": ["owner", "member", "custodian"]},
                    "cameras": {
                        **CAMERAS,
                        "description": "members only: the cameras they may see; left out: every camera",
                    },
                },
            },
        )
    },
    "/api/accounts/{username}/cameras": {
        "post": _op(
            "An owner chooses which cameras a member sees (fresh password); others' footage answers 404 to them",
            "the member's cameras",
            {"type": "object", "properties": {"username": {"type": "string"}, "cameras": {"type": ["array", "null"]}}},
            "400 401 403 404 413",
            params=(USER_PARAM,),
            body={
                "type": "object",
                "additionalProperties": False,
                "properties": {"cameras": {**CAMERAS, "description": "left out or null: every camera"}},
            },
        )
    },
    "/api/documents": {
        "post": {
            **_op(
                f"Upload a legal document (PDF, at most privacy.max_document_bytes, default {_D.max_document_bytes}) "
                "for an override to name by SHA-256; owners and custodians",
                "stored",
                {"type": "object", "properties": {"sha256": {"type": "string"}, "bytes": {"type": "integer"}}},
                "400 401 403 413",
                status="201",
            ),
            "requestBody": {
                "required": True,
                "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
            },
        }
    },
    "/api/overrides": {
        "post": _op(
            "Invoke a legal-process override (owner or custodian, fresh password); logged before any release",
            "the override, with its share link unless it is a preservation order",
            OVERRIDE,
            "400 401 403 413",
            body=OVERRIDE_BODY,
            status="201",
        ),
        "get": _op(
            "Overrides whose owners' notice was sent, and those the caller invoked",
            "newest first",
            _LIST(OVERRIDE),
            "401 403",
        ),
    },
    "/api/overrides/{id}": {
        "get": _op(
            "One override (hidden from others while its notice is delayed)",
            "the override",
            OVERRIDE,
            "401 403 404",
            params=(OVERRIDE_PARAM,),
        )
    },
    "/api/overrides/{id}/follow-up": {
        "post": _op(
            "File the legal process that follows an emergency override (fresh password)",
            "the override",
            OVERRIDE,
            "400 401 403 404 413",
            body=FOLLOW_UP_BODY,
            params=(OVERRIDE_PARAM,),
        )
    },
    "/api/overrides/{id}/delay": {
        "post": _op(
            "A further order delays the owners' notice again, while it is still delayed (invoker, fresh password)",
            "the override",
            OVERRIDE,
            "400 401 403 404 413",
            params=(OVERRIDE_PARAM,),
            body={
                "type": "object",
                "additionalProperties": False,
                "required": ["notice_delayed_until", "delay_ordered_by"],
                "properties": {
                    "notice_delayed_until": {
                        **TIME,
                        "description": "after the current date, at most "
                        f"privacy.max_notice_delay_days (default {_D.max_notice_delay_days:g}) "
                        "days from now",
                    },
                    "delay_ordered_by": _text(),
                    "delay_provision": _text(),
                },
            },
        )
    },
    "/api/holds": {
        "get": _op("Holds (owners)", "newest first", _LIST(HOLD), "401 403"),
        "post": _op(
            "An owner keeps clips from retention", "the hold", HOLD, "400 401 403 413", body=HOLD_BODY, status="201"
        ),
    },
    "/api/holds/{id}/renew": {
        "post": _op("Renew a hold for privacy.hold_days more", "the hold", HOLD, "401 403 404", params=(HOLD_PARAM,))
    },
    "/api/holds/{id}/release": {
        "post": _op("Release a hold (fresh password)", "the hold", HOLD, "401 403 404", params=(HOLD_PARAM,))
    },
    "/api/notices": {
        "get": _op(
            "What owners were told: requests waiting or expired, overrides, missed follow-ups",
            "newest first (at most 100)",
            _LIST(NOTICE),
            "401 403",
        )
    },
}
for _item in OPENAPI_PATHS.values():
    for _operation in _item.values():
        if not _operation.get("parameters"):
            _operation.pop("parameters", None)


def _household_transparency() -> dict[str, Any]:
    from camhub.privacy.transparency import OPENAPI_PATHS as REPORT_PATHS

    operation = dict(REPORT_PATHS["/api/transparency"]["get"])
    operation["security"] = SECURITY
    operation["summary"] += " (household members)"
    operation["responses"] = {
        **operation["responses"],
        **{
            code: {"description": ERRORS[code], "content": {"application/json": {"schema": ERROR}}}
            for code in ("401", "403")
        },
    }
    return {"/api/transparency": {"get": operation}}


OPENAPI_PATHS.update(_household_transparency())
