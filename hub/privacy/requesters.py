"""Outside parties who register themselves, and the owner who approves them.

Besides a requester token an owner issues (`POST /api/requesters/tokens`),
an outside party may register (`POST /api/requesters/register`): it gets a
requester account and token at once, but the account stays disabled, and
the token refused, until an owner approves it. Owners are told of each
registration; at most `MAX_PENDING` wait at once, so the form cannot be
used to flood the household.

A registration never takes the name it asks for: its account is
`reg-<random>` and the chosen name is its display name. So the answer is
the same whatever names exist, and a name an outsider registers (say, an
agency's) cannot capture the tokens an owner later issues under that name.
Owners see both names, and which other requester accounts use the same one.
"""

from __future__ import annotations

import logging
from typing import Any

from camhub.audit import SettingChanged
from camhub.auth import AccountService, Forbidden, Identity
from camhub.errors import HubError, NotFound
from camhub.privacy.context import Context
from camhub.privacy.scope import Fields
from camhub.store.db import one, rows

log = logging.getLogger(__name__)

MAX_PENDING = 50
STATES = ("pending", "approved", "refused")  # a registration's


class TooManyRegistrations(HubError):
    key = "too_many_registrations"
    status = 429


class Requesters:
    def __init__(self, ctx: Context, accounts: AccountService) -> None:
        self.ctx = ctx
        self.accounts = accounts

    async def register(self, body: Any, remote: str) -> dict[str, Any]:
        f = Fields(body, "registration")
        username = f.text("username", max_len=64)
        identity, organisation, contact = f.text("identity"), f.text("organisation"), f.text("contact")
        f.done()
        waiting = await self.ctx.db.read(
            lambda db: db.execute("SELECT count(*) FROM registrations WHERE state = 'pending'").fetchone()[0]
        )
        if waiting >= MAX_PENDING:
            raise TooManyRegistrations(f"{waiting} registrations are waiting for the owners; try again later")
        account, issued = await self.accounts.register_requester(username)
        now = self.ctx.now()
        await self.ctx.db.write(
            lambda db: db.execute(
                "INSERT INTO registrations (username, display_name, identity, organisation, contact, remote, "
                "created_s, state) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending')",
                [account, username, identity, organisation, contact, remote, now],
            )
        )
        await self.ctx.notify(
            "requester_registered",
            account,
            {
                "username": account,
                "display_name": username,
                "identity": identity,
                "organisation": organisation,
                "contact": contact,
            },
        )
        log.info("requester %r (calling itself %r) registered from %s; waiting for an owner", account, username, remote)
        return {
            "username": account,
            "display_name": username,
            "token": issued.token,
            "expires_at": issued.expires_at,
            "state": "pending",
            "note": "the token works once an owner approves the registration",
        }

    async def list_for(self, owner: Identity, state: str | None = None) -> list[dict[str, Any]]:
        if owner.role != "owner":
            raise Forbidden("only owners see registrations")
        where, args = ("WHERE state = ?", [state]) if state else ("", [])
        found = await self.ctx.db.read(
            lambda db: rows(db, f"SELECT * FROM registrations {where} ORDER BY created_s DESC, username", args)
        )
        return [await self._shown(r) for r in found]

    async def _shown(self, row: dict[str, Any]) -> dict[str, Any]:
        """A registration as owners see it: its account, the name it chose, and the other requester
        accounts going by that name (an agency's own, or other registrations claiming it)."""
        display = row["display_name"] or row["username"]
        others = [a for a in await self.accounts.requesters_named(display) if a["account"] != row["username"]]
        return {**row, "display_name": display, "origin": "self_registered", "same_name": others}

    async def decide(self, owner: Identity, username: str, approve: bool) -> dict[str, Any]:
        if owner.role != "owner":
            raise Forbidden("only owners approve requesters")
        row = await self.ctx.db.read(lambda db: one(db, "SELECT * FROM registrations WHERE username = ?", [username]))
        if row is None:
            raise NotFound(f"no registration {username!r}")
        state = "approved" if approve else "refused"
        await self.ctx.audit.append(
            SettingChanged(
                time=self.ctx.clock(), actor=owner.username, key=f"requesters.{username}", old=row["state"], new=state
            )
        )
        await self.accounts.set_requester_enabled(owner, username, approve)
        now = self.ctx.now()
        await self.ctx.db.write(
            lambda db: db.execute(
                "UPDATE registrations SET state = ?, decided_by = ?, decided_s = ? WHERE username = ?",
                [state, owner.username, now, username],
            )
        )
        return await self._shown({**row, "state": state, "decided_by": owner.username, "decided_s": now})
