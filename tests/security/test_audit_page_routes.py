"""The routes the dashboard's Audit and Overrides pages added: /api/audit/entries, /api/audit/verify and
/api/privacy/cameras, against hostile parameters, the wrong callers, sealed entries and a tampered log."""

from __future__ import annotations

import json
import sqlite3

import pytest

from ..privacy.conftest import NEW_PASSWORD, PrivacyHub
from ..privacy.test_overrides import sealed_override

pytestmark = pytest.mark.timeout(120)


async def test_entries_refuse_bad_paging_and_callers_who_may_not_read(privacy_hub) -> None:
    ph: PrivacyHub = await privacy_hub(clips=[])
    owner = await ph.owner()
    officer = await ph.requester(owner, "springfield-pd")
    for query in ("limit=0", "limit=101", "limit=x", "before=-1", "before=1e3", "before=" + "9" * 40, "limit=-5"):
        async with owner.get(f"/api/audit/entries?{query}") as r:
            assert r.status == 400 and (await r.json())["error"] == "bad_request", query
    # A `before` beyond the log is the log's end; before=0 is an empty last page.
    async with owner.get(f"/api/audit/entries?before={2**63 - 1}&limit=100") as r:
        page = await r.json()
        assert r.status == 200 and page["entries"][-1]["index"] == 0 and page["next_before"] is None
        assert [e["index"] for e in page["entries"]] == list(range(page["size"] - 1, -1, -1))
    async with owner.get("/api/audit/entries?before=0") as r:
        assert r.status == 200 and (await r.json())["entries"] == []
    for path in ("/api/audit/entries", "/api/audit/verify", "/api/privacy/cameras"):
        async with ph.client().get(path) as r:
            assert r.status == 401, path
        async with officer.get(path) as r:
            assert r.status == 403, path


async def test_entries_leave_out_what_the_caller_may_not_read(privacy_hub) -> None:
    """A member sees no one else's login entries; an owner sees nothing of a custodian's sealed override."""
    ph: PrivacyHub = await privacy_hub(clips=[])
    owner = await ph.owner()
    bob = await ph.account(owner, "bob", "bob's own long password")
    custodian = await ph.account(owner, "custodian", "the custodian's long password", role="custodian")
    sealed = (await sealed_override(ph, custodian))["id"]

    async def seen(session) -> list[dict]:
        async with session.get("/api/audit/entries?limit=100") as r:
            assert r.status == 200
            return (await r.json())["entries"]

    by_owner, by_bob, by_custodian = await seen(owner), await seen(bob), await seen(custodian)
    logins = {"owner_logged_in", "owner_login_failed", "login_lockout"}
    assert [e for e in by_owner if e["event"] == "owner_logged_in" and e["fields"]["user"] == "owner"]
    assert by_bob and all(e["fields"].get("user") == "bob" for e in by_bob if e["event"] in logins)
    assert len(by_bob) < len(by_owner)
    assert not [e for e in by_owner if sealed in json.dumps(e)]
    assert [e for e in by_custodian if e["event"] == "override_invoked" and e["fields"]["override_id"] == sealed]


async def test_verify_names_the_entry_that_was_changed(privacy_hub) -> None:
    ph: PrivacyHub = await privacy_hub(clips=[])
    owner = await ph.owner()
    async with owner.get("/api/audit/verify") as r:
        good = await r.json()
    assert good["verified"] is True and good["size"] == ph.hub.audit.size and good["message"] is None
    # Someone with the disk rewrites entry 1's bytes (not its stored leaf hash).
    conn = sqlite3.connect(ph.data / "audit" / "log.db")
    try:
        (entry,) = conn.execute("SELECT entry FROM entries WHERE idx = 1").fetchone()
        conn.execute("UPDATE entries SET entry = ? WHERE idx = 1", [bytes(entry).replace(b"hub", b"hux", 1)])
        conn.commit()
    finally:
        conn.close()
    await ph.login("owner", NEW_PASSWORD)  # a new entry and checkpoint: the result is not the remembered one
    async with owner.get("/api/audit/verify") as r:
        bad = await r.json()
    assert r.status == 200 and bad["verified"] is False and bad["entry"] == 1
    assert "entry 1" in bad["message"] and bad["size"] is None


async def test_privacy_cameras_lists_cameras_that_are_not_recording(privacy_hub) -> None:
    ph: PrivacyHub = await privacy_hub(clips=[], cameras=("yard", "porch", "gate"))
    owner = await ph.owner()
    async with owner.get("/api/privacy/cameras") as r:
        assert await r.json() == ["gate", "porch", "yard"]  # every one is switched off in this hub
    async with owner.get("/api/cameras") as r:
        assert await r.json() == []
