"""Outside parties who register themselves, and the owner who approves them.

Besides a requester token an owner issues (`POST /api/requesters/tokens`),
an outside party may register (`POST /api/requesters/register`): it gets a
requester account and token at once, but the account stays disabled, and
the token refused, until an owner approves it. Owners are told of each
registration; at most `MAX_PENDING` wait at once, so the form cannot be
used to flood the household.
"""

from __future__ import annotations

import logging
from typing import Any

from hub.auth import AccountService, Forbidden, Identity
from hub.errors import HubError, NotFound
from hub.privacy.audit import SettingChanged
from hub.privacy.context import Context
from hub.privacy.scope import Fields
from hub.store.db import one, rows

log = logging.getLogger(__name__)

MAX_PENDING = 50


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
        assert username is not None
        waiting = await self.ctx.db.read(lambda db: db.execute(
            "SELECT count(*) FROM registrations WHERE state = 'pending'").fetchone()[0])
        if waiting >= MAX_PENDING:
            raise TooManyRegistrations(f"{waiting} registrations are waiting for the owners; try again later")
        issued = await self.accounts.register_requester(username)
        now = self.ctx.now()
        await self.ctx.db.write(lambda db: db.execute(
            "INSERT INTO registrations (username, identity, organisation, contact, remote, created_s, state) "
            "VALUES (?, ?, ?, ?, ?, ?, 'pending')", [username, identity, organisation, contact, remote, now]))  # fmt: skip
        await self.ctx.notify("requester_registered", username, {
            "username": username, "identity": identity, "organisation": organisation, "contact": contact})
        log.info("requester %r registered from %s; waiting for an owner", username, remote)
        return {"username": username, "token": issued.token, "expires_at": issued.expires_at, "state": "pending",
                "note": "the token works once an owner approves the registration"}  # fmt: skip

    async def list(self, owner: Identity, state: str | None = None) -> list[dict[str, Any]]:
        if owner.role != "owner":
            raise Forbidden("only owners see registrations")
        where, args = ("WHERE state = ?", [state]) if state else ("", [])
        return await self.ctx.db.read(lambda db: rows(
            db, f"SELECT * FROM registrations {where} ORDER BY created_s DESC, username", args))

    async def decide(self, owner: Identity, username: str, approve: bool) -> dict[str, Any]:
        if owner.role != "owner":
            raise Forbidden("only owners approve requesters")
        row = await self.ctx.db.read(lambda db: one(db, "SELECT * FROM registrations WHERE username = ?", [username]))
        if row is None:
            raise NotFound(f"no registration {username!r}")
        state = "approved" if approve else "refused"
        await self.ctx.audit.append(SettingChanged(time=self.ctx.clock(), actor=owner.username,
                                                   key=f"requesters.{username}", old=row["state"], new=state))  # fmt: skip
        await self.accounts.set_requester_enabled(owner, username, approve)
        now = self.ctx.now()
        await self.ctx.db.write(lambda db: db.execute(
            "UPDATE registrations SET state = ?, decided_by = ?, decided_s = ? WHERE username = ?",
            [state, owner.username, now, username]))  # fmt: skip
        return {**row, "state": state, "decided_by": owner.username, "decided_s": now}
