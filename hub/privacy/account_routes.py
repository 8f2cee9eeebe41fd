"""Routes for the accounts owners make: household accounts, member cameras, requester tokens, registrations.

An owner creates owner, member and custodian accounts and chooses which
cameras a member sees (fresh password), and issues requester tokens to
outside parties. An outside party may instead register itself
(`camhub.privacy.requesters`); its token works once an owner approves. The
accounts themselves are `camhub.auth`'s; these routes are the privacy
side's door to them.
"""

from __future__ import annotations

from aiohttp import web

from camhub.audit.events import SettingChanged
from camhub.auth import SERVICE, require_fresh, require_roles
from camhub.errors import BadRequest, NotFound
from camhub.http.routes import Routes
from camhub.privacy.openapi import (
    CAMERAS,
    NULLABLE_SECONDS,
    REQUESTER_ACCOUNT,
    SECONDS,
    SEES,
    USER_NAME,
    USER_PARAM,
    list_of,
    operation,
    text_schema,
)
from camhub.privacy.requesters import MAX_PENDING as MAX_REGISTRATIONS
from camhub.privacy.requesters import STATES as REGISTRATION_STATES
from camhub.privacy.requesters import Requesters
from camhub.privacy.routes import PRIVACY, json_body
from camhub.privacy.scope import Fields, InvalidField

ACCOUNT_ROLES = ("owner", "member", "custodian")  # the accounts an owner creates here; requesters get tokens
SEES_CHOICES = ("own_requests", "account_requests")  # what a requester token sees: what it sent, or its account's
TOKEN_DAYS_MAX, TOKEN_DAYS = 365, 30
VERDICTS = ("approve", "refuse")  # an owner's on a registration

ROUTES = Routes("accounts")


def _requesters(request: web.Request) -> Requesters:
    return Requesters(request.app[PRIVACY].ctx, request.app[SERVICE])


def _member_cameras(request: web.Request, f: Fields) -> list[str] | None:
    cameras = f.names("cameras", request.app[PRIVACY].ctx.cameras, required=False)
    return list(cameras) if cameras is not None else None


TOKEN_OP = operation(
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
                **list_of(REQUESTER_ACCOUNT),
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
            "requester": {**text_schema(64), **USER_NAME},
            "name": text_schema(100),
            "expires_in_s": {
                "type": "integer",
                "minimum": 1,
                "maximum": TOKEN_DAYS_MAX * 86400,
                "default": TOKEN_DAYS * 86400,
            },
            "sees": {**SEES, "default": "own_requests"},
        },
    },
)


@ROUTES.post("/api/requesters/tokens", TOKEN_OP, audited=True)
async def issue_token(request: web.Request) -> web.StreamResponse:
    who = require_roles(request, "owner")
    f = Fields(await json_body(request), "token request")
    requester, name = f.text("requester", max_len=64), f.text("name", max_len=100)
    expires = f.whole("expires_in_s", 1, TOKEN_DAYS_MAX * 86400, default=TOKEN_DAYS * 86400)
    sees = f.choice("sees", SEES_CHOICES, required=False) or "own_requests"
    f.done()
    service = request.app[SERVICE]
    issued = await service.issue_requester_token(who, requester, name, expires, sees_account=sees == "account_requests")
    card = await service.requester_card(issued.id)
    # Registrations that chose this name: most likely the party itself, or someone posing as it.
    claimed = [a for a in await service.requesters_named(requester) if a["account"] != card["account"]["account"]]
    return web.json_response(
        {
            "id": issued.id,
            "requester": requester,
            "name": issued.name,
            "token": issued.token,
            "expires_at": issued.expires_at,
            "sees": sees,
            "account": card["account"],
            "same_name": claimed,
        },
        status=201,
    )


REGISTER_OP = operation(
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
            "username": {**text_schema(64), **USER_NAME},
            "identity": text_schema(),
            "organisation": text_schema(),
            "contact": text_schema(),
        },
    },
)


@ROUTES.post("/api/requesters/register", REGISTER_OP, audited=True)
async def register(request: web.Request) -> web.StreamResponse:
    body = await json_body(request)
    return web.json_response(await _requesters(request).register(body, request.remote or "unknown"), status=201)


REGISTRATION: dict[str, object] = {
    "type": "object",
    "properties": {
        "username": {"type": "string", "description": "the account (reg-<16 hex>); approve or refuse by it"},
        "display_name": {"type": "string", "description": "the name it chose"},
        "origin": {"enum": ["self_registered"]},
        "same_name": {**list_of(REQUESTER_ACCOUNT), "description": "other requester accounts going by the same name"},
        "identity": {"type": "string"},
        "organisation": {"type": "string"},
        "contact": {"type": "string"},
        "remote": {"type": "string"},
        "created_s": SECONDS,
        "state": {"enum": list(REGISTRATION_STATES)},
        "decided_by": {"type": ["string", "null"]},
        "decided_s": NULLABLE_SECONDS,
    },
}


@ROUTES.get(
    "/api/requesters/registrations",
    {
        **operation("Owners: registrations of outside parties", "newest first", list_of(REGISTRATION), "400 401 403"),
        "parameters": [
            {"name": "state", "in": "query", "required": False, "schema": {"enum": list(REGISTRATION_STATES)}}
        ],
    },
)
async def registrations(request: web.Request) -> web.StreamResponse:
    who = require_roles(request, "owner")
    state = request.query.get("state")
    if state is not None and state not in REGISTRATION_STATES:
        raise BadRequest(f"state must be pending, approved or refused, got {state!r}")
    return web.json_response(await _requesters(request).list_for(who, state))


@ROUTES.post(
    "/api/requesters/registrations/{username}/{verdict}",
    {
        **operation(
            "An owner approves or refuses a registration (logged as setting_changed)",
            "the registration",
            {"type": "object"},
            "401 403 404",
        ),
        "parameters": [
            USER_PARAM,
            {"name": "verdict", "in": "path", "required": True, "schema": {"enum": list(VERDICTS)}},
        ],
    },
    audited=True,
)
async def decide_registration(request: web.Request) -> web.StreamResponse:
    verdict = request.match_info["verdict"]
    if verdict not in VERDICTS:  # as for any path the hub does not serve, whoever asks
        raise NotFound(f"no such route: the verdict is {' or '.join(VERDICTS)}, not {verdict[:20]!r}")
    who = require_roles(request, "owner")
    approve = verdict == "approve"
    return web.json_response(await _requesters(request).decide(who, request.match_info["username"], approve))


ACCOUNT_OP = operation(
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
            "username": {**text_schema(64), **USER_NAME},
            "role": {"enum": list(ACCOUNT_ROLES)},
            "cameras": {**CAMERAS, "description": "members only: the cameras they may see; left out: every camera"},
        },
    },
)


@ROUTES.post("/api/accounts", ACCOUNT_OP, audited=True)
async def create_account(request: web.Request) -> web.StreamResponse:
    require_roles(request, "owner")
    who = require_fresh(request)
    f = Fields(await json_body(request), "account")
    username = f.text("username", max_len=64)
    role = f.choice("role", ACCOUNT_ROLES)
    cameras = _member_cameras(request, f)
    f.done()
    if cameras is not None and role != "member":
        raise InvalidField("'cameras' limits a member; owners see every camera and custodians none")
    service = request.app[SERVICE]
    password = await service.create_account(username, role, actor=who)
    if cameras is not None:
        await service.set_cameras(who, username, cameras)
    return web.json_response(
        {"username": username, "role": role, "cameras": cameras, "one_time_password": password}, status=201
    )


MEMBER_CAMERAS_OP = operation(
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


@ROUTES.post("/api/accounts/{username}/cameras", MEMBER_CAMERAS_OP, audited=True)
async def set_member_cameras(request: web.Request) -> web.StreamResponse:
    require_roles(request, "owner")
    who = require_fresh(request)
    f = Fields(await json_body(request), "camera choice")
    cameras = _member_cameras(request, f)
    f.done()
    username = request.match_info["username"]
    await request.app[SERVICE].set_cameras(who, username, cameras)
    return web.json_response({"username": username, "cameras": cameras})


HOUSEHOLD_ACCOUNT: dict[str, object] = {
    "type": "object",
    "required": ["username", "role", "cameras", "must_change_password", "created_at"],
    "properties": {
        "username": {"type": "string"},
        "role": {"enum": list(ACCOUNT_ROLES)},
        "cameras": {"type": ["array", "null"], "items": {"type": "string"}, "description": "null: every camera"},
        "must_change_password": {"type": "boolean", "description": "the one-time password is not changed yet"},
        "created_at": SECONDS,
    },
}


@ROUTES.get(
    "/api/accounts",
    operation(
        "Owners: the owner, member and custodian accounts that may log in (requesters: GET /api/auth/tokens)",
        "by user name",
        list_of(HOUSEHOLD_ACCOUNT),
        "401 403",
    ),
)
async def list_accounts(request: web.Request) -> web.StreamResponse:
    require_roles(request, "owner")
    return web.json_response(await request.app[SERVICE].household())


@ROUTES.delete(
    "/api/accounts/{username}",
    operation(
        "An owner removes a member or custodian (fresh password; logged as setting_changed): the account is "
        "disabled, its sessions and tokens stop at once, and its name is never given to another account",
        "removed",
        None,
        "401 403 404",
        status="204",
        params=(USER_PARAM,),
    ),
    audited=True,
)
async def remove_account(request: web.Request) -> web.StreamResponse:
    require_roles(request, "owner")
    who = require_fresh(request)
    username = request.match_info["username"]
    service, ctx = request.app[SERVICE], request.app[PRIVACY].ctx
    # User names compare without case, as the accounts table does.
    found = [a for a in await service.household() if a["username"].casefold() == username.casefold()]
    if not found or found[0]["role"] not in ("member", "custodian"):
        raise NotFound(f"no member or custodian named {username!r}")
    username, role = found[0]["username"], found[0]["role"]
    # Written to the audit log before the account stops working, as every owner decision is.
    await ctx.audit.append(
        SettingChanged(time=ctx.clock(), actor=who.username, key=f"accounts.{username}", old=role, new="removed")
    )
    await service.remove_account(who, username)
    return web.Response(status=204)
