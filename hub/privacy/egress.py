"""The egress choke point: the only code that gives footage to anyone outside the household.

`Egress.release(basis, scope, ...)` is called with a decision or an override
that was already checked and logged. In this order, it:

1. resolves the clips of the scope (camera and time overlap, then only the
   chosen clips if the scope names them);
2. cuts clips that reach outside the window down to it (stream copy, from
   the first keyframe inside: no frame before the window leaves the hub);
3. hashes every file and writes the manifest;
4. appends `export_built` to the audit log and waits until it is durable;
5. writes the package: clips, manifest, the audit entry, its inclusion
   proof and the signed checkpoint (hub/privacy/package/).

Delivery is a share link: a random id and an HMAC tag, made and revoked by
`ShareLinks` (hub/privacy/share_links.py), downloaded through here. Each
download reserves one of the link's downloads, then appends
`share_link_downloaded` (durable), and only then is the first byte sent.
The reservation comes first so concurrent downloads cannot pass the limit;
if the entry cannot be made durable (the audit log is unavailable), the
reservation is given back: nothing was sent, so nothing is used up.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import secrets
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from camhub.audit import AuditError, AuditLog, ExportBuilt, ShareLinkDownloaded
from camhub.clock import Clock
from camhub.durable import TMP_SUFFIX, unlink_durably
from camhub.errors import NotFound
from camhub.privacy.package.writer import make_manifest, write_package
from camhub.privacy.scope import Scope
from camhub.privacy.share_links import Link, LinkGone, ShareLinks
from camhub.privacy.trim import trim_clip
from camhub.store.db import Database, one, rows
from camhub.store.files import sha256_of
from camhub.store.index import ClipRecord, query_clips

log = logging.getLogger(__name__)

EXPORTS_FOLDER = "exports"
OVERRIDE = "override:"  # the basis of an export made for a legal-process override
# A column: 1 while the export's override is sealed (its owners' notice not sent), when the
# hub's log must not mention it, since the owners read that log.
SEALED = (
    f"coalesce((SELECT o.notice_sent_s IS NULL FROM overrides o WHERE '{OVERRIDE}' || o.id = e.basis), 0) AS sealed"
)


@dataclass(frozen=True)
class Export:
    id: str
    basis: str
    path: Path  # absolute
    files: int
    bytes: int  # footage bytes
    package_bytes: int
    audit_index: int
    clip_ids: tuple[int, ...]


class Egress:
    def __init__(self, data_dir: Path, db: Database, index: Database, audit: AuditLog, clock: Clock) -> None:
        self.data_dir = data_dir
        self._db = db  # privacy.db
        self._index = index  # the clip index
        self._audit = audit
        self._clock = clock
        self.links = ShareLinks(data_dir, db, audit, clock)
        (data_dir / EXPORTS_FOLDER).mkdir(exist_ok=True)
        self._sweep()

    def _sweep(self) -> None:
        """Remove what a crash left while building: cut clips being staged, half-written packages."""
        folder = self.data_dir / EXPORTS_FOLDER
        for leftover in [*folder.glob(".exp_*"), *folder.glob(f"*{TMP_SUFFIX}")]:
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)
            log.info("removed %s, left by an export interrupted before it finished", leftover)

    # Building exports

    async def resolve(self, scope: Scope) -> list[ClipRecord]:
        """The clips a scope reaches, oldest first: by camera and time overlap, then the chosen ids."""

        def query(db: sqlite_utils.Database) -> list[ClipRecord]:
            found = [
                c
                for cam in scope.cameras
                for c in query_clips(db, camera=cam, start=scope.start_s, end=scope.end_s, oldest_first=True)
            ]
            if scope.clip_ids is not None:
                found = [c for c in found if c.id in scope.clip_ids]
            return sorted(found, key=lambda c: (c.start_time, c.id or 0))

        return await self._index.read(query)

    async def release(self, basis: str, basis_json: dict[str, Any], recipient: str, scope: Scope, actor: str) -> Export:
        """Package the footage of `scope` under `basis` (request:<id> or override:<id>); logged before it exists."""
        export_id = "exp_" + secrets.token_hex(16)
        clips = await self.resolve(scope)
        staging = self.data_dir / EXPORTS_FOLDER / f".{export_id}"
        staging.mkdir()
        try:
            files, sources = await asyncio.to_thread(self._stage, clips, scope, staging)
            now = int(self._clock())
            manifest = make_manifest(
                export_id=export_id,
                hub_origin=self._audit.origin,
                created_s=now,
                basis=basis_json,
                scope=scope.as_json(),
                files=files,
            )
            used = tuple(f["source_clip_id"] for f in files)
            footage = sum(f["bytes"] for f in files)
            event = ExportBuilt(
                time=self._clock(),
                actor=actor,
                export_id=export_id,
                basis=basis,
                recipient=recipient,
                cameras=scope.cameras,
                start_s=scope.start_s,
                end_s=scope.end_s,
                clip_sha256=tuple(f["sha256"] for f in files),
                clip_ids=used,
                bytes=footage,
                manifest_sha256=hashlib.sha256(manifest).hexdigest(),
            )
            receipt = await self._audit.append(event)
            if not basis.startswith(OVERRIDE):
                log.info("export %s logged as audit entry %d; writing the package", export_id, receipt.index)
            size = receipt.checkpoint.size
            entry = await self._audit.entry(receipt.index)
            proof = await self._audit.inclusion_proof(receipt.index, size)
            path = self.data_dir / EXPORTS_FOLDER / f"{export_id}.zip"
            package_bytes = await asyncio.to_thread(
                write_package,
                path,
                manifest=manifest,
                files=sources,
                entry=entry,
                index=receipt.index,
                tree_size=size,
                proof=proof,
                checkpoint_note=receipt.checkpoint.note,
                verifier_key=str(self._audit.verifier_key),
            )
        finally:
            await asyncio.to_thread(shutil.rmtree, staging, True)
        export = Export(export_id, basis, path, len(files), footage, package_bytes, receipt.index, used)
        await self._db.write(
            lambda db: db.execute(
                "INSERT INTO exports (id, basis, recipient, path, files, bytes, package_bytes, audit_index, created_s) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    export_id,
                    basis,
                    recipient,
                    str(path.relative_to(self.data_dir)),
                    len(files),
                    footage,
                    package_bytes,
                    receipt.index,
                    now,
                ],
            )
        )
        if not basis.startswith(OVERRIDE):  # the override logs its release itself, once it is not sealed
            log.info(
                "export %s built for %s under %s: %d clip(s), %d bytes",
                export_id,
                recipient,
                basis,
                len(files),
                footage,
            )
        return export

    def _stage(
        self, clips: list[ClipRecord], scope: Scope, staging: Path
    ) -> tuple[list[dict[str, Any]], list[tuple[str, Path]]]:
        """Pick or cut each clip; returns the manifest's file entries and (package name, file) pairs."""
        files: list[dict[str, Any]] = []
        sources: list[tuple[str, Path]] = []
        for clip in clips:
            src = self.data_dir / clip.path
            name = f"clips/{Path(clip.path).name}"
            if not src.is_file():
                # Deleted since it was indexed (retention, a repair): it cannot leave, and the manifest
                # lists only what does; `camhub check` reports the missing file.
                log.warning("export: clip %s of %s is missing from the disk; left out", clip.id, clip.camera)
                continue
            if scope.covers(clip.camera, clip.start_time, clip.end_time):
                path, start, end, trimmed = src, clip.start_time, clip.end_time, False
            else:
                path = staging / Path(clip.path).name
                cut = trim_clip(src, path, clip.start_time, scope.start_s, scope.end_s)
                if cut is None:
                    continue  # no keyframe inside the window: nothing of this clip may leave
                start, end, trimmed = cut.start_time, cut.end_time, True
            files.append(
                {
                    "name": name,
                    "sha256": sha256_of(path),
                    "bytes": path.stat().st_size,
                    "camera": clip.camera,
                    "start_ms": int(start * 1000),
                    "end_ms": int(end * 1000),
                    "source_clip_id": clip.id,
                    "source_sha256": clip.sha256,
                    "trimmed": trimmed,
                }
            )
            sources.append((name, path))
        return files, sources

    # Share links: kept by ShareLinks, reached through here, since a link is how a package leaves

    async def create_link(self, export_id: str, actor: str, days: float, downloads: int) -> Link:
        return await self.links.create(export_id, actor, days, downloads)

    async def link_for_export(self, export_id: str) -> dict[str, Any] | None:
        """The newest link of an export with its URL and what it still allows, or None."""
        return await self.links.newest_of(export_id)

    async def revoke_export_links(self, export_id: str, actor: str) -> None:
        await self.links.revoke_all_of(export_id, actor)

    async def delete_spent(self) -> int:
        """Delete packages no link can fetch any more (every link expired, revoked or used up).

        A package is a copy of footage made for one recipient; once it cannot be
        delivered it has no reason to stay. Its hashes stay in the audit log.
        """
        links = await self._db.read(
            lambda db: rows(
                db,
                f"SELECT l.*, e.path, {SEALED} FROM links l JOIN exports e ON e.id = l.export_id "
                "WHERE e.deleted_s IS NULL",
            )
        )
        # The same rule that refuses a download decides that no download can come.
        fetchable = {link["export_id"] for link in links if self.links.refusal(link) is None}
        spent = sorted(
            {(link["export_id"], link["path"], link["sealed"]) for link in links if link["export_id"] not in fetchable}
        )
        now = int(self._clock())
        for export_id, relative, sealed in spent:
            await asyncio.to_thread(unlink_durably, [self.data_dir / relative])

            def mark_deleted(db: sqlite_utils.Database, export_id: str = export_id) -> None:
                db.execute("UPDATE exports SET deleted_s = ? WHERE id = ?", [now, export_id])

            await self._db.write(mark_deleted)
            if not sealed:
                log.info("export %s deleted: no link can fetch it any more", export_id)
        return len(spent)

    async def contents(self, token: str) -> dict[str, Any]:
        """What a share link's package holds (its manifest's scope and files) and what the link still
        allows, without using a download: no footage leaves, so nothing is logged. A gone link answers
        `LinkGone` here too, so a revoked link tells nothing more about its package."""
        link_id = self.links.link_id_of(token)
        row = await self._db.read(
            lambda db: one(
                db,
                "SELECT l.*, e.path, e.package_bytes, e.created_s AS built_s FROM links l "
                "JOIN exports e ON e.id = l.export_id WHERE l.id = ?",
                [link_id],
            )
        )
        if row is None:
            raise NotFound("no such share link")
        refused = self.links.refusal(row)
        package = self.data_dir / row["path"]
        if refused is None and not package.is_file():
            refused = "the package of this link is missing from the hub; ask the owner to release it again"
        if refused is not None:
            raise LinkGone(refused)
        manifest = await asyncio.to_thread(_read_manifest, package)
        keep = ("name", "camera", "start_ms", "end_ms", "bytes", "sha256", "trimmed")
        return {
            "export_id": row["export_id"],
            "built_s": row["built_s"],
            "package_bytes": row["package_bytes"],
            "expires_s": row["expires_s"],
            "downloads": row["downloads"],
            "max_downloads": row["max_downloads"],
            "downloads_left": row["max_downloads"] - row["downloads"],
            "scope": manifest["scope"],
            "files": [{k: f[k] for k in keep} for f in manifest["files"]],
        }

    async def _unreserve(self, link_id: str) -> None:
        """Give back a download whose audit entry could not be made durable (nothing was sent)."""
        try:
            await self._db.write(
                lambda db: db.execute(
                    "UPDATE links SET downloads = downloads - 1 WHERE id = ? AND downloads > 0", [link_id]
                )
            )
        except Exception as exc:
            log.warning("share link %s: could not give back a refused download (%s); it stays used", link_id[:6], exc)

    async def open_download(self, token: str, remote: str) -> tuple[Path, str]:
        """Reserve a download, log it durably, and return the package to send and the export id."""
        link_id = self.links.link_id_of(token)
        now = self._clock()

        def reserve(db: sqlite_utils.Database) -> tuple[dict[str, Any] | None, str | None]:
            row = one(
                db,
                f"SELECT l.*, e.path, e.package_bytes, {SEALED} FROM links l "
                "JOIN exports e ON e.id = l.export_id WHERE l.id = ?",
                [link_id],
            )
            if row is None:
                return None, None
            refused = self.links.refusal(row)
            if refused is None and not (self.data_dir / row["path"]).is_file():
                refused = "the package of this link is missing from the hub; ask the owner to release it again"
            if refused is None:
                db.execute("UPDATE links SET downloads = downloads + 1 WHERE id = ?", [link_id])
            return row, refused

        row, refused = await self._db.write(reserve)
        if row is None:
            raise NotFound("no such share link")
        if refused is not None:
            raise LinkGone(refused)
        path = self.data_dir / row["path"]
        try:
            await self._audit.append(
                ShareLinkDownloaded(
                    time=now,
                    actor="requester",
                    link_id=link_id,
                    export_id=row["export_id"],
                    remote=remote,
                    bytes=row["package_bytes"],
                )
            )
        except AuditError:
            await self._unreserve(link_id)
            raise
        if not row["sealed"]:
            log.info(
                "share link %s: download %d of %d of %s started from %s",
                link_id[:6],
                row["downloads"] + 1,
                row["max_downloads"],
                row["export_id"],
                remote,
            )
        return path, row["export_id"]


def _read_manifest(package: Path) -> dict[str, Any]:
    """The manifest of a package the hub wrote (so it is trusted: egress wrote and checked it)."""
    with zipfile.ZipFile(package) as zf:
        manifest: dict[str, Any] = json.loads(zf.read("manifest.json"))
    return manifest
