"""The witness: keeps the checkpoints it has seen and refuses any new one that
does not extend them (a rollback or a fork).

State is one JSON file, replaced atomically (temp file, fsync, rename, fsync
the folder): a witness that could lose its state would itself let a
rollback through. Where checkpoints and proofs come from is a `LogSource`:
a data folder (`DataDirSource`) or a hub's API (`HttpSource`).
"""

from __future__ import annotations

import base64
import json
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

from camhub.audit.errors import AuditError, VerificationFailed
from camhub.audit.log import AUDIT_FOLDER
from camhub.audit.merkle import consistency_proof, verify_consistency
from camhub.audit.note import VerifierKey, verify_checkpoint
from camhub.audit.store import DB_NAME, LogReader
from camhub.durable import write_durably

MAX_SEEN = 1000  # (size, root) pairs kept to name the exact fork point


class LogSource(Protocol):
    def checkpoint(self) -> str: ...
    def consistency(self, old_size: int, new_size: int) -> list[bytes]: ...
    def key(self) -> str: ...


class DataDirSource:
    """Read the latest checkpoint and proofs straight from `<data_dir>/audit/log.db`."""

    def __init__(self, data_dir: Path) -> None:
        self.reader = LogReader(Path(data_dir) / AUDIT_FOLDER / DB_NAME)

    def checkpoint(self) -> str:
        return self.reader.latest_note()

    def consistency(self, old_size: int, new_size: int) -> list[bytes]:
        if new_size > self.reader.size():
            raise VerificationFailed(
                f"{self.reader.path}: checkpoint of size {new_size} but only {self.reader.size()} entries are stored",
                entry=self.reader.size(),
            )
        return consistency_proof(old_size, new_size, self.reader.range_hash)

    def key(self) -> str:
        return self.reader.active_key()


class HttpSource:
    """Ask a running hub: /api/audit/checkpoint, /api/audit/consistency, /api/audit/key."""

    def __init__(self, url: str, timeout_s: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s

    def _get(self, path: str) -> str:
        try:
            with urllib.request.urlopen(self.url + path, timeout=self.timeout_s) as response:
                return str(response.read().decode())
        except OSError as exc:
            raise AuditError(f"{self.url + path}: {exc}") from None

    def checkpoint(self) -> str:
        return self._get("/api/audit/checkpoint")

    def consistency(self, old_size: int, new_size: int) -> list[bytes]:
        query = urllib.parse.urlencode({"old": old_size, "new": new_size})
        body = json.loads(self._get(f"/api/audit/consistency?{query}"))
        return [base64.b64decode(h) for h in body["proof"]]

    def key(self) -> str:
        return self._get("/api/audit/key").strip()


@dataclass
class WitnessState:
    origin: str
    key: str  # verifier key the witness trusts
    size: int
    root: str  # base64
    note: str  # the latest checkpoint accepted, as signed
    seen: list[tuple[int, str]] = field(default_factory=list)


def load_state(path: Path) -> WitnessState | None:
    if not path.exists():
        return None
    try:
        raw = json.loads(path.read_text())
        raw["seen"] = [tuple(s) for s in raw.get("seen", [])]
        return WitnessState(**raw)
    except (ValueError, TypeError) as exc:
        raise AuditError(f"{path}: not a witness state file ({exc})") from None


def save_state(path: Path, state: WitnessState) -> None:
    """Replace the state whole or not at all: a half-written state would let a rollback through."""
    write_durably(path.resolve(), json.dumps(asdict(state), indent=1).encode())


def witness(state: WitnessState | None, source: LogSource, key: VerifierKey | None = None) -> tuple[WitnessState, str]:
    """Check the source's latest checkpoint against `state`; return the new state and a summary.

    The key is, in order: the one given, the one in `state`, or (first run
    only) the key the source names, trusted on first use.
    """
    trusted = key or (VerifierKey.parse(state.key) if state else VerifierKey.parse(source.key()))
    note = source.checkpoint()
    checkpoint = verify_checkpoint(note, trusted, "new checkpoint")
    root = base64.b64encode(checkpoint.root).decode()
    if state is None:
        return (
            WitnessState(checkpoint.origin, str(trusted), checkpoint.size, root, note, [(checkpoint.size, root)]),
            f"first checkpoint of {checkpoint.origin}: size {checkpoint.size}, key {trusted.id.hex()} trusted",
        )
    if checkpoint.origin != state.origin:
        raise VerificationFailed(
            f"new checkpoint is for log {checkpoint.origin!r}, this witness keeps {state.origin!r}"
        )
    for size, seen_root in state.seen:
        if size == checkpoint.size and seen_root != root:
            raise VerificationFailed(
                f"fork: the log shows root {root} at size {size}, but this witness saw {seen_root} at that size"
            )
    if checkpoint.size < state.size:
        raise VerificationFailed(
            f"rollback: the log shows size {checkpoint.size}, but this witness already saw "
            f"size {state.size} (root {state.root})"
        )
    if checkpoint.size == state.size:
        if root != state.root:
            raise VerificationFailed(f"fork: two roots for size {state.size}: {state.root} and {root}")
        message = f"unchanged at size {checkpoint.size}"
    else:
        proof = source.consistency(state.size, checkpoint.size)
        try:
            verify_consistency(state.size, checkpoint.size, base64.b64decode(state.root), checkpoint.root, proof)
        except VerificationFailed as exc:
            raise VerificationFailed(
                f"fork or rewrite: size {checkpoint.size} does not extend the size {state.size} this witness saw: {exc}"
            ) from None
        message = f"consistent: size {state.size} -> {checkpoint.size}"
    seen = [*state.seen, (checkpoint.size, root)][-MAX_SEEN:]
    return WitnessState(state.origin, str(trusted), checkpoint.size, root, note, seen), message
