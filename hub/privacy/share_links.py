"""Share links: the URL a released package is fetched by, and the rule for when it may still be used.

A link's token is `<link id>.<tag>`: the id 128 random bits, the tag an HMAC
of the id under `<data_dir>/privacy/links.key`, so the database alone cannot
rebuild a link, yet a requester can see their own link again. A token is
checked (its shape, then its tag in constant time) before any lookup.

`ShareLinks` keeps the `links` table of privacy.db. A link is logged
(`share_link_created`) before it is stored, so no usable link exists that
the log does not show. A revocation is stored before it is logged, so no
download can start after it, logged or not. Downloads are not here: the
egress choke point (`Egress.open_download`) reserves one, with `refusal`
deciding, and logs it before the first byte is sent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from camhub.audit import AuditLog, ShareLinkCreated, ShareLinkRevoked
from camhub.clock import Clock
from camhub.durable import secret_key
from camhub.errors import HubError, NotFound
from camhub.store.db import Database, one

LINK_KEY = "privacy/links.key"
LINK_ID_BYTES = 16  # 128 random bits
TAG_BYTES = 16
TOKEN = re.compile(r"[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{22}")  # base64url of 16 bytes, a dot, base64url of 16 bytes


class LinkGone(HubError):
    """A share link that expired, was revoked or has no downloads left."""

    key = "link_gone"
    status = 410


@dataclass(frozen=True)
class Link:
    id: str
    token: str  # the secret part of the URL: /api/share/<token>
    export_id: str
    expires_s: int
    max_downloads: int

    @property
    def path(self) -> str:
        return f"/api/share/{self.token}"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def load_link_key(data_dir: Path) -> bytes:
    """The HMAC key for share links, created (mode 0600) on first use."""
    return secret_key(data_dir / LINK_KEY, "a share-link key", "restore it from a backup")


class ShareLinks:
    def __init__(self, data_dir: Path, db: Database, audit: AuditLog, clock: Clock) -> None:
        self._db = db  # privacy.db
        self._audit = audit
        self._clock = clock
        self._key = load_link_key(data_dir)

    def token_for(self, link_id: str) -> str:
        tag = hmac.new(self._key, link_id.encode(), hashlib.sha256).digest()[:TAG_BYTES]
        return f"{link_id}.{_b64(tag)}"

    def link_id_of(self, token: str) -> str:
        """The link id in `token`, once its tag checks out; every wrong token gets the same NotFound."""
        if not TOKEN.fullmatch(token):
            raise NotFound("no such share link")
        link_id = token.partition(".")[0]
        if not hmac.compare_digest(self.token_for(link_id).encode(), token.encode()):
            raise NotFound("no such share link")
        return link_id

    def refusal(self, row: dict[str, Any]) -> str | None:
        """Why the link in `row` (a row of links) cannot be used now, or None when it can."""
        if row["revoked_s"] is not None:
            return "this share link was revoked"
        if self._clock() >= row["expires_s"]:
            return "this share link expired"
        if row["downloads"] >= row["max_downloads"]:
            return f"this share link allowed {row['max_downloads']} download(s); none are left"
        return None

    async def create(self, export_id: str, actor: str, days: float, downloads: int) -> Link:
        link_id = _b64(secrets.token_bytes(LINK_ID_BYTES))
        now = int(self._clock())
        expires = now + int(days * 86400)
        await self._audit.append(
            ShareLinkCreated(
                time=self._clock(),
                actor=actor,
                link_id=link_id,
                export_id=export_id,
                expires_s=expires,
                max_downloads=downloads,
            )
        )
        await self._db.write(
            lambda db: db.execute(
                "INSERT INTO links (id, export_id, created_s, expires_s, max_downloads) VALUES (?, ?, ?, ?, ?)",
                [link_id, export_id, now, expires, downloads],
            )
        )
        return Link(link_id, self.token_for(link_id), export_id, expires, downloads)

    async def newest_of(self, export_id: str) -> dict[str, Any] | None:
        """The newest link of an export with its URL and what it still allows, or None."""
        row = await self._db.read(
            lambda db: one(
                db, "SELECT * FROM links WHERE export_id = ? ORDER BY created_s DESC, rowid DESC LIMIT 1", [export_id]
            )
        )
        if row is None:
            return None
        return {
            "id": row["id"],
            "url": f"/api/share/{self.token_for(row['id'])}",
            "expires_s": row["expires_s"],
            "downloads": row["downloads"],
            "max_downloads": row["max_downloads"],
            "revoked_s": row["revoked_s"],
            "usable": self.refusal(row) is None,
        }

    async def revoke(self, link_id: str, actor: str) -> None:
        now = int(self._clock())
        row = await self._db.read(lambda db: one(db, "SELECT * FROM links WHERE id = ?", [link_id]))
        if row is None:
            raise NotFound(f"no share link {link_id!r}")
        if row["revoked_s"] is not None:
            return
        # Revoked in the store first: from here no download can start, logged or not.
        await self._db.write(
            lambda db: db.execute("UPDATE links SET revoked_s = ? WHERE id = ? AND revoked_s IS NULL", [now, link_id])
        )
        await self._audit.append(
            ShareLinkRevoked(time=self._clock(), actor=actor, link_id=link_id, export_id=row["export_id"])
        )

    async def revoke_all_of(self, export_id: str, actor: str) -> None:
        def unrevoked(db: sqlite_utils.Database) -> list[str]:
            cursor = db.execute("SELECT id FROM links WHERE export_id = ? AND revoked_s IS NULL", [export_id])
            return [r[0] for r in cursor.fetchall()]

        for link_id in await self._db.read(unrevoked):
            await self.revoke(link_id, actor)
