"""Legal documents: the PDFs an override names by SHA-256, kept under `<data>/privacy/documents`.

An owner or custodian uploads the document first (`store`); an override, and
an emergency's follow-up, then name it by its hash, and `known` refuses a
hash nothing was uploaded under. A document is written durably
(`camhub.durable`) and never replaced: its name is its content's hash.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from pathlib import Path
from typing import Any

from camhub.auth import Forbidden, Identity
from camhub.durable import write_durably
from camhub.http.bodies import PayloadTooLarge
from camhub.privacy.context import Context
from camhub.privacy.legal_process import INVOKERS
from camhub.privacy.scope import Fields, InvalidField

log = logging.getLogger(__name__)

DOCUMENTS = "privacy/documents"
SHA256 = re.compile(r"^[0-9a-f]{64}$")


class LegalDocuments:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def store(self, who: Identity, data: bytes) -> dict[str, Any]:
        """Keep an uploaded PDF under its SHA-256; an override then names it."""
        if who.role not in INVOKERS:
            raise Forbidden("only owners and custodians upload legal documents")
        limit = self.ctx.config.max_document_bytes
        if len(data) > limit:
            raise PayloadTooLarge(f"the document is {len(data)} bytes; at most {limit} (privacy.max_document_bytes)")
        if not data.startswith(b"%PDF-"):
            raise InvalidField("the document must be a PDF (it starts with %PDF-)")
        digest = hashlib.sha256(data).hexdigest()
        path = self.path(digest)
        if not path.exists():
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            await asyncio.to_thread(write_durably, path, data, 0o600)
        log.info("legal document %s… stored (%d bytes) by %r", digest[:12], len(data), who.username)
        return {"sha256": digest, "bytes": len(data)}

    def path(self, digest: str) -> Path:
        return self.ctx.data_dir / DOCUMENTS / f"{digest}.pdf"

    def known(self, f: Fields, name: str) -> str:
        """Field `name` of `f`: the hash of a document that was uploaded."""
        digest = f.text(name, max_len=64)
        if not SHA256.match(digest):
            raise InvalidField(f"{name!r} must be the lower-case hex SHA-256 of an uploaded document")
        if not self.path(digest).exists():
            raise InvalidField(f"{name!r}: no document {digest[:12]}… was uploaded; POST it to /api/documents first")
        return digest
