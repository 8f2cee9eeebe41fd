"""`AuditLog`: the hub's async, write-ahead, group-committing audit log.

Use:

    log = await AuditLog.open(data_dir, hub_id="home", clock=time.time)
    receipt = await log.append(ExportBuilt(...))   # durable when it returns
    await send_the_bytes()                           # only then, the action
    await log.close()

Appends that arrive while a commit is running wait and then go together in
the next transaction (group commit), so many concurrent appends cost one
fsync. Each append canonicalises its event on the caller's side and queues
it; one committer task at a time takes everything queued (up to
`MAX_BATCH` entries), commits it on the writer thread, answers each append
with its receipt once that transaction is on disk, and goes on while more
waits. `append_many` queues several events as one item with one future: the
same committer, the same order, the same durability, without an awaiting
task per event (which costs a caller more than the log does; see
bench/results/audit.md).
The log is one database of the shared SQLite layer (`camhub.store.db`):
commits run on its writer thread (`LogWriter`), proofs on its reader
thread. `run_checkpoints` is the task that signs a fresh checkpoint of an
idle log at least every `interval_s` of the injected clock.

When a commit fails (disk full, I/O error, read-only, locked), every append
of that batch raises `AuditUnavailable` (503) and the log remembers why in
`unwritable` (what /api/health shows), until a write succeeds again: the next
append, or the probe `run_checkpoints` makes every `poll_s` while it is
down. Nothing else stops: the hub keeps recording; only audited actions wait.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from camhub.audit.errors import AuditDamaged, AuditError, AuditUnavailable
from camhub.audit.events import AuditEvent
from camhub.audit.merkle import consistency_proof, inclusion_proof
from camhub.audit.note import Checkpoint, VerifierKey
from camhub.audit.store import DB_NAME, LogReader
from camhub.audit.writer import LogWriter, PreparedEntry, Receipt
from camhub.clock import Clock

logger = logging.getLogger(__name__)

T = TypeVar("T")
CheckpointListener = Callable[[Checkpoint], None]
AUDIT_FOLDER = "audit"  # the log's folder under the data folder
CHECKPOINT_INTERVAL_S = 600
# The most entries one transaction takes from the queue: a bound on its memory and on how
# long the writer thread holds the GIL; under any real load a batch is far smaller. One
# `append_many` is never split, so a larger one goes alone in its own transaction.
MAX_BATCH = 10_000
# What an append queues: its entries (one, or an append_many's) and the future their receipts settle.
Pending = tuple[list[PreparedEntry], "asyncio.Future[list[Receipt]]"]


class AuditLog:
    """An open audit log under `<data_dir>/audit/`. Create with `await AuditLog.open(...)`."""

    def __init__(self, folder: Path, clock: Clock, writer: LogWriter) -> None:
        self.folder = folder
        self.clock = clock
        self._writer = writer
        self._pending: list[Pending] = []
        self._committer: asyncio.Task[None] | None = None  # the task committing what is pending, if running
        self._commit_lock = asyncio.Lock()
        self._listeners: list[CheckpointListener] = []
        self._closed = False
        # Why the last write failed, while it keeps failing; None when the log is writable.
        self.unwritable: str | None = None

    @classmethod
    async def open(cls, data_dir: Path, hub_id: str | None = None, clock: Clock | None = None) -> AuditLog:
        """Open or create the log. A new log gets a key, `signing.key`, and entry 0 (log_created)."""
        clock = clock or time.time
        folder = Path(data_dir) / AUDIT_FOLDER
        writer = await asyncio.to_thread(LogWriter.open, folder, hub_id, int(clock()))
        return cls(folder, clock, writer)

    @property
    def origin(self) -> str:
        return self._writer.origin

    @property
    def size(self) -> int:
        """Entries durable so far."""
        return self._writer.latest.size

    @property
    def latest(self) -> Checkpoint:
        """The newest signed checkpoint."""
        return self._writer.latest

    @property
    def verifier_key(self) -> VerifierKey:
        return self._writer.key.verifier

    @property
    def writable(self) -> bool:
        """False from a failed write until one succeeds again."""
        return self.unwritable is None

    def _wrote(self, error: BaseException | None) -> None:
        """Track whether writes succeed; one log line when that changes, not one per refused action."""
        if isinstance(error, AuditUnavailable | AuditDamaged):
            reason = error.reason if isinstance(error, AuditUnavailable) else "its files are damaged"
            if self.unwritable is None:
                logger.error(
                    "audit log %s cannot be written: %s; audited actions are refused until it can (recording goes on)",
                    self.folder / DB_NAME,
                    reason,
                )
            self.unwritable = reason
        elif error is None and self.unwritable is not None:
            logger.warning("audit log %s is writable again; audited actions resume", self.folder / DB_NAME)
            self.unwritable = None

    def on_checkpoint(self, listener: CheckpointListener) -> None:
        """Call `listener` on the event loop with every new checkpoint (the hub puts it on the bus)."""
        self._listeners.append(listener)

    async def append(self, event: AuditEvent) -> Receipt:
        """Log `event`; returns once it is on disk, with its index, leaf hash and checkpoint.

        Entries take their indexes in the order `append` was called.
        """
        if self._closed:
            raise AuditError(f"{self.folder}: the audit log is closed; {event.name} was not logged")
        prepared = PreparedEntry.of(event)  # refuse here, not inside someone's batch
        (receipt,) = await self._queue([prepared])
        return receipt

    async def append_many(self, events: Sequence[AuditEvent]) -> list[Receipt]:
        """Log `events` as consecutive entries, in their order; returns once all are on disk.

        One transaction holds them all: either every event is logged or, on an
        error, none is. They take their indexes together, after the appends
        called before and before the ones called after, exactly as if appended
        one after another with nothing in between. An event the log cannot hold
        raises AuditError naming it before anything is queued.
        """
        if not events:
            return []
        if self._closed:
            names = ", ".join(sorted({event.name for event in events}))
            raise AuditError(f"{self.folder}: the audit log is closed; {names} were not logged")
        return await self._queue([PreparedEntry.of(event) for event in events])

    async def _queue(self, entries: list[PreparedEntry]) -> list[Receipt]:
        future: asyncio.Future[list[Receipt]] = asyncio.get_running_loop().create_future()
        self._pending.append((entries, future))
        if self._committer is None:
            self._committer = asyncio.create_task(self._commit_pending())
        return await future

    def _next_batch(self) -> list[Pending]:
        """Take queued appends, in order, up to MAX_BATCH entries (at least one append, whatever its size)."""
        count = taken = 0
        for entries, _ in self._pending:
            if taken and count + len(entries) > MAX_BATCH:
                break
            count += len(entries)
            taken += 1
        batch, self._pending = self._pending[:taken], self._pending[taken:]
        return batch

    async def _commit_pending(self) -> None:
        """Commit what is queued, batch after batch, until nothing is; one such task at a time."""
        try:
            async with self._commit_lock:
                while self._pending:
                    await self._run_batch(self._next_batch())
        finally:
            # No await since the loop saw the queue empty: an append now starts a new task.
            self._committer = None

    async def _run_batch(self, batch: list[Pending]) -> None:
        entries = [prepared for group, _ in batch for prepared in group]
        job = asyncio.ensure_future(self._writer.commit(entries, int(self.clock())))

        def settle(done: asyncio.Future[list[Receipt]]) -> None:
            # Runs even if the committer was cancelled: every append still gets its answer,
            # and a receipt only from a transaction that committed.
            if done.cancelled():
                error: BaseException = AuditError("audit commit cancelled")
            elif (exc := done.exception()) is not None:
                error = exc
                self._wrote(error)
            else:
                self._wrote(None)
                receipts, at = done.result(), 0
                for group, future in batch:
                    if not future.done():
                        future.set_result(receipts[at : at + len(group)])
                    at += len(group)
                self._announce(receipts[-1].checkpoint)
                return
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)

        job.add_done_callback(settle)
        try:
            await asyncio.shield(job)
        except Exception:
            pass  # the appends of the batch got the error

    async def checkpoint(self) -> Checkpoint:
        """Sign a fresh checkpoint of the current tree now (what the periodic task calls)."""
        async with self._commit_lock:
            self._check_open()
            try:
                checkpoint = await self._writer.sign_now(int(self.clock()))
            except AuditError as exc:
                self._wrote(exc)
                raise
            self._wrote(None)
        self._announce(checkpoint)
        return checkpoint

    def checkpoint_due(self, interval_s: float = CHECKPOINT_INTERVAL_S) -> bool:
        return self.clock() - self.latest.time >= interval_s

    async def entry(self, index: int) -> bytes:
        """The stored canonical JSON of entry `index`."""
        return await self._read(lambda reader: reader.entry(index))

    async def entries(self, start: int, end: int) -> list[tuple[int, bytes]]:
        """(index, canonical JSON) of entries [start, end) that are stored, in index order."""
        return await self._read(lambda reader: reader.entries(start, end))

    async def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        size = self.size if size is None else size
        self._check_size(size)
        if not 0 <= index < size:
            raise AuditError(f"entry {index} is not in the log of size {size}")
        return await self._read(lambda reader: inclusion_proof(index, size, reader.range_hash))

    async def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        new_size = self.size if new_size is None else new_size
        self._check_size(new_size)
        if not 0 <= old_size <= new_size:
            raise AuditError(f"no consistency proof from size {old_size} to size {new_size}")
        return await self._read(lambda reader: consistency_proof(old_size, new_size, reader.range_hash))

    def _check_size(self, size: int) -> None:
        if not 0 < size <= self.size:
            raise AuditError(f"tree size {size} is not between 1 and the log's size {self.size}")

    def _announce(self, checkpoint: Checkpoint) -> None:
        for listener in self._listeners:
            listener(checkpoint)

    def _check_open(self) -> None:
        if self._closed:
            raise AuditError(f"{self.folder}: the audit log is closed")

    async def _read(self, read: Callable[[LogReader], T]) -> T:
        """Run `read` on the log database's reader thread."""
        self._check_open()
        path = self.folder / DB_NAME
        return await self._writer.db.read(lambda db: read(LogReader(path, db.conn)))

    async def close(self) -> None:
        """Finish queued appends, then close the database (its connections and threads)."""
        if self._closed:
            return
        async with self._commit_lock:
            while self._pending:
                await self._run_batch(self._next_batch())
            self._closed = True
        await asyncio.to_thread(self._writer.close)


async def run_checkpoints(
    log: AuditLog, stop: asyncio.Event, interval_s: float = CHECKPOINT_INTERVAL_S, poll_s: float = 5.0
) -> None:
    """Sign a checkpoint whenever `interval_s` of the log's clock passed since the last one.

    Time is the log's injected clock; `poll_s` is only how often (real seconds)
    it looks, so tests move a fake clock and poll quickly instead of sleeping.
    Run it in the hub's TaskGroup; it returns when `stop` is set. While the
    log cannot be written it tries a checkpoint at each poll, so the log (and
    /api/health) recovers on its own once the disk has room again; a failure
    never ends the task, which would stop the hub and its recording.
    """
    while not stop.is_set():
        if log.checkpoint_due(interval_s) or not log.writable:
            try:
                await log.checkpoint()
            except AuditError:
                pass  # logged once by the log and shown by /api/health; tried again next poll
        try:
            await asyncio.wait_for(stop.wait(), poll_s)
        except TimeoutError:
            pass
