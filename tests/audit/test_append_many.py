"""`AuditLog.append_many`: several events, one future, the same log.

- its events take consecutive indexes in call order among single appends;
- one transaction holds them all, even past MAX_BATCH (never split);
- a refused event refuses the whole call before anything is queued;
- a failed commit fails every event of it and logs none;
- acknowledged batches survive the writer being killed (SIGKILL).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import camhub.audit.log as log_module
from camhub.audit import AuditError, AuditLog, AuditUnavailable, HubStarted, SettingChanged
from camhub.audit.canonical import decode_entry
from camhub.audit.merkle import verify_inclusion
from camhub.audit.verify import verify_log

from ..conftest import FakeClock, sample_event


def versions(start: int, n: int, now: float) -> list[HubStarted]:
    return [HubStarted(time=now, actor="hub", version=f"v{i}") for i in range(start, start + n)]


async def test_a_batch_takes_consecutive_indexes_in_call_order_among_single_appends(
    tmp_path: Path, clock: FakeClock
) -> None:
    log = await AuditLog.open(tmp_path, hub_id="home", clock=clock)
    calls = [
        log.append(sample_event(1, clock())),
        log.append_many(versions(100, 5, clock())),
        log.append(sample_event(3, clock())),
        log.append_many(versions(200, 3, clock())),
        log.append_many([]),
    ]
    single_a, batch_b, single_c, batch_d, empty = await asyncio.gather(*calls)
    assert single_a.index == 1
    assert [r.index for r in batch_b] == [2, 3, 4, 5, 6]
    assert single_c.index == 7
    assert [r.index for r in batch_d] == [8, 9, 10]
    assert empty == []
    stored = dict(await log.entries(0, log.size))
    for n, receipt in enumerate(batch_b):
        assert json.loads(stored[receipt.index])["fields"]["version"] == f"v{100 + n}"
        proof = await log.inclusion_proof(receipt.index, receipt.checkpoint.size)
        verify_inclusion(receipt.index, receipt.checkpoint.size, receipt.leaf_hash, proof, receipt.checkpoint.root)
    await log.close()
    assert verify_log(tmp_path, deep=True).size == 11


async def test_a_batch_larger_than_max_batch_is_one_transaction(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(log_module, "MAX_BATCH", 4)
    log = await AuditLog.open(tmp_path, hub_id="home", clock=clock)
    singles = [log.append(sample_event(i, clock())) for i in range(6)]
    batch = log.append_many(versions(0, 9, clock()))
    *receipts, batched = await asyncio.gather(*singles, batch)
    # The queue drains four entries at a time; the batch of nine goes whole, alone.
    assert [r.checkpoint.size for r in receipts] == [5, 5, 5, 5, 7, 7]
    assert {r.checkpoint.size for r in batched} == {16}
    assert [r.index for r in batched] == list(range(7, 16))
    await log.close()
    conn = sqlite3.connect(tmp_path / "audit" / "log.db")
    sizes = [size for (size,) in conn.execute("SELECT size FROM checkpoints ORDER BY id")]
    conn.close()
    assert sizes == [1, 5, 7, 16]
    assert verify_log(tmp_path).size == 16


async def test_a_refused_event_refuses_the_whole_batch_before_anything_is_queued(
    tmp_path: Path, clock: FakeClock
) -> None:
    log = await AuditLog.open(tmp_path, hub_id="home", clock=clock)
    good = [SettingChanged(time=clock(), actor="owner", key="motion.threshold", old=1, new=2)]
    bad = SettingChanged(time=clock(), actor="owner", key="motion.threshold", old=1, new=0.5)
    with pytest.raises(AuditError, match=r"event setting_changed\.new: 0\.5 is a float"):
        await log.append_many([*good, bad, *good])
    assert log.size == 1
    assert [r.index for r in await log.append_many(good * 2)] == [1, 2]
    await log.close()
    with pytest.raises(AuditError, match="the audit log is closed; setting_changed were not logged"):
        await log.append_many(good)


async def test_a_batch_whose_commit_fails_logs_none_of_it(tmp_path: Path, clock: FakeClock) -> None:
    """Another process holds log.db's write lock past the busy timeout: a real 'locked', not a patched commit."""
    log = await AuditLog.open(tmp_path, hub_id="home", clock=clock)
    before = log.size
    other = sqlite3.connect(tmp_path / "audit" / "log.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        results = await asyncio.gather(
            log.append_many(versions(0, 50, clock())), log.append(sample_event(1, clock())), return_exceptions=True
        )
        assert all(isinstance(r, AuditUnavailable) for r in results), results
        assert log.size == before and not log.writable
    finally:
        other.execute("ROLLBACK")
        other.close()
    receipts = await log.append_many(versions(50, 3, clock()))
    assert [r.index for r in receipts] == [before, before + 1, before + 2] and log.writable
    await log.close()
    assert verify_log(tmp_path).size == before + 3


BATCHING_WRITER = """
import asyncio, sys
from pathlib import Path
from camhub.audit import AuditLog, HubStarted

async def main(data):
    log = await AuditLog.open(Path(data), hub_id="home")
    async def caller(c):
        for b in range(1000):
            events = [HubStarted(time=1_700_000_000, actor="hub", version=f"v{c}-{b}-{i}") for i in range(100)]
            receipts = await log.append_many(events)
            # Acknowledged: say so at once, unbuffered, before anything else can run.
            sys.stdout.write("".join(f"{r.index} {r.leaf_hash.hex()} {e.version}\\n" for r, e in zip(receipts, events)))
            sys.stdout.flush()
    await asyncio.gather(*(caller(c) for c in range(8)))

asyncio.run(main(sys.argv[1]))
"""


def test_every_acknowledged_batch_survives_the_writer_being_killed(tmp_path: Path) -> None:
    script = tmp_path / "writer.py"
    script.write_text(BATCHING_WRITER)
    acknowledged = []
    with subprocess.Popen([sys.executable, str(script), str(tmp_path)], stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            acknowledged.append(line.split())
            if len(acknowledged) >= 5000:  # several group commits in, more queued and in flight
                break
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    report = verify_log(tmp_path)
    conn = sqlite3.connect(tmp_path / "audit" / "log.db")
    stored = {idx: (entry, leaf) for idx, entry, leaf in conn.execute("SELECT idx, entry, leaf_hash FROM entries")}
    conn.close()
    for index, leaf_hex, version in acknowledged:
        entry, leaf = stored[int(index)]
        assert leaf.hex() == leaf_hex and decode_entry(entry, int(index))["fields"]["version"] == version
    assert report.size >= len(acknowledged) + 1
