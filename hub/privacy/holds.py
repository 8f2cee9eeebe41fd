"""Holds: clips in a hold's scope are kept from retention until it is released or expires.

A preservation order places one (basis `override:<id>`); an owner may place
their own (basis `owner`). Each lasts `privacy.hold_days` and may be renewed
for as long again. Retention asks `active()` before it deletes anything.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import sqlite3
from pathlib import Path
from typing import Any

import sqlite_utils

from camhub.audit import HoldPlaced, HoldReleased, HoldRenewed
from camhub.auth import Forbidden, Identity
from camhub.errors import NotFound
from camhub.privacy.context import Context, dumps
from camhub.privacy.egress import OVERRIDE
from camhub.privacy.override_notices import sealed
from camhub.privacy.scope import Fields, Scope, check_window
from camhub.store.db import StoreError, connect, one, rows

log = logging.getLogger(__name__)

MAX_HOLD_WINDOW_S = 366 * 86400


def standing(db: sqlite_utils.Database, now: float) -> list[tuple[str, Scope]]:
    """(hold id, scope) of every hold in force at `now`."""
    found = rows(db, "SELECT id, cameras, start_s, end_s FROM holds WHERE released_s IS NULL AND expires_s > ?", [now])
    return [(r["id"], Scope(tuple(json.loads(r["cameras"])), r["start_s"], r["end_s"])) for r in found]


def standing_in(data_dir: Path, now: float) -> list[tuple[str, Scope]]:
    """The holds in force, read from the data folder while the hub is stopped (repair, start-up recovery)."""
    from camhub.privacy.service import DB_NAME  # the service imports this module

    path = data_dir / DB_NAME
    if not path.exists():
        return []
    try:
        db = connect(path, readonly=True)
        try:
            return standing(db, now) if db["holds"].exists() else []
        finally:
            db.close()
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot read the holds ({exc}); no clip is deleted without knowing them") from None


class Holds:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._busy = asyncio.Lock()  # renewals, releases and expiry one at a time

    async def _hidden(self, who: Identity) -> set[str]:
        """The holds of sealed overrides (a preservation order under delayed notice) but `who`'s own."""
        return {i for invoker, ids in (await sealed(self.ctx)).values() if invoker != who.username for i in ids}

    async def place(self, actor: str, basis: str, scope: Scope) -> dict[str, Any]:
        ctx = self.ctx
        hold_id = "hold_" + secrets.token_hex(16)
        now = ctx.now()
        expires = now + int(ctx.config.hold_days * 86400)
        await ctx.audit.append(
            HoldPlaced(
                time=ctx.clock(),
                actor=actor,
                hold_id=hold_id,
                basis=basis,
                cameras=scope.cameras,
                start_s=scope.start_s,
                end_s=scope.end_s,
                expires_s=expires,
            )
        )
        await ctx.db.write(
            lambda db: db.execute(
                "INSERT INTO holds (id, basis, cameras, start_s, end_s, created_by, created_s, expires_s) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [hold_id, basis, dumps(list(scope.cameras)), scope.start_s, scope.end_s, actor, now, expires],
            )
        )
        if not basis.startswith(OVERRIDE):  # an override's hold is logged by the override, when not sealed
            log.info("hold %s placed by %r (%s) until %d", hold_id, actor, basis, expires)
        return await self.view(hold_id)

    async def place_for_owner(self, owner: Identity, body: Any) -> dict[str, Any]:
        if owner.role != "owner":
            raise Forbidden("only owners place holds")
        f = Fields(body, "hold")
        cameras = f.names("cameras", self.ctx.cameras)
        start, end = f.time("start"), f.time("end")
        f.done()
        check_window(start, end, self.ctx.now(), MAX_HOLD_WINDOW_S)
        return await self.place(owner.username, "owner", Scope(cameras, start, end))

    async def _standing(self, who: Identity, hold_id: str) -> dict[str, Any]:
        """A hold the caller may renew or release: owners their own and owners' holds; a preservation
        order's hold only whoever invoked the order (owner or custodian)."""
        row = await self.ctx.db.read(lambda db: one(db, "SELECT * FROM holds WHERE id = ?", [hold_id]))
        if (
            row is None
            or hold_id in await self._hidden(who)
            or (who.role == "custodian" and row["created_by"] != who.username)
        ):
            raise NotFound(f"no hold {hold_id!r}")
        if who.role not in ("owner", "custodian"):
            raise Forbidden("only owners and custodians renew or release holds")
        if row["released_s"] is not None:
            raise NotFound(f"hold {hold_id} was released already")
        if row["basis"].startswith(OVERRIDE) and row["created_by"] != who.username:
            raise Forbidden(
                f"hold {hold_id} keeps footage for a preservation order; only {row['created_by']}, who "
                "invoked it, may renew or release it"
            )
        return row

    async def renew(self, owner: Identity, hold_id: str) -> dict[str, Any]:
        async with self._busy:
            return await self._renew(owner, hold_id)

    async def _renew(self, owner: Identity, hold_id: str) -> dict[str, Any]:
        ctx = self.ctx
        await self._standing(owner, hold_id)
        expires = ctx.now() + int(ctx.config.hold_days * 86400)
        await ctx.audit.append(HoldRenewed(time=ctx.clock(), actor=owner.username, hold_id=hold_id, expires_s=expires))
        await ctx.db.write(lambda db: db.execute("UPDATE holds SET expires_s = ? WHERE id = ?", [expires, hold_id]))
        return await self.view(hold_id)

    async def release(self, owner: Identity, hold_id: str) -> dict[str, Any]:
        async with self._busy:
            await self._standing(owner, hold_id)
            await self._release(hold_id, owner.username, "released")
        return await self.view(hold_id)

    async def _release(self, hold_id: str, actor: str, reason: str) -> None:
        ctx = self.ctx
        await ctx.audit.append(HoldReleased(time=ctx.clock(), actor=actor, hold_id=hold_id, reason=reason))
        now = ctx.now()
        await ctx.db.write(
            lambda db: db.execute("UPDATE holds SET released_s = ? WHERE id = ? AND released_s IS NULL", [now, hold_id])
        )
        log.info("hold %s %s", hold_id, reason)

    async def expire_due(self) -> int:
        async with self._busy:
            return await self._expire_due()

    async def _expire_due(self) -> int:
        now = self.ctx.now()
        due = await self.ctx.db.read(
            lambda db: rows(db, "SELECT id FROM holds WHERE released_s IS NULL AND expires_s <= ?", [now])
        )
        for row in due:
            await self._release(row["id"], "hub", "expired")
        return len(due)

    async def active(self) -> list[Scope]:
        """The scopes retention must not touch now."""
        now = self.ctx.now()
        return [scope for _, scope in await self.ctx.db.read(lambda db: standing(db, now))]

    async def view(self, hold_id: str) -> dict[str, Any]:
        row = await self.ctx.db.read(lambda db: one(db, "SELECT * FROM holds WHERE id = ?", [hold_id]))
        if row is None:
            raise NotFound(f"no hold {hold_id!r}")
        return {**row, "cameras": json.loads(row["cameras"])}

    async def list_for(self, who: Identity) -> list[dict[str, Any]]:
        """Owners: every hold but sealed ones; custodians: the holds of their own orders."""
        if who.role not in ("owner", "custodian"):
            raise Forbidden("only owners and custodians list holds")
        hidden = await self._hidden(who)
        found = await self.ctx.db.read(lambda db: rows(db, "SELECT * FROM holds ORDER BY created_s DESC, id"))
        return [
            {**r, "cameras": json.loads(r["cameras"])}
            for r in found
            if r["id"] not in hidden and (who.role == "owner" or r["created_by"] == who.username)
        ]
