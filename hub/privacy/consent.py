"""The consent queue: outside requests for footage, and the owners' decisions on them.

A requester (signed in with a requester token) submits a request; it is
logged (`consent_requested`), stored and announced to the owners. An owner,
with a fresh password, approves, narrows (fewer cameras, a shorter window,
chosen clips) or denies. Under `privacy.decision_policy: all` every owner
must approve; each approval may narrow what the previous ones agreed to,
and any denial is final. A final approval is logged, then the egress choke
point builds the package and a share link. Undecided requests expire as
denied after `privacy.request_expiry_days`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from typing import Any

import sqlite_utils

from camhub.audit import ConsentDecided, ConsentExpired, ConsentRequested
from camhub.auth import Forbidden, Identity
from camhub.clock import utc_text
from camhub.errors import HubError, NotFound
from camhub.privacy.context import Context, dumps
from camhub.privacy.scope import Fields, InvalidField, Scope, check_window
from camhub.store.db import one, rows

log = logging.getLogger(__name__)

STATES = ("pending", "approved", "narrowed", "denied", "expired")  # a request's, in the order it may pass them
DECISIONS = {"approve": "approved", "narrow": "narrowed", "deny": "denied"}
MAX_PENDING_PER_REQUESTER = 20
MAX_WANTED_BY_S = 365 * 86400
LEGAL_BASIS_MAX = 1000  # characters: a statute and section, a consent, an agreement, in a sentence or a few


class AlreadyDecided(HubError):
    key = "already_decided"
    status = 409


class TooManyPending(HubError):
    key = "too_many_pending"
    status = 429


class ConsentQueue:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        # Decisions and expiry run one at a time: two owners voting at once must
        # each see the other's vote, and a request must not expire mid-decision.
        self._deciding = asyncio.Lock()

    async def submit(
        self, requester: Identity, body: Any, submitted_by: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Store a request under the token that sent it; `submitted_by` (how its account and token came
        to exist, from the account service) is kept for the owners to see."""
        if requester.role != "requester":
            raise Forbidden("requests for footage come from requester accounts; household members see footage directly")
        ctx = self.ctx
        now = ctx.now()
        f = Fields(body, "request")
        identity = f.text("identity")
        organisation = f.text("organisation")
        contact = f.text("contact")
        purpose = f.text("purpose", max_len=2000, multiline=True)
        case_reference = f.text("case_reference", required=False)
        legal_basis = f.text("legal_basis", max_len=LEGAL_BASIS_MAX, required=False)
        cameras = f.names("cameras", ctx.cameras)
        start, end, wanted_by = f.time("start"), f.time("end"), f.time("wanted_by")
        f.done()
        check_window(start, end, now, ctx.config.max_window_hours * 3600)
        if not now < wanted_by <= now + MAX_WANTED_BY_S:
            raise InvalidField(f"'wanted_by' ({utc_text(wanted_by)}) must be in the future and within a year")
        pending = await ctx.db.read(
            lambda db: db.execute(
                "SELECT count(*) FROM requests WHERE requester_id = ? AND state = 'pending'", [requester.account_id]
            ).fetchone()[0]
        )
        if pending >= MAX_PENDING_PER_REQUESTER:
            raise TooManyPending(f"{pending} of your requests are still pending; wait for a decision")
        request_id = "req_" + secrets.token_hex(16)
        expires = now + int(ctx.config.request_expiry_days * 86400)
        await ctx.audit.append(
            ConsentRequested(
                time=ctx.clock(),
                actor=requester.username,
                request_id=request_id,
                identity=identity,
                organisation=organisation,
                contact=contact,
                purpose=purpose,
                case_reference=case_reference,
                cameras=cameras,
                start_s=start,
                end_s=end,
                wanted_by_s=wanted_by,
                expires_s=expires,
                legal_basis=legal_basis,
            )
        )
        row = {
            "id": request_id,
            "requester_id": requester.account_id,
            "requester": requester.username,
            "token_id": requester.credential_id,
            "submitted_by": dumps(submitted_by) if submitted_by is not None else None,
            "identity": identity,
            "organisation": organisation,
            "contact": contact,
            "purpose": purpose,
            "case_reference": case_reference,
            "legal_basis": legal_basis,
            "cameras": dumps(list(cameras)),
            "start_s": start,
            "end_s": end,
            "wanted_by_s": wanted_by,
            "created_s": now,
            "expires_s": expires,
            "state": "pending",
        }
        await ctx.db.write(
            lambda db: db.execute(
                f"INSERT INTO requests ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})", list(row.values())
            )
        )
        await ctx.notify(
            "request_received",
            request_id,
            {
                "requester": requester.username,
                "organisation": organisation,
                "purpose": purpose,
                "cameras": list(cameras),
                "start_s": start,
                "end_s": end,
                "wanted_by_s": wanted_by,
                "expires_s": expires,
            },
        )
        log.info("request %s from %r for %s", request_id, requester.username, ", ".join(cameras))
        return await self.view(requester, request_id)

    # Reading

    async def _row(self, request_id: str) -> dict[str, Any] | None:
        return await self.ctx.db.read(lambda db: one(db, "SELECT * FROM requests WHERE id = ?", [request_id]))

    async def _visible(self, who: Identity, request_id: str) -> dict[str, Any]:
        row = await self._row(request_id)
        # Another token's request looks exactly like a missing one.
        if row is None or (who.role == "requester" and not _submitted_by(who, row)):
            raise NotFound(f"no request {request_id!r}")
        if who.role not in ("owner", "requester"):
            raise Forbidden("only owners and the requester see a request")
        return row

    async def view(self, who: Identity, request_id: str) -> dict[str, Any]:
        row = await self._visible(who, request_id)
        return await self._json(row, owner=who.role == "owner")

    async def list_for(self, who: Identity, state: str | None = None) -> list[dict[str, Any]]:
        """Owners: every request; a requester: those its token may see. Newest first."""
        if who.role not in ("owner", "requester"):
            raise Forbidden("only owners and requesters list requests")
        where: list[str] = ["1"]
        args: list[object] = []
        if who.role == "requester":
            where.append("(token_id = ? OR (? AND requester_id = ?))")
            args.extend([who.credential_id, who.sees_account, who.account_id])
        if state is not None:
            where.append("state = ?")
            args.append(state)
        found = await self.ctx.db.read(
            lambda db: rows(db, f"SELECT * FROM requests WHERE {' AND '.join(where)} ORDER BY created_s DESC, id", args)
        )
        return [await self._json(r, owner=who.role == "owner") for r in found]

    async def _json(self, row: dict[str, Any], owner: bool) -> dict[str, Any]:
        out = {
            k: row[k]
            for k in (
                "id",
                "requester",
                "identity",
                "organisation",
                "contact",
                "purpose",
                "case_reference",
                "legal_basis",
                "start_s",
                "end_s",
                "wanted_by_s",
                "created_s",
                "expires_s",
                "state",
                "decided_s",
                "message",
                "export_id",
            )
        }
        out["cameras"] = json.loads(row["cameras"])
        out["granted"] = json.loads(row["granted"]) if row["granted"] else None
        out["share_link"] = await self.ctx.egress.link_for_export(row["export_id"]) if row["export_id"] else None
        if owner:
            out["token_id"] = row["token_id"]
            out["submitted_by"] = json.loads(row["submitted_by"]) if row["submitted_by"] else None
            out["votes"] = await self.ctx.db.read(
                lambda db: rows(
                    db,
                    "SELECT owner, decision, scope, at_s FROM votes WHERE request_id = ? ORDER BY rowid",
                    [row["id"]],
                )
            )
            for vote in out["votes"]:
                vote["scope"] = json.loads(vote["scope"]) if vote["scope"] else None
        return out

    async def clips(self, who: Identity, request_id: str) -> list[dict[str, Any]]:
        """The clips the asked-for scope reaches, so an owner can choose some."""
        if who.role != "owner":
            raise Forbidden("only owners choose clips for a request")
        row = await self._visible(who, request_id)
        asked = Scope(tuple(json.loads(row["cameras"])), row["start_s"], row["end_s"])
        return [c.as_json() for c in await self.ctx.egress.resolve(asked)]

    # Deciding

    async def decide(self, owner: Identity, request_id: str, body: Any) -> dict[str, Any]:
        async with self._deciding:
            return await self._decide(owner, request_id, body)

    async def _decide(self, owner: Identity, request_id: str, body: Any) -> dict[str, Any]:
        if owner.role != "owner":
            raise Forbidden("only owners decide requests")
        ctx = self.ctx
        f = Fields(body, "decision")
        verb = f.choice("decision", DECISIONS)
        cameras = f.names("cameras", ctx.cameras, required=False)
        start, end = f.time("start", required=False), f.time("end", required=False)
        clip_ids = f.ids("clip_ids")
        message = f.text("message", max_len=2000, required=False, multiline=True)
        f.done()
        if verb != "narrow" and (cameras or start is not None or end is not None or clip_ids):
            raise InvalidField('cameras, start, end and clip_ids narrow a request; use "decision": "narrow"')
        await self._expire_due()
        row = await self._visible(owner, request_id)
        if row["state"] != "pending":
            raise AlreadyDecided(f"request {request_id} is {row['state']} already")
        asked = Scope(tuple(json.loads(row["cameras"])), row["start_s"], row["end_s"])
        votes = await ctx.db.read(
            lambda db: rows(db, "SELECT * FROM votes WHERE request_id = ? ORDER BY rowid", [request_id])
        )
        if any(v["owner"] == owner.username for v in votes):
            raise AlreadyDecided(f"you decided request {request_id} already; the other owners have yet to")
        agreed = Scope.from_json(json.loads(votes[-1]["scope"])) if votes else asked
        if verb == "deny":
            return await self._finish(owner, row, "denied", None, message)
        scope = agreed
        if verb == "narrow":
            scope = agreed.narrowed(cameras, start, end, clip_ids)
            if clip_ids is not None:
                reachable = {c.id for c in await ctx.egress.resolve(Scope(scope.cameras, scope.start_s, scope.end_s))}
                outside = sorted(set(clip_ids) - reachable)
                if outside:
                    raise InvalidField(f"clip_ids {outside} are not clips of the narrowed cameras and window")
        decision = "approved" if scope == asked else "narrowed"
        owners = set(await ctx.owners())
        agreed_by = {v["owner"] for v in votes} | {owner.username}
        if ctx.config.decision_policy == "all" and not owners <= agreed_by:
            await ctx.audit.append(
                ConsentDecided(
                    time=ctx.clock(),
                    actor=owner.username,
                    request_id=request_id,
                    decision=decision,
                    final=False,
                    cameras=scope.cameras,
                    start_s=scope.start_s,
                    end_s=scope.end_s,
                    clip_ids=scope.clip_ids,
                )
            )
            await self._vote(owner, request_id, decision, scope)
            log.info(
                "request %s: %s by %r; waiting for %s",
                request_id,
                decision,
                owner.username,
                ", ".join(sorted(owners - agreed_by)),
            )
            return await self.view(owner, request_id)
        return await self._finish(owner, row, decision, scope, message)

    async def _vote(self, owner: Identity, request_id: str, decision: str, scope: Scope | None) -> None:
        now = self.ctx.now()
        scope_json = dumps(scope.as_json()) if scope else None
        await self.ctx.db.write(
            lambda db: db.execute(
                "INSERT INTO votes (request_id, owner, decision, scope, at_s) VALUES (?, ?, ?, ?, ?)",
                [request_id, owner.username, decision, scope_json, now],
            )
        )

    async def _finish(
        self, owner: Identity, row: dict[str, Any], decision: str, scope: Scope | None, message: str | None
    ) -> dict[str, Any]:
        ctx = self.ctx
        request_id = row["id"]
        granted = scope or Scope((), 0, 0)
        await ctx.audit.append(
            ConsentDecided(
                time=ctx.clock(),
                actor=owner.username,
                request_id=request_id,
                decision=decision,
                final=True,
                cameras=granted.cameras,
                start_s=scope.start_s if scope else None,
                end_s=scope.end_s if scope else None,
                clip_ids=scope.clip_ids if scope else None,
            )
        )
        now = ctx.now()

        def record(db: sqlite_utils.Database) -> int:
            return db.execute(
                "UPDATE requests SET state = ?, decided_s = ?, message = ?, granted = ? "
                "WHERE id = ? AND state = 'pending'",
                [decision, now, message, dumps(scope.as_json()) if scope else None, request_id],
            ).rowcount

        await self._vote(owner, request_id, decision, scope)
        if not await ctx.db.write(record):
            raise AlreadyDecided(f"request {request_id} was decided by someone else meanwhile")
        log.info("request %s %s by %r", request_id, decision, owner.username)
        if scope is not None:
            await self._release(owner, {**row, "state": decision}, scope)
        return await self.view(owner, request_id)

    async def _release(self, owner: Identity, row: dict[str, Any], scope: Scope) -> None:
        ctx = self.ctx
        request_id = row["id"]
        basis = {
            "kind": "request",
            "id": request_id,
            "requester": row["requester"],
            "identity": row["identity"],
            "organisation": row["organisation"],
            "purpose": row["purpose"],
            "case_reference": row["case_reference"],
            "legal_basis": row["legal_basis"],
            "decision": row["state"],
            "decided_by": owner.username,
        }
        export = await ctx.egress.release(f"request:{request_id}", basis, row["requester"], scope, owner.username)
        await ctx.egress.create_link(
            export.id, owner.username, ctx.config.share_link_days, ctx.config.share_link_downloads
        )
        await ctx.db.write(
            lambda db: db.execute("UPDATE requests SET export_id = ? WHERE id = ?", [export.id, request_id])
        )

    async def retry_release(self, owner: Identity, request_id: str) -> dict[str, Any]:
        """Build the package of an approved request whose release failed (the decision stands)."""
        if owner.role != "owner":
            raise Forbidden("only owners release footage")
        async with self._deciding:
            row = await self._visible(owner, request_id)
            if row["state"] not in ("approved", "narrowed"):
                raise AlreadyDecided(f"request {request_id} is {row['state']}; there is nothing to release")
            if row["export_id"] is not None:
                raise AlreadyDecided(f"request {request_id} was released already ({row['export_id']})")
            await self._release(owner, row, Scope.from_json(json.loads(row["granted"])))
        return await self.view(owner, request_id)

    async def expire_due(self) -> int:
        """Expire every pending request past its date as denied; returns how many."""
        async with self._deciding:
            return await self._expire_due()

    async def _expire_due(self) -> int:
        ctx = self.ctx
        now = ctx.now()
        due = await ctx.db.read(
            lambda db: rows(db, "SELECT id FROM requests WHERE state = 'pending' AND expires_s <= ?", [now])
        )
        # Logged before any of them changes state, in one audit transaction for all that are due.
        await ctx.audit.append_many(
            [ConsentExpired(time=ctx.clock(), actor="hub", request_id=row["id"]) for row in due]
        )
        for row in due:
            request_id = row["id"]

            def expire(db: sqlite_utils.Database, request_id: str = request_id) -> None:
                db.execute(
                    "UPDATE requests SET state = 'expired', decided_s = ? WHERE id = ? AND state = 'pending'",
                    [now, request_id],
                )

            await ctx.db.write(expire)
            await ctx.notify("request_expired", request_id, {"request_id": request_id})
        return len(due)

    async def revoke(self, owner: Identity, request_id: str) -> dict[str, Any]:
        """Withdraw the share link of an approved request: no further download starts."""
        if owner.role != "owner":
            raise Forbidden("only owners revoke a release")
        row = await self._visible(owner, request_id)
        if row["export_id"] is None:
            raise NotFound(f"request {request_id} has no release to revoke")
        await self.ctx.egress.revoke_export_links(row["export_id"], owner.username)
        return await self.view(owner, request_id)


def _submitted_by(who: Identity, row: dict[str, Any]) -> bool:
    """Whether a requester's token sent this request, or an owner let the token see its account's.
    Never by name: two parties may have been given the same one."""
    return row["token_id"] == who.credential_id or (who.sees_account and row["requester_id"] == who.account_id)
