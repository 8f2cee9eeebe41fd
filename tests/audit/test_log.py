"""AuditLog: durable write-ahead appends, group commit, keys, checkpoints, reopening."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import stat
from pathlib import Path

import pytest

from camhub.audit import (
    EVENT_TYPES,
    AuditError,
    AuditLog,
    Checkpoint,
    ExportBuilt,
    HubStopped,
    SettingChanged,
    event_from_entry,
    run_checkpoints,
)
from camhub.audit.canonical import decode_entry
from camhub.audit.merkle import verify_inclusion
from camhub.audit.note import verify_checkpoint
from camhub.audit.verify import verify_log

from ..conftest import FakeClock, MakeLog, sample_event


async def test_first_start_creates_a_private_key_outside_the_database_and_entry_0(
    tmp_path: Path, clock: FakeClock
) -> None:
    log = await AuditLog.open(tmp_path, hub_id="home", clock=clock)
    try:
        key_file = tmp_path / "audit" / "signing.key"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert key_file.read_text().startswith("PRIVATE+KEY+camhub/home+")
        assert log.origin == "camhub/home" and log.size == 1
        entry = decode_entry(await log.entry(0), 0)
        assert entry["event"] == "log_created" and entry["fields"]["key"] == str(log.verifier_key)
        assert log.latest.note.startswith("camhub/home\n1\n")
    finally:
        await log.close()
    db = sqlite3.connect(tmp_path / "audit" / "log.db")
    assert "PRIVATE" not in repr(db.execute("SELECT * FROM state").fetchall())


async def test_append_is_durable_when_it_returns_and_survives_reopening(tmp_path: Path, clock: FakeClock) -> None:
    log = await AuditLog.open(tmp_path, hub_id="home", clock=clock)
    event = ExportBuilt(
        time=clock(),
        actor="owner",
        export_id="x1",
        basis="request:r1",
        recipient="officer",
        cameras=("yard",),
        start_s=1_700_000_000,
        end_s=1_700_000_600,
        clip_sha256=("aa" * 32,),
        clip_ids=(7,),
        bytes=1000,
        manifest_sha256="bb" * 32,
    )
    receipt = await log.append(event)
    # Read it back through a separate connection before anything else happens.
    row = (
        sqlite3.connect(tmp_path / "audit" / "log.db")
        .execute("SELECT entry FROM entries WHERE idx = ?", (receipt.index,))
        .fetchone()
    )
    assert event_from_entry(decode_entry(row[0], receipt.index)) == event
    proof = await log.inclusion_proof(receipt.index, receipt.checkpoint.size)
    verify_inclusion(receipt.index, receipt.checkpoint.size, receipt.leaf_hash, proof, receipt.checkpoint.root)
    verify_checkpoint(receipt.checkpoint.note, log.verifier_key)
    await log.close()
    again = await AuditLog.open(tmp_path, clock=clock)
    assert again.size == 2 and again.latest.root == receipt.checkpoint.root
    await again.close()


async def test_concurrent_appends_share_commits(tmp_path: Path, clock: FakeClock) -> None:
    log = await AuditLog.open(tmp_path, hub_id="home", clock=clock)
    receipts = await asyncio.gather(*(log.append(sample_event(i, clock())) for i in range(500)))
    assert sorted(r.index for r in receipts) == list(range(1, 501))
    batches = {r.checkpoint.size for r in receipts}
    assert len(batches) <= 3, "500 concurrent appends should need a couple of commits, not 500"
    await log.close()
    assert verify_log(tmp_path, deep=True).size == 501


async def test_floats_and_unknown_values_are_refused_without_harming_others(tmp_path: Path, clock: FakeClock) -> None:
    log = await AuditLog.open(tmp_path, hub_id="home", clock=clock)
    good = log.append(HubStopped(time=clock(), actor="hub"))
    with pytest.raises(AuditError, match=r"event setting_changed\.new: 0\.5 is a float"):
        await log.append(SettingChanged(time=clock(), actor="owner", key="motion.threshold", old=1, new=0.5))
    assert (await good).index == 1
    await log.close()


async def test_checkpoints_are_signed_at_least_every_ten_minutes_of_the_clock(tmp_path: Path, clock: FakeClock) -> None:
    log = await AuditLog.open(tmp_path, hub_id="home", clock=clock)
    published: list[Checkpoint] = []
    log.on_checkpoint(published.append)
    stop = asyncio.Event()
    task = asyncio.create_task(run_checkpoints(log, stop, poll_s=0.01))
    await asyncio.sleep(0.05)
    assert published == []  # the genesis checkpoint is fresh
    clock.advance(601)
    for _ in range(200):
        if published:
            break
        await asyncio.sleep(0.01)
    assert len(published) == 1 and published[0].time == int(clock()) and published[0].size == 1
    stop.set()
    await task
    await log.close()


async def test_every_listed_event_type_round_trips() -> None:
    assert {
        "hub_started",
        "hub_stopped",
        "setting_changed",
        "owner_logged_in",
        "owner_login_failed",
        "consent_requested",
        "consent_decided",
        "consent_expired",
        "override_invoked",
        "export_built",
        "share_link_downloaded",
        "held_clip_deleted",
        "key_rotated",
    } <= set(EVENT_TYPES)
    event = sample_event(0, 1_700_000_000.5)
    entry = {
        "actor": event.actor,
        "event": event.name,
        "fields": event.fields(),
        "index": 3,
        "time_ms": 1_700_000_000_500,
    }
    assert event_from_entry(json.loads(json.dumps(entry))) == event


async def test_a_swapped_key_file_stops_the_hub_from_signing(
    tmp_path: Path, make_log: MakeLog, clock: FakeClock
) -> None:
    other = tmp_path / "other"
    log = await AuditLog.open(other, hub_id="home", clock=clock)
    await log.close()
    data = await make_log(3)
    (data / "audit" / "signing.key").write_text((other / "audit" / "signing.key").read_text())
    with pytest.raises(AuditError, match="key file was swapped"):
        await AuditLog.open(data, clock=clock)


async def test_a_truncated_log_is_not_extended(make_log: MakeLog, clock: FakeClock) -> None:
    data = await make_log(5)
    db = sqlite3.connect(data / "audit" / "log.db")
    db.execute("DELETE FROM entries WHERE idx >= 4")
    db.commit()
    with pytest.raises(AuditError, match="state says 6 entries but 4 are stored"):
        await AuditLog.open(data, clock=clock)


async def test_a_deleted_database_with_the_old_key_is_refused(make_log: MakeLog, clock: FakeClock) -> None:
    data = await make_log(2)
    for f in (data / "audit").glob("log.db*"):
        f.unlink()
    with pytest.raises(AuditError, match="refusing to start a second log under an old key"):
        await AuditLog.open(data, clock=clock)


async def test_wrong_hub_id_is_refused(make_log: MakeLog, clock: FakeClock) -> None:
    data = await make_log(1)
    with pytest.raises(AuditError, match="belongs to camhub/home, not camhub/garage"):
        await AuditLog.open(data, hub_id="garage", clock=clock)
