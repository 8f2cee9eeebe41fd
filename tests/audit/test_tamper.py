"""Every tampering the issue lists is detected and named, by verify or the witness."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from camhub.audit import AuditLog, VerificationFailed, VerifierKey
from camhub.audit.canonical import encode_entry
from camhub.audit.events import KeyRotated
from camhub.audit.merkle import CompactRange, leaf_hash
from camhub.audit.note import SigningKey, load_signing_key, sign_checkpoint, write_private
from camhub.audit.verify import verify_log
from camhub.audit.witness import DataDirSource, load_state, save_state, witness
from camhub.cli.main import main

from ..conftest import FakeClock, MakeLog, sample_event


def db(data: Path) -> sqlite3.Connection:
    return sqlite3.connect(data / "audit" / "log.db", isolation_level=None)


def failure(data: Path, pinned: VerifierKey | None = None) -> VerificationFailed:
    with pytest.raises(VerificationFailed) as info:
        verify_log(data, pinned)
    return info.value


def flip_byte(data: Path, index: int, at: int, rehash: bool = False) -> None:
    conn = db(data)
    entry = bytearray(conn.execute("SELECT entry FROM entries WHERE idx = ?", (index,)).fetchone()[0])
    entry[at] ^= 0x01
    conn.execute("UPDATE entries SET entry = ? WHERE idx = ?", (bytes(entry), index))
    if rehash:
        conn.execute("UPDATE entries SET leaf_hash = ? WHERE idx = ?", (leaf_hash(bytes(entry)), index))


async def test_an_untouched_log_verifies_and_cli_says_ok(make_log: MakeLog, capsys: pytest.CaptureFixture[str]) -> None:
    data = await make_log(20, batch=4)
    assert main(["audit", "verify", "--data", str(data)]) == 0
    assert "ok: camhub/home: 21 entries" in capsys.readouterr().out


async def test_one_byte_changed_is_named(make_log: MakeLog, capsys: pytest.CaptureFixture[str]) -> None:
    data = await make_log(10)
    flip_byte(data, 7, 30)
    assert failure(data).entry == 7
    assert main(["audit", "verify", "--data", str(data)]) == 1
    assert "entry 7: its bytes do not hash to its stored leaf hash" in capsys.readouterr().err


async def test_one_byte_changed_with_its_leaf_hash_recomputed_is_caught_by_the_checkpoint(make_log: MakeLog) -> None:
    data = await make_log(10)  # one entry per batch, so each checkpoint pins one entry
    flip_byte(data, 7, 30, rehash=True)
    err = failure(data)
    assert err.entry == 7 and "entries 7..7" in str(err)


async def test_an_entry_deleted_is_named(make_log: MakeLog) -> None:
    data = await make_log(10)
    db(data).execute("DELETE FROM entries WHERE idx = 4")
    err = failure(data)
    assert err.entry == 4 and "entry 4 is missing" in str(err)


async def test_an_entry_deleted_and_the_rest_renumbered_is_named(make_log: MakeLog) -> None:
    data = await make_log(10)
    conn = db(data)
    conn.execute("DELETE FROM entries WHERE idx = 4")
    conn.execute("UPDATE entries SET idx = idx - 1 WHERE idx > 4")
    err = failure(data)
    assert err.entry == 4 and "holds the entry written as index 5" in str(err)


async def test_two_entries_swapped_are_named(make_log: MakeLog) -> None:
    data = await make_log(10)
    conn = db(data)
    conn.execute("UPDATE entries SET idx = -1 WHERE idx = 3")
    conn.execute("UPDATE entries SET idx = 3 WHERE idx = 6")
    conn.execute("UPDATE entries SET idx = 6 WHERE idx = -1")
    err = failure(data)
    assert err.entry == 3 and "holds the entry written as index 6" in str(err)


def rotate_by_hand(data: Path, now: int, old_key_signs: bool = True) -> tuple[VerifierKey, VerifierKey]:
    """Append a `key_rotated` entry as the log format defines one; no hub command writes it (yet).

    Its checkpoint is signed by the new key and, unless told otherwise, the old one. Returns (old, new).
    """
    folder = data / "audit"
    conn = db(data)
    origin, size, compact = conn.execute("SELECT origin, size, compact FROM state").fetchone()
    old, new = load_signing_key(folder / "signing.key"), SigningKey.generate(origin)
    event = KeyRotated(time=now, actor="owner", old_key=str(old.verifier), new_key=str(new.verifier), reason="yearly")
    entry = encode_entry(size, now * 1000, event.actor, event.name, event.fields())
    tree = CompactRange.from_bytes(size, compact)
    assert all(level < 8 for level, _, _ in tree.append(leaf_hash(entry)))  # no stored subtree to add
    checkpoint = sign_checkpoint(origin, tree.size, tree.root(), now, [old, new] if old_key_signs else [new])
    conn.execute("INSERT INTO entries (idx, entry, leaf_hash) VALUES (?, ?, ?)", (size, entry, leaf_hash(entry)))
    conn.execute("INSERT INTO checkpoints (size, time_s, note) VALUES (?, ?, ?)", (tree.size, now, checkpoint.note))
    conn.execute("UPDATE state SET size = ?, compact = ?, vkey = ?", (tree.size, tree.to_bytes(), str(new.verifier)))
    (folder / "signing.key").unlink()
    write_private(folder / "signing.key", new.to_text())
    return old.verifier, new.verifier


async def test_a_key_rotation_verifies_against_either_key_and_the_hub_extends_the_log(
    make_log: MakeLog, clock: FakeClock
) -> None:
    data = await make_log(3)
    old, new = rotate_by_hand(data, int(clock()))
    assert verify_log(data).key == str(new)
    assert verify_log(data, pinned=old).size == 5  # the old key vouches for the new one
    log = await AuditLog.open(data, clock=clock)
    try:
        assert log.verifier_key == new
        await log.append(sample_event(9, clock()))
    finally:
        await log.close()
    assert verify_log(data, pinned=old, deep=True).size == 6


async def test_a_key_rotation_the_old_key_did_not_sign_is_named(make_log: MakeLog, clock: FakeClock) -> None:
    data = await make_log(3)
    rotate_by_hand(data, int(clock()), old_key_signs=False)
    assert "checkpoint #5 (size 5), the key rotation's old key" in str(failure(data))


async def test_a_truncated_log_is_named(make_log: MakeLog) -> None:
    data = await make_log(10)
    db(data).execute("DELETE FROM entries WHERE idx >= 8")
    err = failure(data)
    assert err.entry == 8 and "truncated" in str(err)


async def test_a_truncated_log_with_its_checkpoints_is_caught_by_the_witness(make_log: MakeLog, tmp_path: Path) -> None:
    data = await make_log(10)
    state_file = tmp_path / "witness.json"
    save_state(state_file, witness(None, DataDirSource(data))[0])
    conn = db(data)
    conn.execute("DELETE FROM entries WHERE idx >= 8")
    conn.execute("DELETE FROM checkpoints WHERE size > 8")
    with pytest.raises(
        VerificationFailed, match="rollback: the log shows size 8, but this witness already saw size 11"
    ):
        witness(load_state(state_file), DataDirSource(data))


async def test_a_swapped_key_file_is_named(make_log: MakeLog, tmp_path: Path, clock: FakeClock) -> None:
    data = await make_log(3)
    other = await AuditLog.open(tmp_path / "other", hub_id="home", clock=clock)
    await other.close()
    (data / "audit" / "signing.key").write_text((tmp_path / "other" / "audit" / "signing.key").read_text())
    assert "the key file was swapped" in str(failure(data))


async def test_a_log_rewritten_under_a_new_key_is_caught_by_a_pinned_key_and_the_witness(
    make_log: MakeLog, tmp_path: Path, clock: FakeClock
) -> None:
    real = await make_log(5, data=tmp_path / "real")
    state_file = tmp_path / "witness.json"
    first, _ = witness(None, DataDirSource(real))
    save_state(state_file, first)
    # The attacker builds a whole new log with the same origin and a key of their own.
    forged = await make_log(7, data=tmp_path / "forged")
    assert verify_log(forged).size == 8  # consistent with itself: only an outside anchor can tell
    err = failure(forged, pinned=VerifierKey.parse(first.key))
    assert err.entry == 0 and "key swapped" in str(err)
    with pytest.raises(VerificationFailed, match="not signed by key camhub/home"):
        witness(load_state(state_file), DataDirSource(forged))


async def test_a_checkpoint_for_a_different_tree_is_named(make_log: MakeLog, tmp_path: Path) -> None:
    real = await make_log(6, batch=6, data=tmp_path / "real")
    fork = tmp_path / "fork"
    import shutil

    shutil.copytree(real, fork)
    state_file = tmp_path / "witness.json"
    save_state(state_file, witness(None, DataDirSource(real))[0])
    # Put the fork's checkpoint (a different tree, same key) into the real log's table.
    note = db(real).execute("SELECT note FROM checkpoints ORDER BY id DESC LIMIT 1").fetchone()[0]
    fork_log = await AuditLog.open(fork)
    for i in range(3):
        await fork_log.append(sample_event(100 + i, 1_800_000_000.0))
    fork_note = fork_log.latest.note
    await fork_log.close()
    db(real).execute("INSERT INTO checkpoints (size, time_s, note) VALUES (?, 0, ?)", (fork_log.size, fork_note))
    assert "commits to 10 entries but only 7 are stored" in str(failure(real))
    # A witness that saw the real tree refuses the fork's checkpoint, naming the proof failure.
    conn = db(real)
    conn.execute("DELETE FROM checkpoints WHERE note = ?", (fork_note,))
    state = load_state(state_file)
    assert state is not None and state.note == note
    assert witness(state, DataDirSource(real))[1].startswith("unchanged")
    rewritten = tmp_path / "rewritten"
    shutil.copytree(fork, rewritten)
    flip_byte(rewritten, 3, 30, rehash=True)  # history rewritten, then re-signed on top
    db(rewritten).execute("DELETE FROM checkpoints")
    db(rewritten).execute("INSERT INTO checkpoints (size, time_s, note) VALUES (10, 0, ?)", (fork_note,))
    with pytest.raises(VerificationFailed, match="fork or rewrite"):
        witness(state, DataDirSource(rewritten))


async def test_a_rollback_to_an_earlier_state_is_caught_by_the_witness(
    make_log: MakeLog, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    data = await make_log(4)
    backup = tmp_path / "backup"
    shutil.copytree(data, backup)
    await make_log(4, data=data)  # the log grows
    state = str(tmp_path / "witness.json")
    assert main(["audit", "witness", "--data", str(data), "--state", state]) == 0
    shutil.rmtree(data)
    shutil.copytree(backup, data)  # the box is restored to the earlier state
    assert verify_log(data).size == 5  # an earlier log is valid on its own
    assert main(["audit", "witness", "--data", str(data), "--state", state]) == 1
    assert "rollback: the log shows size 5, but this witness already saw size 9" in capsys.readouterr().err


async def test_witness_state_is_replaced_atomically(make_log: MakeLog, tmp_path: Path) -> None:
    data = await make_log(2)
    state = tmp_path / "witness.json"
    assert main(["audit", "witness", "--data", str(data), "--state", str(state)]) == 0
    assert not (tmp_path / "witness.json.tmp").exists()
    assert load_state(state) is not None


async def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "verify", "--data", str(tmp_path / "nothing")]) == 2
    assert "no audit log here" in capsys.readouterr().err


TAMPERINGS = ["flip", "flip_rehash", "delete", "swap", "truncate"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(2, 40), batch=st.integers(1, 8), kind=st.sampled_from(TAMPERINGS), data=st.data())
async def test_random_tampering_of_random_logs_is_named(
    tmp_path_factory: pytest.TempPathFactory, n: int, batch: int, kind: str, data: st.DataObject
) -> None:
    folder = tmp_path_factory.mktemp("log")
    log = await AuditLog.open(folder, hub_id="home", clock=FakeClock(1_700_000_000.0))

    for start in range(0, n, batch):
        await asyncio.gather(
            *(log.append(sample_event(i, 1_700_000_000.0)) for i in range(start, min(n, start + batch)))
        )
    await log.close()
    assert verify_log(folder).size == n + 1
    size = n + 1
    target = data.draw(st.integers(1, size - 2))
    conn = db(folder)
    if kind.startswith("flip"):
        entry = conn.execute("SELECT entry FROM entries WHERE idx = ?", (target,)).fetchone()[0]
        flip_byte(folder, target, data.draw(st.integers(0, len(entry) - 1)), rehash=kind == "flip_rehash")
        expected = target
    elif kind == "delete":
        conn.execute("DELETE FROM entries WHERE idx = ?", (target,))
        expected = target
    elif kind == "swap":
        other = data.draw(st.integers(target + 1, size - 1))
        conn.execute("UPDATE entries SET idx = -1 WHERE idx = ?", (target,))
        conn.execute("UPDATE entries SET idx = ? WHERE idx = ?", (target, other))
        conn.execute("UPDATE entries SET idx = ? WHERE idx = -1", (other,))
        expected = target
    else:
        conn.execute("DELETE FROM entries WHERE idx >= ?", (target,))
        expected = target
    err = failure(folder)
    # A flipped byte that keeps the JSON valid and the hash rewritten can only be
    # placed within its signed batch; everything else names the entry exactly.
    assert err.entry is not None and err.entry <= expected
    if kind != "flip_rehash":
        assert err.entry == expected, str(err)
