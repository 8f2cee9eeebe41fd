"""`camhub check --repair` never runs beside a hub, never deletes a held clip, and audits what it deletes.

Real hubs (a `camhub run` process, or a Hub in this process with a real
clock), real clip files and index, the real CLI in a subprocess, and the
real audit log read back and verified with `camhub audit verify`.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from camhub.app import Hub
from camhub.audit import AuditLog
from camhub.config import HubConfig
from camhub.store.db import connect
from camhub.store.files import PARTIAL
from camhub.store.index import INDEX_FILE, query_clips

from ..conftest import LOOPBACK_DISCOVERY, free_port


def camhub(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "camhub.cli.main", *args], check=False, capture_output=True, text=True, timeout=180
    )


def indexed(data: Path) -> dict[str, Any]:
    db = connect(data / INDEX_FILE, readonly=True)
    try:
        return {c.path: c for c in query_clips(db, include_garbage=True)}
    finally:
        db.close()


def flip_a_byte(path: Path) -> None:
    with open(path, "r+b") as f:
        f.seek(200)
        byte = f.read(1)
        f.seek(200)
        f.write(bytes([byte[0] ^ 0xFF]))


def wait_until_serving(port: int, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("the hub did not answer /api/health in 60 s")


def test_repair_refuses_beside_a_running_hub_and_check_skips_its_open_clips(
    tmp_path: Path, make_clips: Callable[..., list[Any]]
) -> None:
    data = tmp_path / "data"
    now = time.time()
    made = make_clips(data, [("yard", now - 600), ("yard", now - 300)])
    config = tmp_path / "camhub.yaml"
    config.write_text(
        f"data_dir: {data}\n{LOOPBACK_DISCOVERY}cameras:\n  yard:\n    enabled: false\n    inputs: [{{url: 'rtsp://127.0.0.1:9/x'}}]\n"
    )
    port = free_port()
    hub = subprocess.Popen(
        [sys.executable, "-m", "camhub.cli.main", "run", "-c", str(config), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until_serving(port, hub)
        # A clip the hub is writing. A stand-in (a copy of a clip, named as the recorder names an open
        # one), placed after start-up, because when a real recorder opens one depends on motion and timing.
        gone = data / made[0].path
        gone.unlink()  # a row repair would otherwise delete
        open_clip = data / made[1].path
        writing = open_clip.with_name(open_clip.name.replace(open_clip.name[-10:-4], "abcdef") + PARTIAL)
        shutil.copy(open_clip, writing)

        repair = camhub("check", "--repair", "--data", str(data))
        assert repair.returncode == 2, repair.stdout + repair.stderr
        assert f"in use by the hub (pid {hub.pid}); stop it first" in repair.stderr, repair.stderr
        assert "Traceback" not in repair.stderr
        assert writing.exists() and made[0].path in indexed(data)  # nothing deleted, nothing renamed

        check = camhub("check", "--data", str(data))
        assert check.returncode == 1, check.stdout  # the missing clip is still a finding
        assert f"the hub (pid {hub.pid}) is running on {data}" in check.stdout, check.stdout
        assert "partial:" not in check.stdout and writing.name not in check.stdout, check.stdout
        assert f"missing: clip {made[0].id}" in check.stdout

        second = camhub("run", "-c", str(config), "--port", str(free_port()), "--seconds", "20")
        assert second.returncode == 2, second.stderr
        assert f"camhub: {data} is in use by the hub (pid {hub.pid}); stop it first" in second.stderr, second.stderr
    finally:
        hub.terminate()
        _, stderr = hub.communicate(timeout=60)
    assert hub.returncode == 0, stderr


async def run_hub(data: Path, cameras: tuple[str, ...]) -> tuple[Hub, asyncio.Event, asyncio.Task[None]]:
    config = HubConfig.model_validate(
        {
            "data_dir": str(data),
            "web": {"host": "127.0.0.1", "port": 0},
            "cameras": {c: {"enabled": False, "inputs": [{"url": "rtsp://127.0.0.1:9/none"}]} for c in cameras},
        }
    )
    hub, stop = Hub(config), asyncio.Event()
    task = asyncio.create_task(hub.run(stop))
    ready = asyncio.create_task(hub.ready.wait())
    await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        task.result()
    return hub, stop, task


async def audit_entries(data: Path) -> list[dict[str, Any]]:
    log = await AuditLog.open(data)
    try:
        return [json.loads(await log.entry(i)) for i in range(log.size)]
    finally:
        await log.close()


async def test_repair_keeps_held_clips_and_audits_every_deletion_first(
    tmp_path: Path, make_clips: Callable[..., list[Any]], household_login: Any
) -> None:
    data = tmp_path / "data"
    now = int(time.time())
    held_start = now - 3600
    # In the hold's window (yard, the hour's first five minutes): a damaged clip, a clip whose file
    # is gone, and a clip whose deletion by retention was interrupted. Outside it: two damaged clips.
    held_damaged, held_gone, held_garbage, loose_damaged, loose_gone = made = make_clips(
        data,
        [
            ("yard", held_start + 10),
            ("yard", held_start + 70),
            ("yard", held_start + 130),
            ("yard", held_start + 900),
            ("porch", held_start + 10),
        ],
    )

    hub, stop, task = await run_hub(data, ("yard", "porch"))
    try:
        http, _ = await household_login(hub.url, hub.initial_password)
        async with (
            http,
            http.post(
                f"{hub.url}/api/holds", json={"cameras": ["yard"], "start": held_start, "end": held_start + 300}
            ) as r,
        ):
            assert r.status == 201, await r.text()
            hold_id = (await r.json())["id"]
    finally:
        stop.set()
        await task
    before = len(await audit_entries(data))

    flip_a_byte(data / held_damaged.path)
    flip_a_byte(data / loose_damaged.path)
    (data / held_gone.path).unlink()
    (data / loose_gone.path).unlink()
    with sqlite3.connect(data / INDEX_FILE) as db:
        db.execute("UPDATE clips SET state = 'garbage' WHERE id = ?", [held_garbage.id])

    repair = camhub("check", "--repair", "--data", str(data))
    assert repair.returncode == 1, repair.stdout + repair.stderr  # the kept damaged clip is still a finding
    assert f"kept clip {held_damaged.id} ({held_damaged.path})" in repair.stdout, repair.stdout
    assert f"hold {hold_id} covers it" in repair.stdout
    left = indexed(data)
    assert (data / held_damaged.path).exists() and held_damaged.path in left
    assert (data / held_garbage.path).exists() and left[held_garbage.path].state == "ok"
    assert not (data / loose_damaged.path).exists()
    assert loose_damaged.path not in left and loose_gone.path not in left and held_gone.path not in left
    assert len(made) == 5

    verify = camhub("audit", "verify", "--data", str(data))
    assert verify.returncode == 0, verify.stdout + verify.stderr
    logged = [(e["event"], e["fields"]) for e in (await audit_entries(data))[before:]]
    assert (
        "held_clip_deleted",
        {
            "clip_id": str(held_gone.id),
            "hold_id": hold_id,
            "reason": f"{held_gone.path}: indexed but the file is gone; its index row was removed",
        },
    ) in logged
    deleted = {f["clip_id"]: f for name, f in logged if name == "clip_deleted"}
    assert set(deleted) == {loose_damaged.id, loose_gone.id}, logged
    assert deleted[loose_gone.id]["path"] == loose_gone.path and deleted[loose_gone.id]["camera"] == "porch"
    assert all(e["actor"] == "camhub check --repair" for e in (await audit_entries(data))[before:])
