"""The audit log under load (issue 15): the fast paths give what the plain ones gave.

- canonical JSON through the stdlib encoder is byte for byte RFC 8785 (the `rfc8785` package);
- the tree hashed a chunk at a time equals the tree appended leaf by leaf;
- verifying a chunk at a time names the same first bad entry as entry by entry;
- concurrent appends take indexes in call order, each entry holding its own event;
- an append acknowledged is on disk: a writer killed (SIGKILL) right after its
  acknowledgements loses none of them.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

import camhub.audit.verify as verify_module
import camhub.audit.verify_chunks as chunks_module
from camhub.audit import AuditError, AuditLog, SettingChanged, VerificationFailed
from camhub.audit.canonical import MAX_SAFE_INT, canonical, decode_entry, encode_entry
from camhub.audit.merkle import CompactRange
from camhub.audit.verify import verify_log

from ..conftest import FakeClock, MakeLog, sample_event

# JSON values the log may hold: any text (BMP and beyond, controls, quotes), safe integers.
keys = st.one_of(st.text(max_size=8), st.sampled_from(["a", "b", "é", "\U0001f600", "\ue000", "A", "_"]))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-MAX_SAFE_INT, MAX_SAFE_INT),
    st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=12),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(values)
def test_canonical_bytes_are_rfc8785s(value: Any) -> None:
    assert canonical(value) == rfc8785.dumps(value)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(keys, values, max_size=5), st.integers(0, 10**9), st.text(max_size=6))
def test_an_entry_is_rfc8785s_bytes_of_its_layout(fields: dict[str, Any], index: int, actor: str) -> None:
    data = encode_entry(index, 1_700_000_000_123, actor, "setting_changed", fields)
    layout = {
        "actor": actor,
        "event": "setting_changed",
        "fields": fields,
        "index": index,
        "time_ms": 1_700_000_000_123,
    }
    assert data == rfc8785.dumps(layout)
    assert decode_entry(data, index) == json.loads(data)


def test_keys_outside_the_bmp_sort_by_utf16_as_rfc8785_says() -> None:
    # By code point U+E000 sorts before U+1F600; by UTF-16 code unit (0xD83D...) after it.
    value = {"\ue000": 1, "\U0001f600": 2}
    assert canonical(value) == rfc8785.dumps(value) == '{"\U0001f600":2,"\ue000":1}'.encode()


def test_what_the_log_refuses_is_still_named() -> None:
    with pytest.raises(AuditError, match=r"event x\.v: 0\.5 is a float"):
        encode_entry(1, 0, "owner", "x", {"v": 0.5})
    with pytest.raises(AuditError, match=r"event x\.v\[1\]: integer .* too large"):
        encode_entry(1, 0, "owner", "x", {"v": [1, 2**60]})
    with pytest.raises(AuditError, match="lone surrogate"):
        encode_entry(1, 0, "owner", "x", {"v": "\ud800"})
    with pytest.raises(AuditError, match="lone surrogate"):
        encode_entry(1, 0, "\udfff", "x", {})


def test_a_float_that_is_canonical_still_decodes_as_before() -> None:
    # Entries are read as RFC 8785 says, floats included; only writing refuses them.
    data = b'{"actor":"a","event":"e","fields":{"v":0.5},"index":3,"time_ms":1}'
    assert decode_entry(data, 3)["fields"]["v"] == 0.5


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 300), min_size=1, max_size=6))
def test_a_tree_hashed_a_chunk_at_a_time_equals_leaf_by_leaf(chunks: list[int]) -> None:
    one, many = CompactRange(), CompactRange()
    counter = 0
    for n in chunks:
        leaves = [counter.to_bytes(32, "big") for counter in range(counter, counter + n)]
        counter += n
        for leaf in leaves:
            one.append(leaf)
        many.add_leaves(leaves)
        assert (many.size, many.hashes, many.root()) == (one.size, one.hashes, one.root())


def _failure(data: Path, processes: int = 1) -> tuple[str, int | None]:
    with pytest.raises(VerificationFailed) as info:
        verify_log(data, processes=processes)
    return str(info.value), info.value.entry


Tamper = Callable[[sqlite3.Connection], None]


def _flip(conn: sqlite3.Connection, index: int) -> None:
    entry = bytearray(conn.execute("SELECT entry FROM entries WHERE idx = ?", (index,)).fetchone()[0])
    entry[30] ^= 1
    conn.execute("UPDATE entries SET entry = ? WHERE idx = ?", (bytes(entry), index))


TAMPERING: dict[str, Tamper] = {
    "byte changed": lambda conn: _flip(conn, 13),
    "entry deleted": lambda conn: conn.execute("DELETE FROM entries WHERE idx = 22"),
    "two swapped": lambda conn: conn.executescript(
        "UPDATE entries SET idx = -1 WHERE idx = 9; UPDATE entries SET idx = 9 WHERE idx = 10;"
        "UPDATE entries SET idx = 10 WHERE idx = -1;"
    ),
    "leaf hash changed": lambda conn: conn.execute("UPDATE entries SET leaf_hash = zeroblob(32) WHERE idx = 30"),
    "tail cut": lambda conn: conn.execute("DELETE FROM entries WHERE idx >= 35"),
    "checkpoint rewritten": lambda conn: conn.execute(
        "UPDATE checkpoints SET note = replace(note, char(10) || '21' || char(10), char(10) || '22' || char(10))"
        " WHERE size = 21"
    ),
}


@pytest.mark.parametrize("processes", [1, 2])
@pytest.mark.parametrize("kind", TAMPERING)
async def test_verifying_a_chunk_at_a_time_names_the_same_first_bad_entry(
    kind: str, processes: int, make_log: MakeLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = await make_log(40, batch=5)  # checkpoints at sizes 1, 6, 11, ..., 41
    monkeypatch.setattr(verify_module, "CHUNK", 4)
    monkeypatch.setattr(verify_module, "WORKER_FROM", 0)  # processes=2: entries 20 on are checked by the worker
    assert verify_log(data, processes=processes).size == 41  # untouched, chunk by chunk
    conn = sqlite3.connect(data / "audit" / "log.db", isolation_level=None)
    TAMPERING[kind](conn)
    conn.close()
    chunked = _failure(data, processes)
    monkeypatch.setattr(verify_module._Pass, "chunk_at_once", lambda self, checked: False)
    assert chunked == _failure(data)  # the entry-by-entry way: what verify always said


@pytest.mark.parametrize(
    "broken",
    [
        pytest.param({"executable": "/nonexistent/python"}, id="cannot start"),
        pytest.param({"script": "import sys; sys.stdout.write('not marshal')"}, id="answers nonsense"),
        pytest.param({"script": "import marshal, sys; sys.stdout.buffer.write(marshal.dumps([None]))"}, id="doubts"),
        pytest.param({"script": "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"}, id="killed"),
    ],
)
async def test_a_worker_that_fails_changes_nothing(
    broken: dict[str, str], make_log: MakeLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever the second process does, the caller checks what it did not vouch for itself."""
    data = await make_log(40, batch=5)
    monkeypatch.setattr(verify_module, "CHUNK", 4)
    monkeypatch.setattr(verify_module, "WORKER_FROM", 0)
    if "executable" in broken:
        monkeypatch.setattr(chunks_module.sys, "executable", broken["executable"])
    else:
        monkeypatch.setattr(chunks_module, "_RUN_THIS_FILE", broken["script"])
    assert verify_log(data, processes=2).size == 41
    _flip(sqlite3.connect(data / "audit" / "log.db", isolation_level=None), 30)
    assert _failure(data, processes=2) == (
        "entry 30: its bytes do not hash to its stored leaf hash (changed after it was written)",
        30,
    )


async def test_concurrent_appends_take_indexes_in_call_order(tmp_path: Path, clock: FakeClock) -> None:
    log = await AuditLog.open(tmp_path, hub_id="home", clock=clock)
    events = [
        SettingChanged(time=clock() + i, actor=f"owner-{i}", key=f"cameras.c{i}.detect", old=i, new=i + 1)
        for i in range(3000)
    ]
    receipts = await asyncio.gather(*(log.append(event) for event in events))
    assert [r.index for r in receipts] == list(range(1, 3001))
    stored = dict(await log.entries(1, 3001))
    for event, receipt in zip(events, receipts, strict=True):
        entry = decode_entry(stored[receipt.index], receipt.index)
        assert (entry["actor"], entry["fields"]["key"]) == (event.actor, event.key)
    # Group commit: far fewer checkpoints (transactions) than appends.
    assert len({r.checkpoint.size for r in receipts}) < 10
    await log.close()
    assert verify_log(tmp_path).size == 3001


CRASHING_WRITER = """
import asyncio, sys
from pathlib import Path
from camhub.audit import AuditLog, HubStarted

async def main(data):
    log = await AuditLog.open(Path(data), hub_id="home")
    async def one(i):
        receipt = await log.append(HubStarted(time=1_700_000_000 + i, actor="hub", version=f"v{i}"))
        # Acknowledged: say so at once, unbuffered, before anything else can run.
        sys.stdout.write(f"{receipt.index} {receipt.leaf_hash.hex()} v{i}\\n")
        sys.stdout.flush()
    await asyncio.gather(*(one(i) for i in range(100_000)))

asyncio.run(main(sys.argv[1]))
"""


def test_every_acknowledged_append_survives_the_writer_being_killed(tmp_path: Path) -> None:
    """SIGKILL mid-load (no close, no clean-up): every acknowledged entry is in the reopened log."""
    script = tmp_path / "writer.py"
    script.write_text(CRASHING_WRITER)
    acknowledged = []
    with subprocess.Popen([sys.executable, str(script), str(tmp_path)], stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            acknowledged.append(line.split())
            if len(acknowledged) >= 2500:  # several group commits in, more queued and in flight
                break
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    report = verify_log(tmp_path)  # the killed log still verifies
    conn = sqlite3.connect(tmp_path / "audit" / "log.db")
    stored = {idx: (entry, leaf) for idx, entry, leaf in conn.execute("SELECT idx, entry, leaf_hash FROM entries")}
    conn.close()
    for index, leaf_hex, version in acknowledged:
        entry, leaf = stored[int(index)]
        assert leaf.hex() == leaf_hex and json.loads(entry)["fields"]["version"] == version
    assert report.size >= len(acknowledged) + 1


async def test_appends_queued_at_close_are_committed(tmp_path: Path, clock: FakeClock) -> None:
    log = await AuditLog.open(tmp_path, hub_id="home", clock=clock)
    pending = [asyncio.ensure_future(log.append(sample_event(i, clock()))) for i in range(50)]
    await asyncio.sleep(0)  # queued, the committer not yet done
    await log.close()
    receipts = await asyncio.gather(*pending)
    assert [r.index for r in receipts] == list(range(1, 51))
    assert verify_log(tmp_path).size == 51


async def test_with_two_processes_the_worker_checks_the_later_chunks(
    make_log: MakeLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = await make_log(40, batch=5)
    monkeypatch.setattr(verify_module, "CHUNK", 4)
    monkeypatch.setattr(verify_module, "WORKER_FROM", 0)
    here: list[int] = []

    def counted(start: int, chunk: list[tuple[bytes, bytes]]) -> chunks_module.Checked | None:
        here.append(start)
        return chunks_module.check_chunk(start, chunk)

    monkeypatch.setattr(verify_module, "check_chunk", counted)
    assert verify_log(data, processes=2).size == 41
    assert here == [0, 4, 8, 12, 16]  # 11 chunks of 4: the worker checked [20, 41)
    here.clear()
    assert verify_log(data).size == 41
    assert here == list(range(0, 41, 4))
