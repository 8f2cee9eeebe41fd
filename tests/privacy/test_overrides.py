"""Legal-process overrides and holds through the real HTTP API of a running hub, on a manual clock."""

from __future__ import annotations

import hashlib
import io
import json
import sqlite3
import zipfile

import aiohttp
import pytest

from camhub.recording.retention import Limits, enforce

from .conftest import T0, PrivacyHub

pytestmark = pytest.mark.timeout(120)

PDF = b"%PDF-1.4\n% a search warrant, as scanned\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


def warrant(document: str, **extra: object) -> dict[str, object]:
    body: dict[str, object] = {
        "kind": "search_warrant",
        "authority": "Superior Court of Springfield County",
        "jurisdiction": "State of X",
        "case_number": "SW-2026-0042",
        "judge": "Hon. R. Alvarez",
        "issued": T0 + 3600,
        "agency": "Springfield PD",
        "officer_contact": "Det. Kim, kim@springfield.example",
        "cameras": ["yard"],
        "start": T0,
        "end": T0 + 600,
        "document_sha256": document,
        "notice": "none",
    }
    body.update(extra)
    return body


async def upload(session: aiohttp.ClientSession, data: bytes = PDF) -> str:
    async with session.post("/api/documents", data=data, headers={"Content-Type": "application/pdf"}) as r:
        assert r.status == 201, await r.text()
        return (await r.json())["sha256"]


async def sealed_override(ph: PrivacyHub, custodian: aiohttp.ClientSession) -> dict:
    """The custodian files a warrant whose notice a judge delayed by 30 days: a sealed override; its answer."""
    body = warrant(
        await upload(custodian),
        notice="delayed",
        notice_delayed_until=int(ph.clock()) + 30 * 86400,
        delay_ordered_by="Hon. R. Alvarez",
    )
    async with custodian.post("/api/overrides", json=body) as r:
        assert r.status == 201, await r.text()
        return await r.json()


def entries(ph: PrivacyHub) -> list[tuple[int, dict]]:
    conn = sqlite3.connect(ph.data / "audit" / "log.db")
    try:
        return [(i, json.loads(e)) for i, e in conn.execute("SELECT idx, entry FROM entries ORDER BY idx")]
    finally:
        conn.close()


async def notices(owner: aiohttp.ClientSession) -> list[dict]:
    async with owner.get("/api/notices") as r:
        assert r.status == 200
        return await r.json()


async def test_warrant_releases_only_its_scope_and_owners_are_told_at_once(privacy_hub) -> None:
    ph: PrivacyHub = await privacy_hub()
    owner = await ph.owner()
    document = await upload(owner)
    assert document == hashlib.sha256(PDF).hexdigest()
    async with owner.post("/api/overrides", json=warrant(document, judge=None)) as r:
        assert r.status == 400 and "'judge' is required" in (await r.json())["message"]
    async with owner.post("/api/overrides", json=warrant("ab" * 32)) as r:
        assert r.status == 400 and "no document" in (await r.json())["message"]
    async with owner.post("/api/overrides", json=warrant(document, end=T0 + 90000)) as r:
        assert r.status == 400 and "at most 24 h" in (await r.json())["message"]
    async with owner.post("/api/overrides", json=warrant(document)) as r:
        assert r.status == 201, await r.text()
        override = await r.json()
    async with ph.client().get(override["share_link"]["url"]) as r:
        assert r.status == 200
        with zipfile.ZipFile(io.BytesIO(await r.read())) as z:
            manifest = json.loads(z.read("manifest.json"))
    assert manifest["basis"]["kind"] == "override" and manifest["basis"]["case_number"] == "SW-2026-0042"
    assert {f["camera"] for f in manifest["files"]} == {"yard"}
    assert all(f["start_ms"] >= T0 * 1000 and f["end_ms"] <= (T0 + 600) * 1000 for f in manifest["files"])
    told = [n for n in await notices(owner) if n["kind"] == "override"]
    assert len(told) == 1 and told[0]["body"]["notice_delayed"] is False
    assert told[0]["body"]["judge"] == "Hon. R. Alvarez" and told[0]["body"]["supplied"]["files"] == len(
        manifest["files"]
    )


async def test_delayed_notice_is_sealed_until_the_date_then_fires_by_itself(privacy_hub) -> None:
    ph: PrivacyHub = await privacy_hub()
    owner = await ph.owner()
    async with owner.post("/api/accounts", json={"username": "custodian", "role": "custodian"}) as r:
        one_time = (await r.json())["one_time_password"]
    custodian = await ph.login("custodian", one_time, "the custodian's long password")
    document = await upload(custodian)
    until = int(ph.clock()) + 30 * 86400
    too_far = int(ph.clock()) + 91 * 86400
    async with custodian.post(
        "/api/overrides",
        json=warrant(document, notice="delayed", notice_delayed_until=too_far, delay_ordered_by="Hon. R. Alvarez"),
    ) as r:
        assert r.status == 400 and "90 days" in (await r.json())["message"]
    async with custodian.post("/api/overrides", json=warrant(document, notice="delayed")) as r:
        assert r.status == 400 and "notice_delayed_until" in (await r.json())["message"]
    async with custodian.post(
        "/api/overrides",
        json=warrant(
            document,
            notice="delayed",
            notice_delayed_until=until,
            delay_ordered_by="Hon. R. Alvarez",
            delay_provision="18 U.S.C. 2705(a)",
        ),
    ) as r:
        assert r.status == 201, await r.text()
        override = await r.json()
    async with ph.client().get(override["share_link"]["url"]) as r:
        assert r.status == 200

    # Sealed: the owner sees no override, no notice; the custodian who invoked it does.
    async with owner.get("/api/overrides") as r:
        assert await r.json() == []
    async with owner.get(f"/api/overrides/{override['id']}") as r:
        assert r.status == 404
    assert not [n for n in await notices(owner) if n["kind"] == "override"]
    async with custodian.get("/api/overrides") as r:
        assert [o["id"] for o in await r.json()] == [override["id"]]
    # The audit entries about it are sealed too: the override, its export and its download.
    sealed = [
        i
        for i, e in entries(ph)
        if override["id"] in json.dumps(e) or (override["export_id"] and override["export_id"] in json.dumps(e))
    ]
    assert len(sealed) >= 4  # invoked, export built, link created, downloaded
    for index in sealed:
        async with owner.get(f"/api/audit/proof/{index}") as r:
            assert r.status == 404, index
        async with custodian.get(f"/api/audit/proof/{index}") as r:
            assert r.status == 200, index
    async with ph.client().get(f"/api/audit/proof/{sealed[0]}") as r:
        assert r.status == 401
    async with owner.get(f"/api/audit/proof/{sealed[0] - 1}") as r:
        assert r.status == 200  # entries about other things stay readable

    ph.clock.advance(30 * 86400 - 60)
    await ph.hub.privacy.tick()
    owner = await ph.login("owner", ph.passwords["owner"])  # sessions went idle meanwhile
    assert not [n for n in await notices(owner) if n["kind"] == "override"]
    ph.clock.advance(60)
    await ph.hub.privacy.tick()
    told = [n for n in await notices(owner) if n["kind"] == "override"]
    assert len(told) == 1
    body = told[0]["body"]
    assert body["notice_delayed"] is True and body["delay_ordered_by"] == "Hon. R. Alvarez"
    assert body["delay_provision"] == "18 U.S.C. 2705(a)" and body["invoked_by"] == "custodian"
    assert body["supplied"]["downloads"] == 1 and body["cameras"] == ["yard"]
    async with owner.get(f"/api/overrides/{override['id']}") as r:
        assert r.status == 200
    async with owner.get(f"/api/audit/proof/{sealed[0]}") as r:
        assert r.status == 200  # unsealed with the notice
    await ph.hub.privacy.tick()
    assert len([n for n in await notices(owner) if n["kind"] == "override"]) == 1  # told once


async def test_emergency_without_follow_up_is_flagged_and_with_one_is_not(privacy_hub) -> None:
    ph: PrivacyHub = await privacy_hub()
    owner = await ph.owner()
    document = await upload(owner)
    emergency = warrant(document, kind="emergency", judge=None, case_number="EMERG-7")
    async with owner.post("/api/overrides", json=emergency) as r:
        missed = await r.json()
    async with owner.post("/api/overrides", json={**emergency, "case_number": "EMERG-8"}) as r:
        followed = await r.json()
    assert missed["follow_up_due_s"] == int(ph.clock()) + 48 * 3600
    court = await upload(owner, PDF + b"% the court order\n")
    async with owner.post(
        f"/api/overrides/{followed['id']}/follow-up",
        json={"kind": "court_order", "case_number": "CO-99", "document_sha256": court},
    ) as r:
        assert r.status == 200, await r.text()
    async with owner.post(
        f"/api/overrides/{followed['id']}/follow-up",
        json={"kind": "court_order", "case_number": "CO-99", "document_sha256": court},
    ) as r:
        assert r.status == 400
    ph.clock.advance(48 * 3600 + 1)
    await ph.hub.privacy.tick()
    owner = await ph.login("owner", ph.passwords["owner"])
    flagged = [n for n in await notices(owner) if n["kind"] == "follow_up_missed"]
    assert [n["subject"] for n in flagged] == [missed["id"]]
    async with owner.get(f"/api/overrides/{missed['id']}") as r:
        assert (await r.json())["follow_up_missed_s"] is not None
    async with owner.get(f"/api/overrides/{followed['id']}") as r:
        assert (await r.json())["follow_up"]["late"] is False


async def test_preservation_holds_clips_from_retention_until_released(privacy_hub) -> None:
    ph: PrivacyHub = await privacy_hub()
    owner = await ph.owner()
    document = await upload(owner)
    async with owner.post(
        "/api/overrides",
        json=warrant(document, kind="preservation", judge=None, cameras=["porch"], start=T0, end=T0 + 300),
    ) as r:
        override = await r.json()
    assert override["share_link"] is None and override["export_id"] is None and override["hold_id"]
    async with owner.post("/api/holds", json={"cameras": ["yard"], "start": T0 + 600, "end": T0 + 660}) as r:
        assert r.status == 201
        own_hold = await r.json()

    ph.clock.advance(15 * 86400)  # past the 14-day retention
    owner = await ph.login("owner", ph.passwords["owner"])
    limits = Limits({}, 14, None, 0)
    deleted = await enforce(ph.hub.db, ph.data, limits, ph.clock, ph.hub.privacy.holds.active)
    kept = {(c.camera, c.start_time) for c in ph.clips} - {(c.camera, c.start_time) for c in deleted}
    assert kept == {("porch", T0 + 60 * m) for m in range(5)} | {("yard", T0 + 600)}
    for clip in ph.clips:
        assert (ph.data / clip.path).exists() == ((clip.camera, clip.start_time) in kept)

    ph.clock.advance(301)
    async with owner.post(f"/api/holds/{own_hold['id']}/release") as r:
        assert r.status == 401  # releasing a hold needs a fresh password
    async with owner.post("/api/auth/reauth", json={"password": ph.passwords["owner"]}) as r:
        assert r.status == 200
    async with owner.post(f"/api/holds/{own_hold['id']}/release") as r:
        assert r.status == 200
    async with owner.post(f"/api/holds/{override['hold_id']}/renew") as r:
        assert r.status == 200 and (await r.json())["expires_s"] == int(ph.clock()) + 90 * 86400
    deleted = await enforce(ph.hub.db, ph.data, limits, ph.clock, ph.hub.privacy.holds.active)
    assert [(c.camera, c.start_time) for c in deleted] == [("yard", T0 + 600)]
    ph.clock.advance(90 * 86400)
    await ph.hub.privacy.tick()  # the renewed preservation hold expires
    deleted = await enforce(ph.hub.db, ph.data, limits, ph.clock, ph.hub.privacy.holds.active)
    assert len(deleted) == 5


async def test_a_further_order_extends_the_delay_at_most_90_days_at_a_time(privacy_hub) -> None:
    ph: PrivacyHub = await privacy_hub()
    owner = await ph.owner()
    document = await upload(owner)
    now = int(ph.clock())
    async with owner.post(
        "/api/overrides",
        json=warrant(
            document, notice="delayed", notice_delayed_until=now + 80 * 86400, delay_ordered_by="Hon. R. Alvarez"
        ),
    ) as r:
        override = await r.json()
    path = f"/api/overrides/{override['id']}/delay"
    ph.clock.advance(75 * 86400)
    owner = await ph.login("owner", ph.passwords["owner"])
    now = int(ph.clock())
    async with owner.post(path, json={"notice_delayed_until": now + 91 * 86400, "delay_ordered_by": "Hon. B"}) as r:
        assert r.status == 400 and "90 days" in (await r.json())["message"]
    async with owner.post(path, json={"notice_delayed_until": now + 86400, "delay_ordered_by": "Hon. B"}) as r:
        assert r.status == 400 and "after the current date" in (await r.json())["message"]
    async with owner.post(
        path,
        json={
            "notice_delayed_until": now + 90 * 86400,
            "delay_ordered_by": "Hon. B",
            "delay_provision": "18 U.S.C. 2705(a)(4)",
        },
    ) as r:
        assert r.status == 200, await r.text()
    ph.clock.advance(10 * 86400)  # past the first date: still sealed
    await ph.hub.privacy.tick()
    owner = await ph.login("owner", ph.passwords["owner"])
    assert not [n for n in await notices(owner) if n["kind"] == "override"]
    ph.clock.advance(80 * 86400)
    await ph.hub.privacy.tick()
    owner = await ph.login("owner", ph.passwords["owner"])
    told = [n for n in await notices(owner) if n["kind"] == "override"]
    assert len(told) == 1 and told[0]["body"]["delay_ordered_by"] == "Hon. B"
    assert [e["ordered_by"] for e in told[0]["body"]["delay_extensions"]] == ["Hon. B"]
    async with owner.post(path, json={"notice_delayed_until": int(ph.clock()) + 86400, "delay_ordered_by": "x"}) as r:
        assert r.status == 400 and "told" in (await r.json())["message"]


def test_every_audit_event_is_described_in_the_docs() -> None:
    from pathlib import Path

    from camhub.audit import EVENT_TYPES

    docs = "".join(
        (Path(__file__).resolve().parents[2] / "docs" / name).read_text()
        for name in ("privacy.md", "audit.md", "accounts.md")
    )
    missing = [name for name in EVENT_TYPES if f"`{name}`" not in docs]
    assert not missing, f"describe these audit events in docs/privacy.md: {missing}"


async def test_the_clock_task_running_during_an_invocation_does_not_tell_the_owners_twice(privacy_hub) -> None:
    import asyncio

    ph: PrivacyHub = await privacy_hub()
    owner = await ph.owner()
    document = await upload(owner)

    async def invoke() -> int:
        async with owner.post("/api/overrides", json=warrant(document, end=T0 + 1800)) as r:
            return r.status

    task = asyncio.create_task(invoke())
    while not task.done():
        await ph.hub.privacy.tick()
        await asyncio.sleep(0.005)
    assert task.result() == 201
    await ph.hub.privacy.tick()
    told = [n for n in await notices(owner) if n["kind"] == "override"]
    assert len(told) == 1 and told[0]["body"]["supplied"] is not None
    assert [e["event"] for _, e in entries(ph)].count("override_notice_sent") == 1
