"""`Privacy`: the consent queue, overrides, holds and egress, opened together, with their clock task.

`Privacy.open(...)` opens `<data_dir>/privacy.db`; `run(stop)` is the task
that expires requests and holds, sends delayed override notices, flags
missed emergency follow-ups and deletes packages no link can fetch any more, every
`poll_s` real seconds, judging time by the injected clock (tests call `tick()` after moving a manual clock).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Collection
from pathlib import Path
from typing import Any

from camhub.audit import AuditLog, AuditUnavailable
from camhub.auth import Forbidden, Identity
from camhub.bus import Bus
from camhub.clock import Clock
from camhub.config import PrivacyConfig
from camhub.privacy.consent import ConsentQueue
from camhub.privacy.context import Context
from camhub.privacy.documents import LegalDocuments
from camhub.privacy.egress import Egress
from camhub.privacy.holds import Holds
from camhub.privacy.overrides import Overrides
from camhub.privacy.schema import migrations
from camhub.store.db import Database, rows

log = logging.getLogger(__name__)

DB_NAME = "privacy.db"
TICK_S = 5.0


class Privacy:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.egress = ctx.egress
        self.holds = Holds(ctx)
        self.consent = ConsentQueue(ctx)
        self.documents = LegalDocuments(ctx)
        self.overrides = Overrides(ctx, self.holds, self.documents)

    @classmethod
    async def open(
        cls,
        data_dir: Path,
        index: Database,
        audit: AuditLog,
        *,
        cameras: Collection[str],
        owners: Callable[[], Awaitable[list[str]]],
        clock: Clock,
        config: PrivacyConfig | None = None,
        bus: Bus | None = None,
    ) -> Privacy:
        db = await asyncio.to_thread(Database, data_dir / DB_NAME, migrations)
        try:
            egress = await asyncio.to_thread(Egress, data_dir, db, index, audit, clock)
        except BaseException:
            await asyncio.to_thread(db.close)
            raise
        ctx = Context(data_dir, db, index, audit, egress, bus, clock, config or PrivacyConfig(), cameras, owners)
        return cls(ctx)

    async def close(self) -> None:
        await asyncio.to_thread(self.ctx.db.close)

    async def tick(self) -> None:
        """Everything that happens because time passed, judged by the injected clock."""
        await self.consent.expire_due()
        await self.holds.expire_due()
        await self.overrides.tick()
        await self.egress.delete_spent()

    async def run(self, stop: asyncio.Event, poll_s: float = TICK_S) -> None:
        while not stop.is_set():
            try:
                await self.tick()
            except AuditUnavailable as exc:  # /api/health already says so; a traceback would add nothing
                log.warning(
                    "privacy: the periodic check waits for the audit log (%s); retrying in %g s", exc.reason, poll_s
                )
            except Exception:  # a failed tick must not stop the next one; it is logged and retried
                log.exception("privacy: the periodic check failed; retrying in %g s", poll_s)
            try:
                await asyncio.wait_for(stop.wait(), poll_s)
            except TimeoutError:
                pass

    async def counts(self) -> dict[str, int]:
        """For the household's automations (MQTT): requests waiting for an owner, and overrides in force that
        owners were told of (a preservation's hold standing, or an emergency waiting for its legal process).
        A sealed override is not counted while its notice is delayed."""
        now = self.ctx.now()

        def count(db: Any) -> dict[str, int]:
            pending = db.execute("SELECT count(*) FROM requests WHERE state = 'pending'").fetchone()[0]
            active = db.execute(
                "SELECT count(*) FROM overrides o LEFT JOIN holds h ON h.id = o.hold_id "
                "WHERE o.notice_sent_s IS NOT NULL AND ("
                "(o.hold_id IS NOT NULL AND h.released_s IS NULL AND h.expires_s > ?) OR "
                "(o.follow_up_due_s IS NOT NULL AND o.follow_up IS NULL AND o.follow_up_missed_s IS NULL))",
                [now],
            ).fetchone()[0]
            return {"pending_requests": int(pending), "active_overrides": int(active)}

        return await self.ctx.db.read(count)

    async def notices(self, owner: Identity, limit: int = 100) -> list[dict[str, Any]]:
        if owner.role != "owner":
            raise Forbidden("only owners read owner notices")
        found = await self.ctx.db.read(
            lambda db: rows(
                db, "SELECT id, kind, subject, body, created_s FROM notices ORDER BY id DESC LIMIT ?", [limit]
            )
        )
        return [{**r, "body": json.loads(r["body"])} for r in found]
