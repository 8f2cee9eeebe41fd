"""`verify_log`: recompute an audit log from its SQLite file and check it all.

Checks, in one pass over the entries: no gaps, each entry's stored leaf hash
is SHA-256(0x00 || entry), each entry holds its own index (so moved or
swapped entries are named), entry 0 is `log_created`, key rotations, and at
each stored checkpoint's size the recomputed root and the signature of the
key active at that size. Then that no checkpoint covers missing entries and
that the key file matches the log's active key. Raises `VerificationFailed`
naming the first bad entry (or checkpoint).
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from camhub.audit.canonical import decode_entry, index_of
from camhub.audit.errors import AuditDamaged, AuditError, VerificationFailed
from camhub.audit.log import AUDIT_FOLDER
from camhub.audit.merkle import CompactRange
from camhub.audit.note import VerifierKey, load_signing_key, verify_checkpoint
from camhub.audit.store import DB_NAME, KEY_NAME, connect, storage
from camhub.audit.verify_chunks import CHUNK_SQL, Checked, ChunkWorker, check_chunk


@dataclass(frozen=True)
class VerifyReport:
    origin: str
    size: int
    checkpoints: int
    key: str  # the active verifier key
    deep: bool


def verify_log(
    data_dir: Path, pinned: VerifierKey | None = None, deep: bool = False, processes: int = 1
) -> VerifyReport:
    """Verify `<data_dir>/audit/log.db`; `pinned` is a key you got out of band.

    `deep` also parses every entry and checks it is canonical JSON (RFC 8785);
    the default reads the index by position only, which is what keeps one
    million entries under a few seconds. Hashes are checked either way.
    `processes=2` checks the later entries of a large log in a second process
    (the command line does; the hub, whose CPU is its cameras', does not); the
    result and any error are the same.
    """
    folder = Path(data_dir) / AUDIT_FOLDER
    db = folder / DB_NAME
    try:
        conn = connect(db, readonly=True)
        try:
            with storage(db, writing=False):
                # One read transaction: a hub appending meanwhile cannot show entries its state does not count.
                conn.execute("BEGIN")
                return _verify(conn, folder, db, pinned, deep, processes)
        finally:
            conn.close()
    except AuditDamaged as exc:  # a file SQLite cannot read as a database does not verify either
        raise VerificationFailed(str(exc)) from None


def _verify(
    conn: sqlite3.Connection, folder: Path, db: Path, pinned: VerifierKey | None, deep: bool, processes: int
) -> VerifyReport:
    checkpoints = conn.execute("SELECT id, size, note FROM checkpoints ORDER BY id").fetchall()
    state = conn.execute("SELECT origin, size, vkey FROM state").fetchone()
    if state is None:
        raise VerificationFailed(f"{db}: no log state; the log was never created or was wiped", entry=0)
    pending = sorted(checkpoints, key=lambda c: (c[1], c[0]))
    next_cp = 0
    for (cid, size, _), (_, prev_size, _) in zip(checkpoints[1:], checkpoints, strict=False):
        if size < prev_size:
            raise VerificationFailed(
                f"{db}: checkpoint #{cid} (size {size}) comes after one of size {prev_size}: the log was rolled back"
            )
    run = _Pass(pending, pinned, deep)
    first, last = conn.execute("SELECT min(idx), max(idx) FROM entries").fetchone()
    if deep or first != 0:
        rows = conn.execute("SELECT idx, entry, leaf_hash FROM entries ORDER BY idx")
        while batch := rows.fetchmany(CHUNK):
            run.entry_by_entry(batch)
    else:
        starts = list(range(0, last + 1, CHUNK))
        split = len(starts) - int(len(starts) * WORKER_SHARE) if processes > 1 and last >= WORKER_FROM else len(starts)
        worker = _worker(db, starts[split], last + 1) if split < len(starts) else None
        try:
            for start in starts:
                end = min(start + CHUNK, last + 1)
                # The fast way checks a whole chunk at once; any doubt, and the entry-by-entry
                # way re-checks it and names the first bad entry exactly as it always has.
                if worker is not None and start >= worker.first:
                    checked = worker.checked(start)
                else:
                    chunk = conn.execute(CHUNK_SQL, (start, end)).fetchall()
                    checked = check_chunk(start, chunk) if len(chunk) == end - start else None
                if checked is not None and len(checked.leaves) != end - start:
                    checked = None
                if not run.chunk_at_once(checked):
                    run.entry_by_entry(conn.execute(_ROWS_FROM_SQL, (start, end - start)).fetchall())
        finally:
            if worker is not None:
                worker.close()
    position, next_cp, key, origin = run.position, run.next_cp, run.key, run.origin
    if position == 0:
        raise VerificationFailed(f"{db}: the log has no entries (entry 0 is missing)", entry=0)
    if next_cp < len(pending):
        cid, size, _ = pending[-1]
        raise VerificationFailed(
            f"entry {position} is missing: checkpoint #{cid} commits to {size} entries but "
            f"only {position} are stored (the log was truncated)",
            entry=position,
        )
    assert key is not None
    _check_state(state, origin, position, key, folder, db)
    if pinned is not None and pinned != key and pinned.public not in _all_keys(conn):
        raise VerificationFailed(f"the pinned key {pinned} never signed this log")
    return VerifyReport(origin, position, len(checkpoints), str(key), deep)


CHUNK = 8192  # rows fetched and checked at a time
# With a second process: it checks this share of the chunks, the last ones, while this process
# checks the first ones and then builds the tree over all (so it takes a little more than half).
WORKER_SHARE = 0.58
# Below this many entries verify takes well under a second and a new process costs a few tenths.
WORKER_FROM = 100_000
_ROWS_FROM_SQL = "SELECT idx, entry, leaf_hash FROM entries WHERE idx >= ? ORDER BY idx LIMIT ?"


class _Pass:
    """One pass over the entries in index order: the tree so far, the active key, the checkpoints still ahead."""

    def __init__(self, pending: list[tuple[int, int, str]], pinned: VerifierKey | None, deep: bool) -> None:
        self.pending = pending  # checkpoints by size
        self.next_cp = 0
        self.pinned = pinned
        self.deep = deep
        self.tree = CompactRange()
        self.position = 0
        self.key: VerifierKey | None = None
        self.origin = ""
        self.vouch: dict[int, VerifierKey] = {}  # size -> old key that must co-sign a rotation's checkpoint
        self.good_size = 0  # entries [0, good_size) match a verified checkpoint

    def entry_by_entry(self, batch: list[tuple[int, bytes, bytes]]) -> None:
        """Check each entry in turn; raises VerificationFailed at the first bad one."""
        sha256 = hashlib.sha256
        for idx, entry, stored_hash in batch:
            position = self.position
            if idx != position:
                raise VerificationFailed(
                    f"entry {position} is missing (the next stored entry is {idx})", entry=position
                )
            leaf = sha256(b"\x00" + entry).digest()
            if leaf != stored_hash:
                raise VerificationFailed(
                    f"entry {idx}: its bytes do not hash to its stored leaf hash (changed after it was written)",
                    entry=idx,
                )
            claimed = index_of(entry)
            if claimed != idx:
                raise VerificationFailed(
                    f"entry {idx}: holds the entry written as index {claimed} (entries moved, swapped or deleted)",
                    entry=idx,
                )
            if idx == 0 or self.deep or b'"key_rotated"' in entry:
                self._decoded(idx, entry)
            self.tree.append(leaf)
            self.position += 1
            self._checkpoints_at(self.position)

    def chunk_at_once(self, checked: Checked | None) -> bool:
        """Take a chunk whose entries' own checks passed (`check_chunk`, here or in the worker)
        into the tree; False (nothing changed) if it needs a closer look.

        The same checks as `entry_by_entry`, in an order that raises the same first error:
        entries' own checks all pass first, then key entries and checkpoints go in size order.
        """
        if checked is None:
            return False
        start = self.position
        end = start + len(checked.leaves)
        if self.next_cp < len(self.pending) and self.pending[self.next_cp][1] <= start:
            return False  # a checkpoint of size 0
        keyed = list(checked.keyed)
        stops = {end}
        for _, size, _ in islice(self.pending, self.next_cp, None):  # by size: only the chunk's, not every later one
            if size > end:
                break
            stops.add(size)
        for stop in sorted(stops):
            while keyed and keyed[0][0] < stop:
                self._decoded(*keyed.pop(0))
            self.tree.add_leaves(checked.leaves[self.tree.size - start : stop - start])
            self.position = stop
            self._checkpoints_at(stop)
        return True

    def _decoded(self, idx: int, entry: bytes) -> None:
        """Parse an entry that matters to the keys (or every entry, deep): genesis, rotations."""
        try:
            value = decode_entry(entry, idx)
        except AuditError as exc:
            raise VerificationFailed(str(exc), entry=idx) from None
        if idx == 0:
            self.key, self.origin = _genesis(value, self.pinned)
        elif value["event"] == "log_created":
            raise VerificationFailed(f"entry {idx}: a second log_created entry", entry=idx)
        elif value["event"] == "key_rotated":
            assert self.key is not None
            self.key = _rotation(value, self.key, idx)
            self.vouch[idx + 1] = VerifierKey.parse(value["fields"]["old_key"])

    def _checkpoints_at(self, position: int) -> None:
        """Check every stored checkpoint of the tree's size `position`."""
        pending = self.pending
        while self.next_cp < len(pending) and pending[self.next_cp][1] <= position:
            cid, size, note = pending[self.next_cp]
            if size == position:
                assert self.key is not None
                _check_checkpoint(cid, note, self.key, self.vouch.get(size), self.tree, self.good_size)
                self.good_size = size
                self.next_cp += 1
            elif size == 0:
                raise VerificationFailed(f"checkpoint #{cid} commits to an empty log", entry=0)


def _worker(db: Path, first: int, end: int) -> ChunkWorker | None:
    """A second process checking the chunks from `first` on; None (this process checks them) if none starts."""
    try:
        return ChunkWorker(db, first, end, CHUNK)
    except (OSError, ValueError):
        return None


def _genesis(value: dict[str, Any], pinned: VerifierKey | None) -> tuple[VerifierKey, str]:
    if value["event"] != "log_created":
        raise VerificationFailed(f"entry 0: is {value['event']}, not log_created", entry=0)
    key = VerifierKey.parse(value["fields"]["key"])
    origin = value["fields"]["origin"]
    if key.name != origin:
        raise VerificationFailed(f"entry 0: key name {key.name!r} is not the origin {origin!r}", entry=0)
    if pinned is not None and pinned != key:
        raise VerificationFailed(
            f"entry 0: the log was created with key {key.id.hex()}, not the pinned key "
            f"{pinned.id.hex()} (key swapped and log rewritten)",
            entry=0,
        )
    return key, origin


def _rotation(value: dict[str, Any], key: VerifierKey, idx: int) -> VerifierKey:
    old = VerifierKey.parse(value["fields"]["old_key"])
    if old != key:
        raise VerificationFailed(
            f"entry {idx}: rotates away from key {old.id.hex()} but the active key is {key.id.hex()}", entry=idx
        )
    return VerifierKey.parse(value["fields"]["new_key"])


def _check_checkpoint(
    cid: int, note: str, key: VerifierKey, vouch: VerifierKey | None, tree: CompactRange, good_size: int
) -> None:
    where = f"checkpoint #{cid} (size {tree.size})"
    checkpoint = verify_checkpoint(note, key, where)
    if vouch is not None:
        verify_checkpoint(note, vouch, where + ", the key rotation's old key")
    if checkpoint.size != tree.size:
        raise VerificationFailed(f"{where}: says size {checkpoint.size}")
    if checkpoint.root != tree.root():
        raise VerificationFailed(
            f"{where}: its root does not match entries {good_size}..{tree.size - 1}; "
            f"the first changed entry is among them (entry and leaf hash both rewritten)",
            entry=good_size,
        )


def _check_state(state: tuple[str, int, str], origin: str, size: int, key: VerifierKey, folder: Path, db: Path) -> None:
    s_origin, s_size, s_vkey = state
    if s_origin != origin or s_size != size:
        raise VerificationFailed(
            f"{db}: state says {s_origin} with {s_size} entries; entries say {origin} with {size}",
            entry=min(size, s_size),
        )
    if s_vkey != str(key):
        raise VerificationFailed(f"{db}: state names key {s_vkey}, but the log's active key is {key}")
    key_path = folder / KEY_NAME
    if key_path.exists():
        try:
            held = load_signing_key(key_path).verifier
        except AuditError as exc:
            raise VerificationFailed(str(exc)) from None
        if held != key:
            raise VerificationFailed(
                f"{key_path}: holds key {held.id.hex()}, but the log's active key is "
                f"{key.id.hex()} (the key file was swapped)"
            )


def _all_keys(conn: sqlite3.Connection) -> set[bytes]:
    keys = set()
    for (entry,) in conn.execute("SELECT entry FROM entries WHERE idx = 0 OR instr(entry, '\"key_rotated\"') > 0"):
        value = decode_entry(entry, -1)
        for name in ("key", "old_key", "new_key"):
            if name in value["fields"]:
                keys.add(VerifierKey.parse(value["fields"][name]).public)
    return keys
