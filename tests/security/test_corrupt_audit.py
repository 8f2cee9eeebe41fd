"""A damaged audit log at start-up and in every command that opens it: one line, the file, the next step.

Real logs (`make_log`) damaged on disk the ways a failing disk, a bad copy or
a careless hand would: log.db truncated, overwritten or emptied, signing.key
missing or garbled. The real CLI runs in a subprocess. The audit log is never
rebuilt, so the next step is always to restore it from a backup and verify it.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from ..conftest import LOOPBACK_DISCOVERY

HUB_TIMEOUT_S = 120


def camhub(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "camhub.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=HUB_TIMEOUT_S,
        check=False,
    )


def truncate(audit: Path) -> Path:
    db = audit / "log.db"
    db.write_bytes(db.read_bytes()[:8192])
    return db


def overwrite(audit: Path) -> Path:
    db = audit / "log.db"
    db.write_bytes(b"not a database, a file copied over it\n" * 200)
    return db


def empty(audit: Path) -> Path:
    db = audit / "log.db"
    db.write_bytes(b"")
    return db


def drop_key(audit: Path) -> Path:
    key = audit / "signing.key"
    key.unlink()
    return key


def garble_key(audit: Path) -> Path:
    key = audit / "signing.key"
    key.write_bytes(b"\xff\xfe half a key\n")
    return key


DAMAGED_DB = [truncate, overwrite, empty]


@pytest.fixture
async def log_data(make_log: Callable[..., Awaitable[Path]]) -> Path:
    """A data folder whose audit log has 300 entries (more than one page of each table)."""
    data = await make_log(300, batch=7)
    # Everything into log.db itself, so the damage below is not mended from a WAL.
    conn = sqlite3.connect(data / "audit" / "log.db")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.close()
    assert not list((data / "audit").glob("log.db-*"))
    return data


def one_clear_line(result: subprocess.CompletedProcess[str], names: Path) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(names) in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("damage", DAMAGED_DB, ids=lambda f: f.__name__)
def test_cli_commands_name_a_damaged_log_db_and_say_restore_and_verify(
    log_data: Path, damage: Callable[[Path], Path]
) -> None:
    db = damage(log_data / "audit")
    verify = camhub("audit", "verify", "--data", str(log_data))
    assert verify.returncode == 1  # documented: the log does not verify
    line = one_clear_line(verify, db)
    assert "verification FAILED" in line and "backup" in line

    for args, code in (
        (["audit", "proof", "--data", str(log_data), "3"], 2),
        (["transparency", "--data", str(log_data)], 2),
        (["audit", "witness", "--state", str(log_data.parent / "witness.json"), "--data", str(log_data)], 2),
    ):
        result = camhub(*args)
        assert result.returncode == code, (args, result.stderr)
        line = one_clear_line(result, db)
        assert "backup" in line and f"camhub audit verify --data {log_data}" in line, line
        assert "delete" not in line.replace("never rebuilt or deleted", ""), line


@pytest.mark.parametrize("damage", [*DAMAGED_DB, drop_key, garble_key], ids=lambda f: f.__name__)
def test_the_hub_refuses_to_start_on_a_damaged_log_with_one_line(
    log_data: Path, tmp_path: Path, damage: Callable[[Path], Path]
) -> None:
    before = {p.name: p.read_bytes() for p in (log_data / "audit").iterdir() if p.is_file()}
    broken = damage(log_data / "audit")
    config = tmp_path / "hub.yaml"
    config.write_text(f"data_dir: {log_data}\n{LOOPBACK_DISCOVERY}web:\n  host: 127.0.0.1\n  port: 0\ncameras: {{}}\n")
    result = camhub("run", "-c", str(config), "--seconds", "30")
    assert result.returncode == 2, result.stderr
    line = one_clear_line(result, broken)
    assert line.startswith("camhub: ") and "backup" in line, line
    # Nothing was rebuilt or replaced: the damaged files are as the damage left them.
    after = {p.name: p.read_bytes() for p in (log_data / "audit").iterdir() if p.is_file() and p.name in before}
    assert set(after) == set(before) - ({broken.name} if not broken.exists() else set())
    if broken.exists():
        assert after[broken.name] == broken.read_bytes()
    assert not (log_data / "audit" / "signing.key.next").exists()


def test_verify_says_a_missing_signing_key_must_be_restored(log_data: Path) -> None:
    key = drop_key(log_data / "audit")
    verify = camhub("audit", "verify", "--data", str(log_data))
    assert verify.returncode == 0, verify.stderr  # the log itself verifies: that needs no private key
    assert verify.stdout.startswith("ok: ")
    line = one_clear_line(verify, key)
    assert "missing" in line and "backup" in line
    # Reading commands need no private key either.
    assert camhub("transparency", "--data", str(log_data)).returncode == 0


def test_a_copy_of_the_log_restored_from_a_backup_starts_again(log_data: Path, tmp_path: Path) -> None:
    """The advice works: restore the folder, verify, and the hub opens it."""
    backup = tmp_path / "backup"
    shutil.copytree(log_data / "audit", backup)
    truncate(log_data / "audit")
    shutil.rmtree(log_data / "audit")
    shutil.copytree(backup, log_data / "audit")
    assert camhub("audit", "verify", "--data", str(log_data)).returncode == 0
    config = tmp_path / "hub.yaml"
    config.write_text(f"data_dir: {log_data}\n{LOOPBACK_DISCOVERY}web:\n  host: 127.0.0.1\n  port: 0\ncameras: {{}}\n")
    result = camhub("run", "-c", str(config), "--seconds", "1")
    assert result.returncode == 0, result.stderr


async def test_a_start_that_fails_on_the_log_gives_back_the_folder_and_the_index(log_data: Path) -> None:
    """In one process (a test, a supervisor retrying): the refused start leaves no lock and no open index."""
    import threading

    from camhub.app import Hub
    from camhub.config import HubConfig
    from camhub.errors import HubError
    from camhub.store.lock import holder

    drop_key(log_data / "audit")
    config = HubConfig.model_validate(
        {"data_dir": str(log_data), "web": {"host": "127.0.0.1", "port": 0}, "cameras": {}}
    )
    writers = {t for t in threading.enumerate() if t.name.startswith("sqlite-writer:index.db")}
    with pytest.raises(HubError, match=r"signing\.key"):
        await Hub(config).run(asyncio.Event())
    assert holder(log_data) is None, "the data folder is still locked after the start failed"
    assert {t for t in threading.enumerate() if t.name.startswith("sqlite-writer:index.db")} == writers, (
        "the index's writer thread outlived the failed start"
    )
