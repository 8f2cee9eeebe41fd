"""What the privacy routes share: the app's `Privacy` service, how they read a JSON body, and who reads audit entries.

The privacy area declares its routes in four tables (camhub.http.routes),
each with its handlers and their OpenAPI operations:

- `request_routes`: outside requests, the owners' decisions, share-link downloads;
- `account_routes`: accounts owners create, requester tokens, self-registration;
- `override_routes`: legal documents, legal-process overrides, holds;
- `transparency.routes`: the owners' notices and the transparency report.

`camhub.http.app.make_app` sets `PRIVACY` and adds the tables;
`camhub.http.openapi` documents them. Who may call what is checked by each
handler with the auth helpers (requesters use their requester token;
deciding, overriding and releasing a hold need a fresh password) and again
by the services. Bodies are JSON objects of at most
`privacy.max_request_bytes`, read by `camhub.http.bodies` and then field by
field with `Fields`: unknown fields are refused.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from camhub.auth import require_roles
from camhub.errors import NotFound
from camhub.http.bodies import read_json
from camhub.privacy.override_notices import sealed
from camhub.privacy.service import Privacy

PRIVACY = web.AppKey("privacy", Privacy)
SETTING = "privacy.max_request_bytes"


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object, at most `privacy.max_request_bytes`."""
    return await read_json(request, request.app[PRIVACY].ctx.config.max_request_bytes, SETTING)


# Entries about logging in name people and their addresses, and summarise attacks on the hub:
# the owners' business. A member or custodian sees only those about their own account.
LOGIN_EVENTS = frozenset({"owner_logged_in", "owner_login_failed", "login_lockout"})


async def audit_entry_guard(request: web.Request, entry: dict[str, Any]) -> None:
    """Who may read an audit entry through /api/audit/proof: the household and custodians; a login entry
    owners, or the member or custodian it is about; an entry about a sealed override (notice delayed) only
    its invoker. To others it does not exist."""
    who = require_roles(request, "owner", "member", "custodian")
    if entry["event"] in LOGIN_EVENTS and who.role != "owner" and entry["fields"].get("user") != who.username:
        raise NotFound(f"no entry {entry['index']}")
    text = json.dumps(entry["fields"])
    for invoked_by, ids in (await sealed(request.config_dict[PRIVACY].ctx)).values():
        if who.username != invoked_by and any(i in text for i in ids):
            raise NotFound(f"no entry {entry['index']}")
