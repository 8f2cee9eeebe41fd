"""A damaged index.db: every command names the file, the damage and the fix, and `check --repair` rebuilds it.

Real clip files, a real index damaged on disk three ways (garbage bytes, a
truncated file, a page overwritten), and the real `camhub` CLI in a
subprocess: `run` (the hub's start), `clips`, `check` and `check --repair`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from camhub.store.index import INDEX_FILE, open_index

from ..conftest import LOOPBACK_DISCOVERY

NOW = 1_790_000_000.0
PAGE = 4096


def camhub(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "camhub.cli.main", *args], check=False, capture_output=True, text=True, timeout=120
    )


def garbage(index: Path) -> None:
    index.write_bytes(os.urandom(index.stat().st_size))


def truncated(index: Path) -> None:
    with open(index, "r+b") as f:
        f.truncate(index.stat().st_size - PAGE - 100)  # the last page and a bit of the one before


def page_overwritten(index: Path) -> None:
    with open(index, "r+b") as f:
        f.seek(PAGE + 8)  # the second page, past its first bytes: a b-tree page of the schema or a table
        f.write(b"\xff" * (PAGE - 16))


@pytest.fixture
def damaged_data(
    tmp_path: Path, make_clips: Callable[..., list[Any]]
) -> Callable[[Callable[[Path], None]], tuple[Path, list[Any]]]:
    def make(damage: Callable[[Path], None]) -> tuple[Path, list[Any]]:
        data = tmp_path / "data"
        made = make_clips(data, [(cam, NOW + 60 * i) for i in range(30) for cam in ("yard", "porch")])
        open_index(data).close()  # the last close folds the WAL into index.db
        assert not (data / f"{INDEX_FILE}-wal").exists()
        index = data / INDEX_FILE
        assert index.stat().st_size >= 3 * PAGE, "the index should span pages for these damages to mean anything"
        damage(index)
        return data, made

    return make


def assert_named(result: subprocess.CompletedProcess[str], data: Path) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert f"{data / INDEX_FILE}: the clip index is damaged" in result.stderr, result.stderr
    assert f"camhub check --repair --data {data}" in result.stderr, result.stderr


DAMAGES = [garbage, truncated, page_overwritten]


@pytest.mark.parametrize("damage", DAMAGES, ids=lambda d: d.__name__)
def test_clips_and_check_name_the_damaged_index_and_the_fix(damaged_data: Any, damage: Callable[[Path], None]) -> None:
    data, _ = damaged_data(damage)
    assert_named(camhub("clips", "--data", str(data)), data)
    assert_named(camhub("check", "--data", str(data)), data)


@pytest.mark.parametrize("damage", DAMAGES, ids=lambda d: d.__name__)
def test_the_hub_will_not_start_on_a_damaged_index_and_says_why(
    damaged_data: Any, damage: Callable[[Path], None], tmp_path: Path
) -> None:
    data, _ = damaged_data(damage)
    config = tmp_path / "camhub.yaml"
    config.write_text(
        f"data_dir: {data}\n{LOOPBACK_DISCOVERY}cameras:\n  yard:\n    enabled: false\n    inputs: [{{url: 'rtsp://127.0.0.1:9/x'}}]\n"
    )
    result = camhub("run", "-c", str(config), "--port", "0", "--seconds", "30")
    assert_named(result, data)


@pytest.mark.parametrize("damage", DAMAGES, ids=lambda d: d.__name__)
def test_repair_moves_the_damaged_index_aside_and_rebuilds_it_with_the_same_ids(
    damaged_data: Any, damage: Callable[[Path], None]
) -> None:
    data, made = damaged_data(damage)
    damaged_bytes = (data / INDEX_FILE).read_bytes()
    repair = camhub("check", "--repair", "--data", str(data))
    assert repair.returncode == 0, repair.stdout + repair.stderr
    assert "moved the damaged index" in repair.stdout, repair.stdout
    [aside] = [p for p in data.glob(f"{INDEX_FILE}.damaged-*") if not p.name.endswith(("-wal", "-shm"))]
    assert aside.read_bytes() == damaged_bytes  # kept whole, never deleted
    listed = camhub("clips", "--data", str(data), "--json")
    assert listed.returncode == 0, listed.stderr
    ids = {json.loads(line)["path"]: json.loads(line)["id"] for line in listed.stdout.splitlines()}
    assert ids == {c.path: c.id for c in made}
    check = camhub("check", "--data", str(data))
    assert check.returncode == 0, check.stdout
