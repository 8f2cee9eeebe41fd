"""Telling the owners of an override, and flagging emergencies whose follow-up did not come.

`send_notice` logs `override_notice_sent`, marks the override told and tells
every owner what was requested, what was supplied and when, and whether
notice was delayed and on whose order. The clock's work, judged by the
injected clock: `due_notices` finds overrides whose delay has ended, and
`flag_missed_follow_ups` logs `override_follow_up_missed` for every
emergency with no follow-up legal process by its deadline (told to the
owners at once unless the override is still sealed, whose notice will say
so). `camhub.privacy.overrides.Overrides` runs these under its lock, so a
notice goes out once, after what was supplied is known.

Until its owners are told, an override whose notice is delayed is sealed:
`sealed` names it and every id it gave rise to, so the hub's lists, holds and
audit entries can keep it from everyone but its invoker.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlite_utils

from camhub.audit import OverrideFollowUpMissed, OverrideNoticeSent
from camhub.clock import utc_text
from camhub.privacy.context import Context
from camhub.privacy.egress import OVERRIDE
from camhub.privacy.legal_process import EMERGENCY
from camhub.store.db import rows

log = logging.getLogger(__name__)

Sealed = dict[str, tuple[str, set[str]]]  # override id -> (who invoked it, every id it gave rise to)

# What the owners' notice tells of an override, from its view (Overrides.view).
NOTICE_FIELDS = (
    "kind",
    "authority",
    "jurisdiction",
    "case_number",
    "judge",
    "issued_s",
    "agency",
    "officer_contact",
    "cameras",
    "start_s",
    "end_s",
    "document_sha256",
    "invoked_by",
    "invoked_s",
    "notice_delayed_until_s",
    "delay_ordered_by",
    "delay_provision",
    "follow_up_due_s",
    "follow_up",
    "supplied",
)


async def due_notices(ctx: Context, now: int) -> list[str]:
    """Ids of the overrides whose owners are not told yet and whose notice is due at `now`."""
    due = await ctx.db.read(
        lambda db: rows(db, "SELECT id FROM overrides WHERE notice_sent_s IS NULL AND notice_due_s <= ?", [now])
    )
    return [row["id"] for row in due]


async def send_notice(ctx: Context, view: dict[str, Any]) -> None:
    """Tell every owner of the override `view` shows; logged first, then marked, then told."""
    override_id = view["id"]
    owners = tuple(sorted(await ctx.owners()))
    delayed = view["notice_delayed_until_s"] is not None
    await ctx.audit.append(
        OverrideNoticeSent(time=ctx.clock(), actor="hub", override_id=override_id, delayed=delayed, owners=owners)
    )
    now = ctx.now()
    await ctx.db.write(lambda db: db.execute("UPDATE overrides SET notice_sent_s = ? WHERE id = ?", [now, override_id]))
    body = {k: view[k] for k in NOTICE_FIELDS}
    body["delay_extensions"] = view.get("delay_extensions", [])
    body["notice_delayed"] = delayed
    body["follow_up_missed"] = view["follow_up_missed_s"] is not None
    await ctx.notify("override", override_id, body)
    released = view.get("export_id") or view.get("hold_id") or "nothing"
    log.info(
        "override %s (%s, case %s) invoked by %r: %s; owners told%s",
        override_id,
        view["kind"],
        view["case_number"],
        view["invoked_by"],
        released,
        f" after a delay ordered by {view['delay_ordered_by']}" if delayed else "",
    )


async def flag_missed_follow_ups(ctx: Context, now: int) -> None:
    """Log every emergency past its follow-up deadline with none filed, once; tell the owners unless sealed."""
    missed = await ctx.db.read(
        lambda db: rows(
            db,
            "SELECT id, follow_up_due_s, notice_sent_s FROM overrides WHERE kind = ? "
            "AND follow_up IS NULL AND follow_up_missed_s IS NULL AND follow_up_due_s <= ?",
            [EMERGENCY, now],
        )
    )
    for row in missed:
        override_id, due_s = row["id"], row["follow_up_due_s"]
        await ctx.audit.append(
            OverrideFollowUpMissed(time=ctx.clock(), actor="hub", override_id=override_id, due_s=due_s)
        )

        def mark(db: sqlite_utils.Database, override_id: str = override_id) -> None:
            db.execute("UPDATE overrides SET follow_up_missed_s = ? WHERE id = ?", [now, override_id])

        await ctx.db.write(mark)
        if row["notice_sent_s"] is not None:  # while sealed, the notice itself will say so
            log.warning("emergency override %s has no follow-up legal process (due %s)", override_id, utc_text(due_s))
            await ctx.notify("follow_up_missed", override_id, {"override_id": override_id, "due_s": due_s})


async def sealed(ctx: Context) -> Sealed:
    """Overrides whose owners' notice is still delayed, each with who invoked it and every id it
    gave rise to (itself, its export, share links and hold), so views can keep them out."""

    def read(db: sqlite_utils.Database) -> Sealed:
        out = {}
        for row in rows(db, "SELECT id, invoked_by FROM overrides WHERE notice_sent_s IS NULL"):
            # Exports and links are looked up by their basis, not by the override's columns,
            # which are filled in only after they exist.
            basis = [OVERRIDE + row["id"]]
            exports = {r["id"] for r in rows(db, "SELECT id FROM exports WHERE basis = ?", basis)}
            holds = {r["id"] for r in rows(db, "SELECT id FROM holds WHERE basis = ?", basis)}
            links = {r["id"] for e in exports for r in rows(db, "SELECT id FROM links WHERE export_id = ?", [e])}
            out[row["id"]] = (row["invoked_by"], {row["id"]} | exports | holds | links)
        return out

    return await ctx.db.read(read)
