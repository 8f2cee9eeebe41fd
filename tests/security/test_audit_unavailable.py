"""An audit log the hub cannot write: audited actions answer 503, nothing is released, health says so.

A real hub (`privacy_hub`) whose `<data>/audit` folder is a real size-limited
tmpfs (needs root, as CI has), filled up by another file while the hub runs:
SQLite gets a real "database or disk is full". No fake log, no patched commit.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import PrivacyHub

DEADLINE_S = 60.0


@pytest.fixture
def audit_disk(tmp_path: Path) -> Iterator[Path]:
    """`<tmp>/data/audit` as its own small tmpfs, mounted before the hub starts and after it stopped."""
    if os.geteuid() != 0:
        pytest.skip("mounting a size-limited tmpfs needs root (CI runs as root)")
    folder = tmp_path / "data" / "audit"
    folder.mkdir(parents=True)
    # 16 MB: room for the WAL to grow to SQLite's auto-checkpoint size (4 MB) many times over.
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m,mode=0700", "tmpfs", str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.fixture
async def small_audit_hub(
    audit_disk: Path, privacy_hub: Callable[..., Awaitable[PrivacyHub]]
) -> AsyncIterator[PrivacyHub]:
    # Asking for audit_disk first makes pytest unmount it only after privacy_hub stopped the hub.
    yield await privacy_hub()


def fill(path: Path) -> None:
    """Write `path` until its file system has no byte left (someone else filled the disk)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 65536)
    except OSError as exc:
        assert exc.errno == 28, exc  # ENOSPC
    try:
        while True:  # the last few bytes, in smaller pieces
            os.write(fd, b"\0" * 512)
    except OSError:
        pass
    finally:
        os.close(fd)


async def until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)


def ask(ph: PrivacyHub) -> dict[str, Any]:
    start = ph.clips[0].start_time
    return {
        "identity": "Officer Dana Ruiz",
        "organisation": "Springfield PD",
        "contact": "ruiz@springfield.example",
        "purpose": "burglary on the street",
        "cameras": ["yard"],
        "start": start,
        "end": start + 300,
        "wanted_by": ph.clock() + 10 * 86400,
    }


async def test_a_full_audit_disk_refuses_audited_actions_with_503_and_recovers(
    small_audit_hub: PrivacyHub, audit_disk: Path
) -> None:
    ph = small_audit_hub
    owner = await ph.owner()
    officer = await ph.requester(owner, "officer-ruiz")
    async with officer.post("/api/requests", json=ask(ph)) as r:
        assert r.status == 201, await r.text()
        request_id = (await r.json())["id"]
    async with owner.post(f"/api/requests/{request_id}/decision", json={"decision": "approve"}) as r:
        assert r.status == 200, await r.text()
        url = (await r.json())["share_link"]["url"]
    public = ph.client()
    async with public.get("/api/health") as r:
        health = await r.json()
    assert health["status"] == "ok" and health["audit"] == {"writable": True, "reason": None}

    filler = audit_disk / "filler"
    fill(filler)

    # An audited action: the owner's login (its entry is written before the session is handed out).
    async with ph.client().post("/api/auth/login", json={"username": "owner", "password": ph.passwords["owner"]}) as r:
        assert r.status == 503, await r.text()
        body = await r.json()
    assert body["error"] == "audit_unavailable"
    assert "audit/log.db" in body["message"] and "database or disk is full" in body["message"]
    assert str(ph.data) not in body["message"]  # an anonymous caller learns no path on the hub's disk

    async with public.get("/api/health") as r:
        assert r.status == 200
        health = await r.json()
    assert health["status"] == "degraded"
    assert health["audit"]["writable"] is False and "full" in health["audit"]["reason"]

    # A request cannot be submitted (it is logged before it exists) and none appears.
    async with officer.post("/api/requests", json=ask(ph)) as r:
        assert r.status == 503 and (await r.json())["error"] == "audit_unavailable", await r.text()
    async with officer.get("/api/requests") as r:
        assert [q["id"] for q in await r.json()] == [request_id]

    # A download is refused before its first byte, and does not use up one of the link's downloads.
    async with public.get(url) as r:
        assert r.status == 503, await r.text()
        assert (await r.json())["error"] == "audit_unavailable"
    async with officer.get(f"/api/requests/{request_id}") as r:
        link = (await r.json())["share_link"]
    assert link["downloads"] == 0 and link["usable"]

    # Space returns: the hub notices on its own (its probe), then audited actions work again.
    filler.unlink()

    async def healthy() -> bool:
        async with public.get("/api/health") as r:
            return (await r.json())["status"] == "ok"

    await until(healthy, "health to return to ok once the disk has room")
    async with public.get(url) as r:
        assert r.status == 200
        await r.read()
    async with officer.get(f"/api/requests/{request_id}") as r:
        assert (await r.json())["share_link"]["downloads"] == 1
    await ph.login("owner", ph.passwords["owner"])

    verify = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "camhub.cli.main", "audit", "verify", "--data", str(ph.data)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert verify.returncode == 0, verify.stderr
    assert verify.stdout.startswith("ok: ")


async def test_appends_waiting_on_a_failed_commit_all_fail_and_the_log_stays_whole(audit_disk: Path) -> None:
    """Group commit: every append of a batch that cannot be written gets the error; none hangs or half-lands."""
    from camhub.audit import AuditLog, AuditUnavailable, HubStarted
    from camhub.audit.verify import verify_log
    from camhub.clock import ManualClock

    data = audit_disk.parent
    log = await AuditLog.open(data, hub_id="home", clock=ManualClock(1_790_000_000))
    try:
        before = log.size
        fill(audit_disk / "filler")
        results = await asyncio.wait_for(
            asyncio.gather(
                *(log.append(HubStarted(time=1_790_000_000, actor="hub", version=str(i))) for i in range(20)),
                return_exceptions=True,
            ),
            DEADLINE_S,
        )
        assert all(isinstance(r, AuditUnavailable) for r in results), results
        assert log.size == before and not log.writable and "full" in str(log.unwritable)
        (audit_disk / "filler").unlink()
        receipt = await log.append(HubStarted(time=1_790_000_000, actor="hub", version="after"))
        assert receipt.index == before and log.writable
    finally:
        await log.close()
    report = verify_log(data)
    assert report.size == before + 1


async def test_the_hub_starts_on_a_full_audit_disk_and_says_so(audit_disk: Path) -> None:
    """Recording does not depend on the audit log: the hub starts, health is degraded, then recovers."""
    import aiohttp

    from camhub.app import Hub
    from camhub.audit import AuditLog
    from camhub.audit.verify import verify_log
    from camhub.config import HubConfig

    data = audit_disk.parent
    await (await AuditLog.open(data)).close()  # a log from an earlier start
    fill(audit_disk / "filler")
    config = HubConfig.model_validate(
        {
            "data_dir": str(data),
            "web": {"host": "127.0.0.1", "port": 0},
            "cameras": {"yard": {"enabled": False, "inputs": [{"url": "rtsp://127.0.0.1:9/none"}]}},
        }
    )
    hub = Hub(config)
    stop = asyncio.Event()
    task = asyncio.create_task(hub.run(stop))
    try:
        ready = asyncio.create_task(hub.ready.wait())
        await asyncio.wait({task, ready}, timeout=DEADLINE_S, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()  # the hub stopped: show why
        assert hub.ready.is_set()
        async with aiohttp.ClientSession(hub.url) as http:
            async with http.get("/api/health") as r:
                health = await r.json()
            assert health["status"] == "degraded" and health["audit"]["writable"] is False
            (audit_disk / "filler").unlink()

            async def healthy() -> bool:
                async with http.get("/api/health") as r:
                    return (await r.json())["status"] == "ok"

            await until(healthy, "health to return to ok once the disk has room")
    finally:
        stop.set()
        await asyncio.wait_for(task, DEADLINE_S)
    assert verify_log(data).size >= 2  # log_created, and hub_stopped at least
