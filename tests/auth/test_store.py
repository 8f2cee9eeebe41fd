"""What reaches the disk and the logs: hashes only, Argon2id with rehash, commented columns."""

from __future__ import annotations

import logging
import re
import sqlite3
from pathlib import Path

import pytest

from camhub.auth import AccountService, LoginFailed
from camhub.auth.credentials import token_digest

from .conftest import PASSWORD, AuthHub, cheap_hasher


def disk_bytes(data: Path) -> bytes:
    # WAL mode: recent rows may live only in the -wal file until a checkpoint.
    return b"".join(p.read_bytes() for p in data.glob("accounts.db*"))


async def test_secrets_are_stored_only_hashed_and_never_logged(hub: AuthHub, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    one_time = await hub.service.create_account("carol", "member")
    assert one_time is not None
    client = hub.client()
    async with client.post("/api/auth/login", json={"username": "alice", "password": PASSWORD}) as r:
        session = r.cookies["camhub_session"].value
    async with client.post("/api/auth/tokens", json={"name": "cron"}) as r:
        api = (await r.json())["token"]
    async with client.post("/api/auth/login", json={"username": "alice", "password": "a wrong guess"}) as r:
        assert r.status == 401
    secrets = [PASSWORD, one_time, session, api, "a wrong guess"]
    on_disk = disk_bytes(hub.data)
    for secret in secrets:
        assert secret.encode() not in on_disk
        assert secret not in caplog.text
    assert "alice" in caplog.text, "the log still says who logged in"
    with sqlite3.connect(hub.data / "accounts.db") as db:
        digests = {
            row[0] for row in db.execute("SELECT token_sha256 FROM sessions UNION SELECT token_sha256 FROM tokens")
        }
        hashes = [row[0] for row in db.execute("SELECT password_hash FROM accounts")]
    assert {token_digest(session), token_digest(api)} <= digests
    assert all(h.startswith("$argon2id$") for h in hashes)


async def test_password_is_rehashed_when_parameters_change(tmp_path: Path) -> None:
    old = await AccountService.open(tmp_path, hasher=cheap_hasher(time_cost=1))
    await old.create_account("alice", "owner", password=PASSWORD)
    await old.close()
    new = await AccountService.open(tmp_path, hasher=cheap_hasher(time_cost=2))
    try:
        await new.sessions.login("alice", PASSWORD, "127.0.0.1")
    finally:
        await new.close()
    with sqlite3.connect(tmp_path / "accounts.db") as db:
        (phc,) = db.execute("SELECT password_hash FROM accounts WHERE username = 'alice'").fetchone()
    assert phc.startswith("$argon2id$") and ",t=2," in phc
    again = await AccountService.open(tmp_path, hasher=cheap_hasher(time_cost=2))
    try:
        assert (await again.sessions.login("alice", PASSWORD, "127.0.0.1")).identity.username == "alice"
    finally:
        await again.close()


async def test_every_column_says_its_unit(hub: AuthHub) -> None:
    with sqlite3.connect(hub.data / "accounts.db") as db:
        tables = [
            row[0]
            for row in db.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name IN ('accounts', 'sessions', 'tokens')"
            )
        ]
    assert len(tables) == 3
    for sql in tables:
        body = sql[sql.index("(") + 1 : sql.rindex(")")]
        # A column starts a line at two spaces of indent; its comment may follow on the next line.
        columns = re.split(r"\n(?=  [a-z0-9_]+ )", body.strip("\n"))
        for column in columns:
            assert "--" in column, f"column without a comment: {column.strip()}"


async def test_logins_reach_the_real_audit_log(tmp_path: Path) -> None:
    from camhub.audit import AuditLog

    audit = await AuditLog.open(tmp_path)
    service = await AccountService.open(tmp_path, hasher=cheap_hasher(), on_event=audit.append)
    try:
        await service.create_account("alice", "owner", password=PASSWORD)
        await service.sessions.login("alice", PASSWORD, "192.0.2.7")
        with pytest.raises(LoginFailed):
            await service.sessions.login("alice", "not it, sorry", "192.0.2.7")
        entries = [(await audit.entry(i)).decode() for i in range(1, audit.size)]
    finally:
        await service.close()
        await audit.close()
    assert len(entries) == 2
    assert '"owner_logged_in"' in entries[0] and '"192.0.2.7"' in entries[0]
    assert '"owner_login_failed"' in entries[1] and '"bad_credentials"' in entries[1]
    assert not any(PASSWORD in e or "not it, sorry" in e for e in entries)
