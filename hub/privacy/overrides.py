"""The legal-process override: footage released on a warrant, order, subpoena or emergency.

An owner, or a custodian the owners created, invokes it with a fresh
password and every mandatory field (see `invoke`); the legal document is
uploaded first (`camhub.privacy.documents`, a PDF) and named by its SHA-256.
The scope is enforced by the egress choke point, and `override_invoked` is
durable before anything is built. A preservation order places a hold and
releases nothing. The kinds are listed once, in `camhub.privacy.legal_process`.

Owners are told at once, or when a non-disclosure delay ends (at most
`privacy.max_notice_delay_days` at a time): what was requested, what was
supplied and when, that notice was delayed and on whose order. `tick()`
sends due notices and flags emergencies with no follow-up legal process by
their deadline (`camhub.privacy.override_notices`); its time is the injected clock.

While notice is delayed, the override is sealed: owners do not see it in
the hub's lists, notices or transparency report until the delay ends.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any

from camhub.audit import OverrideFollowUpFiled, OverrideInvoked, OverrideNoticeDelayExtended
from camhub.auth import Forbidden, Identity
from camhub.clock import utc_text
from camhub.errors import NotFound
from camhub.privacy.context import Context, dumps
from camhub.privacy.documents import LegalDocuments
from camhub.privacy.egress import OVERRIDE
from camhub.privacy.holds import Holds
from camhub.privacy.legal_process import EMERGENCY, FOLLOW_UP_KINDS, INVOKERS, KINDS, NEEDS_JUDGE, PRESERVATION
from camhub.privacy.override_notices import due_notices, flag_missed_follow_ups, send_notice
from camhub.privacy.scope import Fields, InvalidField, Scope, check_window
from camhub.store.db import one, rows

NOTICES = ("none", "delayed")  # owners told at once, or when a court's non-disclosure order ends


class Overrides:
    def __init__(self, ctx: Context, holds: Holds, documents: LegalDocuments) -> None:
        self.ctx = ctx
        self.holds = holds
        self.documents = documents
        # Invoking, following up, extending a delay and the clock's tick run one at a time,
        # so a notice is sent once, after what was supplied is known.
        self._busy = asyncio.Lock()

    # Invoking

    async def invoke(self, who: Identity, body: Any) -> dict[str, Any]:
        async with self._busy:
            return await self._invoke(who, body)

    async def _invoke(self, who: Identity, body: Any) -> dict[str, Any]:
        if who.role not in INVOKERS:
            raise Forbidden("only owners and custodians invoke a legal-process override")
        ctx = self.ctx
        now = ctx.now()
        f = Fields(body, "override")
        kind = f.choice("kind", KINDS)
        record: dict[str, Any] = {
            "kind": kind,
            "authority": f.text("authority"),
            "jurisdiction": f.text("jurisdiction"),
            "case_number": f.text("case_number"),
            "judge": f.text("judge", required=kind in NEEDS_JUDGE),
            "issued_s": f.time("issued"),
            "agency": f.text("agency"),
            "officer_contact": f.text("officer_contact"),
        }
        cameras = f.names("cameras", ctx.cameras)
        start, end = f.time("start"), f.time("end")
        record["document_sha256"] = self.documents.known(f, "document_sha256")
        notice = f.choice("notice", NOTICES)
        delayed_until = f.time("notice_delayed_until", required=notice == "delayed")
        ordered_by = f.text("delay_ordered_by", required=notice == "delayed")
        provision = f.text("delay_provision", required=False)
        f.done()
        check_window(start, end, now, ctx.config.max_window_hours * 3600)
        if record["issued_s"] > now:
            raise InvalidField(f"'issued' ({utc_text(record['issued_s'])}) is in the future")
        if notice == "none" and (delayed_until is not None or ordered_by is not None):
            raise InvalidField('notice_delayed_until and delay_ordered_by go with "notice": "delayed"')
        if delayed_until is not None:
            longest = int(ctx.config.max_notice_delay_days * 86400)
            if not now < delayed_until <= now + longest:
                raise InvalidField(
                    f"'notice_delayed_until' ({utc_text(delayed_until)}) must be in the future and at most "
                    f"{ctx.config.max_notice_delay_days:g} days away"
                )
        scope = Scope(cameras, start, end)
        override_id = "ovr_" + secrets.token_hex(16)
        follow_up_due = now + int(ctx.config.emergency_follow_up_hours * 3600) if kind == EMERGENCY else None
        record.update(
            cameras=list(cameras),
            start_s=start,
            end_s=end,
            notice_delayed_until_s=delayed_until,
            delay_ordered_by=ordered_by,
            delay_provision=provision,
            follow_up_due_s=follow_up_due,
        )
        # The row first, so a delayed override is sealed from the moment its entry exists;
        # then the entry, durable before anything is held or built.
        await ctx.db.write(
            lambda db: db.execute(
                "INSERT INTO overrides (id, kind, record, invoked_by, invoked_s, notice_due_s, follow_up_due_s) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [override_id, kind, dumps(record), who.username, now, delayed_until or now, follow_up_due],
            )
        )
        try:
            await ctx.audit.append(
                OverrideInvoked(
                    time=ctx.clock(),
                    actor=who.username,
                    override_id=override_id,
                    kind=kind,
                    authority=record["authority"],
                    jurisdiction=record["jurisdiction"],
                    case_number=record["case_number"],
                    judge=record["judge"],
                    issued_s=record["issued_s"],
                    agency=record["agency"],
                    officer_contact=record["officer_contact"],
                    cameras=cameras,
                    start_s=start,
                    end_s=end,
                    document_sha256=record["document_sha256"],
                    notice_delayed_until_s=delayed_until,
                    delay_ordered_by=ordered_by,
                    follow_up_due_s=follow_up_due,
                )
            )
        except BaseException:
            # Not logged, so it never happened: no notice, no release.
            await ctx.db.write(lambda db: db.execute("DELETE FROM overrides WHERE id = ?", [override_id]))
            raise
        link = None
        if kind == PRESERVATION:
            hold = await self.holds.place(who.username, OVERRIDE + override_id, scope)
            await ctx.db.write(
                lambda db: db.execute("UPDATE overrides SET hold_id = ? WHERE id = ?", [hold["id"], override_id])
            )
        else:
            basis = {
                "kind": "override",
                "id": override_id,
                "type": kind,
                "authority": record["authority"],
                "jurisdiction": record["jurisdiction"],
                "case_number": record["case_number"],
                "judge": record["judge"],
                "issued_s": record["issued_s"],
                "agency": record["agency"],
                "document_sha256": record["document_sha256"],
                "invoked_by": who.username,
            }
            export = await ctx.egress.release(OVERRIDE + override_id, basis, record["agency"], scope, who.username)
            made = await ctx.egress.create_link(
                export.id, who.username, ctx.config.share_link_days, ctx.config.share_link_downloads
            )
            await ctx.db.write(
                lambda db: db.execute("UPDATE overrides SET export_id = ? WHERE id = ?", [export.id, override_id])
            )
            link = {"url": made.path, "expires_s": made.expires_s, "max_downloads": made.max_downloads}
        if delayed_until is None:
            await send_notice(ctx, await self._view_row(override_id))
        # While sealed, the hub's log says nothing of it (egress and holds stay quiet about
        # overrides too): the owners read that log. It is logged when the notice goes out.
        view = await self._view_row(override_id)
        view["share_link"] = link
        return view

    async def follow_up(self, who: Identity, override_id: str, body: Any) -> dict[str, Any]:
        async with self._busy:
            return await self._follow_up(who, override_id, body)

    async def _follow_up(self, who: Identity, override_id: str, body: Any) -> dict[str, Any]:
        """File the legal process that follows an emergency release."""
        if who.role not in INVOKERS:
            raise Forbidden("only owners and custodians file a follow-up")
        ctx = self.ctx
        row = await self._visible_row(who, override_id)
        if row["kind"] != EMERGENCY:
            raise InvalidField(f"override {override_id} is a {row['kind']}; only emergencies take a follow-up")
        if row["follow_up"] is not None:
            raise InvalidField(f"override {override_id} has its follow-up already")
        f = Fields(body, "follow-up")
        kind = f.choice("kind", FOLLOW_UP_KINDS)
        case_number = f.text("case_number")
        document = self.documents.known(f, "document_sha256")
        f.done()
        now = ctx.now()
        late = now > row["follow_up_due_s"]
        await ctx.audit.append(
            OverrideFollowUpFiled(
                time=ctx.clock(),
                actor=who.username,
                override_id=override_id,
                kind=kind,
                case_number=case_number,
                document_sha256=document,
                late=late,
            )
        )
        filed = {"kind": kind, "case_number": case_number, "document_sha256": document, "filed_s": now, "late": late}
        await ctx.db.write(
            lambda db: db.execute("UPDATE overrides SET follow_up = ? WHERE id = ?", [dumps(filed), override_id])
        )
        return await self._view_row(override_id, who.username)

    async def extend_delay(self, who: Identity, override_id: str, body: Any) -> dict[str, Any]:
        async with self._busy:
            return await self._extend_delay(who, override_id, body)

    async def _extend_delay(self, who: Identity, override_id: str, body: Any) -> dict[str, Any]:
        """A further order delays the owners' notice again, at most `max_notice_delay_days` from now."""
        if who.role not in INVOKERS:
            raise Forbidden("only owners and custodians extend a notice delay")
        ctx = self.ctx
        row = await self._visible_row(who, override_id)
        if row["notice_sent_s"] is not None:
            raise InvalidField(f"the owners were told of override {override_id} already; notice cannot be undone")
        f = Fields(body, "delay")
        until = f.time("notice_delayed_until")
        ordered_by = f.text("delay_ordered_by")
        provision = f.text("delay_provision", required=False)
        f.done()
        now = ctx.now()
        longest = int(ctx.config.max_notice_delay_days * 86400)
        if not max(now, row["notice_due_s"]) < until <= now + longest:
            raise InvalidField(
                f"'notice_delayed_until' ({utc_text(until)}) must be after the current date "
                f"({utc_text(row['notice_due_s'])}) and at most {ctx.config.max_notice_delay_days:g} "
                "days from now"
            )
        await ctx.audit.append(
            OverrideNoticeDelayExtended(
                time=ctx.clock(),
                actor=who.username,
                override_id=override_id,
                notice_delayed_until_s=until,
                delay_ordered_by=ordered_by,
            )
        )
        record = json.loads(row["record"])
        extensions = [
            *record.get("delay_extensions", []),
            {"until_s": until, "ordered_by": ordered_by, "provision": provision, "at_s": now},
        ]
        record.update(notice_delayed_until_s=until, delay_ordered_by=ordered_by, delay_extensions=extensions)
        if provision is not None:
            record["delay_provision"] = provision
        await ctx.db.write(
            lambda db: db.execute(
                "UPDATE overrides SET record = ?, notice_due_s = ? WHERE id = ? AND notice_sent_s IS NULL",
                [dumps(record), until, override_id],
            )
        )
        return await self._view_row(override_id, who.username)

    # Telling the owners

    async def tick(self) -> None:
        async with self._busy:
            await self._tick()

    async def _tick(self) -> None:
        """Send notices whose delay ended; flag emergencies past their follow-up deadline."""
        now = self.ctx.now()
        for override_id in await due_notices(self.ctx, now):
            await send_notice(self.ctx, await self._view_row(override_id))
        await flag_missed_follow_ups(self.ctx, now)

    # Reading

    async def _view_row(self, override_id: str, viewer: str | None = None) -> dict[str, Any]:
        """The override as a JSON object; its share link's URL only for `viewer` if they invoked it
        (the link is the agency's credential to footage; others see what it allows, not the link)."""
        ctx = self.ctx
        row = await ctx.db.read(lambda db: one(db, "SELECT * FROM overrides WHERE id = ?", [override_id]))
        if row is None:
            raise NotFound(f"no override {override_id!r}")
        out = {
            "id": row["id"],
            **json.loads(row["record"]),
            "invoked_by": row["invoked_by"],
            "invoked_s": row["invoked_s"],
            "notice_sent_s": row["notice_sent_s"],
            "follow_up": json.loads(row["follow_up"]) if row["follow_up"] else None,
            "follow_up_missed_s": row["follow_up_missed_s"],
            "hold_id": row["hold_id"],
            "export_id": row["export_id"],
        }
        supplied = None
        if row["export_id"]:
            export = await ctx.db.read(
                lambda db: one(db, "SELECT files, bytes, created_s FROM exports WHERE id = ?", [row["export_id"]])
            )
            downloads = await ctx.db.read(
                lambda db: db.execute(
                    "SELECT coalesce(sum(downloads), 0) FROM links WHERE export_id = ?", [row["export_id"]]
                ).fetchone()[0]
            )
            if export:
                supplied = {**export, "downloads": downloads}
        out["supplied"] = supplied
        link = await ctx.egress.link_for_export(row["export_id"]) if row["export_id"] else None
        if link is not None and viewer != row["invoked_by"]:
            link.pop("url")
        out["share_link"] = link
        return out

    async def _visible_row(self, who: Identity, override_id: str) -> dict[str, Any]:
        row = await self.ctx.db.read(lambda db: one(db, "SELECT * FROM overrides WHERE id = ?", [override_id]))
        # A sealed override is visible only to whoever invoked it; to everyone else it does not exist.
        if row is None or (row["notice_sent_s"] is None and row["invoked_by"] != who.username):
            raise NotFound(f"no override {override_id!r}")
        return row

    async def view(self, who: Identity, override_id: str) -> dict[str, Any]:
        if who.role not in INVOKERS:
            raise Forbidden("only owners and custodians see overrides")
        await self._visible_row(who, override_id)
        return await self._view_row(override_id, who.username)

    async def list_for(self, who: Identity) -> list[dict[str, Any]]:
        """Overrides whose owners' notice was sent, and those `who` invoked; newest first."""
        if who.role not in INVOKERS:
            raise Forbidden("only owners and custodians see overrides")
        ids = await self.ctx.db.read(
            lambda db: rows(
                db,
                "SELECT id FROM overrides WHERE notice_sent_s IS NOT NULL OR invoked_by = ? "
                "ORDER BY invoked_s DESC, id",
                [who.username],
            )
        )
        return [await self._view_row(r["id"], who.username) for r in ids]
