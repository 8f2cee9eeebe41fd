"""Failed logins cannot grow the audit log at will, nor put a stranger's typing into it.

Through a whole hub over HTTP: 250 failed logins with long random user names, most of them during a
lockout, add a handful of entries (the first failure, then one summary per lockout); no entry holds a
name that was typed; members and custodians cannot read login entries other than their own.
"""

from __future__ import annotations

import json
import logging
import secrets
import string
from typing import Any

import aiohttp

from camhub.audit.canonical import encode_entry
from camhub.audit.events import LoginLockout
from camhub.auth.throttle import ACCOUNT_LIMIT, ADDRESS_LIMIT, LOCKOUT_S, WINDOW_S
from camhub.privacy.transparency.tally import Counts, build_report

from .conftest import PrivacyHub

NAME_CHARS = string.ascii_lowercase + string.digits


def random_name() -> str:
    return "".join(secrets.choice(NAME_CHARS) for _ in range(240))


async def login_status(client: aiohttp.ClientSession, username: str, password: str) -> int:
    async with client.post("/api/auth/login", json={"username": username, "password": password}) as r:
        return r.status


async def log_size(client: aiohttp.ClientSession) -> int:
    async with client.get("/api/audit/checkpoint") as r:
        return int((await r.text()).splitlines()[1])


async def entry(client: aiohttp.ClientSession, index: int) -> tuple[int, dict[str, Any] | None]:
    async with client.get(f"/api/audit/proof/{index}") as r:
        return r.status, json.loads((await r.json())["entry"]) if r.status == 200 else None


async def new_account(ph: PrivacyHub, owner: aiohttp.ClientSession, name: str, role: str) -> aiohttp.ClientSession:
    async with owner.post("/api/accounts", json={"username": name, "role": role}) as r:
        assert r.status == 201, await r.text()
        one_time = (await r.json())["one_time_password"]
    return await ph.login(name, one_time, f"{name}'s own long passphrase")


async def test_a_login_flood_adds_a_few_entries_without_the_names_typed(privacy_hub, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.INFO)
    ph: PrivacyHub = await privacy_hub()
    owner = await ph.owner()
    bob = await new_account(ph, owner, "bob", "member")
    carol = await new_account(ph, owner, "carol", "custodian")
    bobs_slip = await log_size(owner)
    assert await login_status(ph.client(), "bob", "not bob's password") == 401
    ph.clock.advance(WINDOW_S + 1)  # the address is quiet again

    before = await log_size(owner)
    attacker = ph.client()
    typed = [random_name() for _ in range(200)]
    statuses = [await login_status(attacker, name, "a guess at a password") for name in typed]
    assert statuses.count(401) == ADDRESS_LIMIT and statuses.count(429) == 200 - ADDRESS_LIMIT
    ph.clock.advance(LOCKOUT_S + 1)  # the lockout ends; the same attacker goes on with one name
    typed.append(one := random_name())
    statuses = [await login_status(attacker, one, "another guess") for _ in range(50)]
    assert statuses.count(401) == ACCOUNT_LIMIT and statuses.count(429) == 50 - ACCOUNT_LIMIT
    after = await log_size(owner)

    # The first failure of each quiet spell, and one summary per lockout: 4 entries for 250 attempts.
    entries = [(await entry(owner, i))[1] for i in range(before, after)]
    assert [(e["event"], e["fields"].get("key")) for e in entries] == [  # type: ignore[index]
        ("owner_login_failed", None),
        ("login_lockout", "address"),
        ("owner_login_failed", None),
        ("login_lockout", "user"),
    ]
    first, by_address, again, by_name = (e["fields"] for e in entries)  # type: ignore[index]
    assert (by_address["failures"], by_address["user"], by_address["user_hmac"]) == (ADDRESS_LIMIT, None, None)
    assert (by_name["failures"], by_name["user"]) == (ACCOUNT_LIMIT, None)
    assert first["user"] is None and len(first["user_hmac"]) == 64
    assert again["user_hmac"] == by_name["user_hmac"] != first["user_hmac"], "one name, one keyed hash"
    text = json.dumps(entries)
    assert not [name for name in typed if name in text or name.casefold() in text]
    # Nor in the hub's own log: a name no account has may be a password typed in the wrong box.
    logged = caplog.text
    assert not [name for name in typed if name in logged or name.casefold() in logged]

    # Login entries are the owners' business; a member sees only those about their own account.
    for index in range(before, after):
        assert (await entry(bob, index))[0] == 404
        assert (await entry(carol, index))[0] == 404
    status, slip = await entry(bob, bobs_slip)
    assert status == 200 and slip is not None and slip["fields"]["user"] == "bob"
    assert (await entry(carol, bobs_slip))[0] == 404


def test_the_transparency_report_reads_lockouts_and_events_it_does_not_know() -> None:
    now = 1_790_000_000
    lockout = LoginLockout(
        time=now,
        actor="anonymous",
        key="address",
        user=None,
        user_hmac=None,
        remote="192.0.2.9",
        failures=ADDRESS_LIMIT,
        refused=180,
        until_s=now + 900,
    )
    entries = [
        (1, encode_entry(1, now * 1000, lockout.actor, lockout.name, lockout.fields())),
        (2, encode_entry(2, now * 1000, "hub", "written_by_a_newer_hub", {"anything": [1, 2]})),
    ]
    report = build_report(entries, now)
    assert (report.entries, report.totals) == (2, Counts())
