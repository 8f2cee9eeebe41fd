"""What the consent queue, overrides and holds share: stores, the audit log, the clock, owner notices."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from camhub.audit import AuditLog
from camhub.bus import Bus, OwnerNotice
from camhub.clock import Clock
from camhub.config import PrivacyConfig
from camhub.privacy.egress import Egress
from camhub.store.db import Database

log = logging.getLogger(__name__)


@dataclass
class Context:
    data_dir: Path
    db: Database  # privacy.db
    index: Database  # the clip index
    audit: AuditLog
    egress: Egress
    bus: Bus | None
    clock: Clock
    config: PrivacyConfig
    cameras: Collection[str]  # every camera's name, a live view: adopted cameras join it
    owners: Callable[[], Awaitable[list[str]]]  # user names of every enabled owner

    def now(self) -> int:
        return int(self.clock())

    async def notify(self, kind: str, subject: str, body: dict[str, Any]) -> None:
        """Tell every owner: a row for the dashboard and a bus event for MQTT. Never footage."""
        now = self.now()
        await self.db.write(
            lambda db: db.execute(
                "INSERT INTO notices (kind, subject, body, created_s) VALUES (?, ?, ?, ?)",
                [kind, subject, dumps(body), now],
            )
        )
        if self.bus is not None:
            self.bus.publish(OwnerNotice(kind, subject, body))
        log.info("owners notified: %s %s", kind, subject)


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)
