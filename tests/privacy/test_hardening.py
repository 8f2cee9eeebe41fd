"""Edge cases a review found, each through a running hub: odd input, leaks of sealed overrides, races of order."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

import pytest

from .conftest import T0, PrivacyHub
from .test_consent import ask
from .test_overrides import PDF, upload, warrant

pytestmark = pytest.mark.timeout(120)


async def test_votes_count_in_the_order_cast_not_by_owner_name(privacy_hub) -> None:
    ph: PrivacyHub = await privacy_hub(privacy={"decision_policy": "all"})
    owner = await ph.owner()
    sessions = {"owner": owner}
    for name in ("zed", "amy"):
        async with owner.post("/api/accounts", json={"username": name, "role": "owner"}) as r:
            one_time = (await r.json())["one_time_password"]
        sessions[name] = await ph.login(name, one_time, f"{name}'s own long password")
    officer = await ph.requester(owner, "officer-ruiz")
    async with officer.post("/api/requests", json=ask(["yard", "porch"], T0, T0 + 600)) as r:
        request_id = (await r.json())["id"]
    path = f"/api/requests/{request_id}/decision"
    async with sessions["zed"].post(path, json={"decision": "approve"}) as r:
        assert r.status == 200
    async with sessions["amy"].post(path, json={"decision": "narrow", "cameras": ["yard"], "end": T0 + 120}) as r:
        assert r.status == 200
    async with owner.post(path, json={"decision": "approve"}) as r:
        final = await r.json()
    # All three voted within the same second; amy's narrowing must stand.
    assert final["state"] == "narrowed"
    assert final["granted"] == {"cameras": ["yard"], "start_s": T0, "end_s": T0 + 120, "clip_ids": None}


async def test_a_sealed_preservation_hold_is_hidden_and_only_its_invoker_may_release_it(privacy_hub) -> None:
    ph: PrivacyHub = await privacy_hub(clips=[])
    owner = await ph.owner()
    for name in ("cust", "cust2"):
        async with owner.post("/api/accounts", json={"username": name, "role": "custodian"}) as r:
            one_time = (await r.json())["one_time_password"]
        await ph.login(name, one_time, f"{name}'s long password")
    cust = await ph.login("cust", "cust's long password")
    cust2 = await ph.login("cust2", "cust2's long password")
    document = await upload(cust)
    until = int(ph.clock()) + 30 * 86400
    async with cust.post(
        "/api/overrides",
        json=warrant(
            document, kind="preservation", notice="delayed", notice_delayed_until=until, delay_ordered_by="Hon. X"
        ),
    ) as r:
        hold_id = (await r.json())["hold_id"]
    async with owner.get("/api/holds") as r:
        assert await r.json() == []
    async with owner.post(f"/api/holds/{hold_id}/release") as r:
        assert r.status == 404
    async with cust.get("/api/holds") as r:
        assert [h["id"] for h in await r.json()] == [hold_id]
    ph.clock.advance(until - int(ph.clock()))
    await ph.hub.privacy.tick()
    owner = await ph.login("owner", ph.passwords["owner"])
    cust = await ph.login("cust", "cust's long password")
    cust2 = await ph.login("cust2", "cust2's long password")
    async with owner.get("/api/holds") as r:
        assert [h["id"] for h in await r.json()] == [hold_id]  # told now
    async with owner.post(f"/api/holds/{hold_id}/release") as r:
        assert r.status == 403 and "cust" in (await r.json())["message"]
    async with cust2.post(f"/api/holds/{hold_id}/release") as r:
        assert r.status == 404
    async with cust.post(f"/api/holds/{hold_id}/release") as r:
        assert r.status == 200


async def test_only_the_invoker_sees_an_overrides_share_link(privacy_hub) -> None:
    ph: PrivacyHub = await privacy_hub()
    owner = await ph.owner()
    async with owner.post("/api/accounts", json={"username": "cust2", "role": "custodian"}) as r:
        one_time = (await r.json())["one_time_password"]
    cust2 = await ph.login("cust2", one_time, "cust2's long password")
    async with owner.post("/api/overrides", json=warrant(await upload(owner))) as r:
        made = await r.json()
    assert made["share_link"]["url"].startswith("/api/share/")
    async with owner.get(f"/api/overrides/{made['id']}") as r:
        assert "url" in (await r.json())["share_link"]
    for path in ("/api/overrides", f"/api/overrides/{made['id']}"):
        async with cust2.get(path) as r:
            body = await r.json()
        seen = body[0] if isinstance(body, list) else body
        assert seen["share_link"]["max_downloads"] == 5 and "url" not in seen["share_link"], path


async def test_a_large_document_is_stored_whole_and_odd_input_is_refused_not_a_crash(privacy_hub) -> None:
    ph: PrivacyHub = await privacy_hub()
    owner = await ph.owner()
    big = PDF + b"%" + bytes(range(256)) * 12_000 + b"\n%%EOF\n"  # about 3 MB, arrives in many chunks
    async with owner.post("/api/documents", data=io.BytesIO(big), headers={"Content-Type": "application/pdf"}) as r:
        assert r.status == 201, await r.text()
        assert (await r.json()) == {"sha256": hashlib.sha256(big).hexdigest(), "bytes": len(big)}
    officer = await ph.requester(owner, "officer-ruiz")
    json_headers = {"Content-Type": "application/json"}
    lone = b'{"username": "\\ud800", "password": "x"}'
    async with ph.client().post("/api/auth/login", data=lone, headers=json_headers) as r:
        assert r.status == 400
    body = json.dumps(ask(["yard"], T0, T0 + 60)).replace('"Springfield PD"', '"\\ud800"').encode()
    async with officer.post("/api/requests", data=body, headers=json_headers) as r:
        assert r.status == 400 and "surrogate" in (await r.json())["message"]
    async with officer.post("/api/requests", json=ask(["yard"], 2**40 - 1, 2**40 - 2)) as r:
        assert r.status == 400 and "out of range" in (await r.json())["message"]
    async with officer.post("/api/requests", json=ask(["yard"], T0, T0 + 60, wanted_by=253_402_300_799)) as r:
        assert r.status == 400 and "within a year" in (await r.json())["message"]
    async with officer.post(
        "/api/requests", data=json.dumps(ask(["yard"], T0, T0 + 60)), headers={"Content-Type": "text/plain"}
    ) as r:
        assert r.status == 400 and "application/json" in (await r.json())["message"]
    for path in ("/api/share/%C3%A9", "/api/clips/%C2%B2", "/api/clips/99999999999999999999999"):
        async with owner.get(path) as r:
            assert r.status == 404, path
    async with owner.get("/api/clips?cursor=1_99999999999999999999999") as r:
        assert r.status == 400


async def test_a_share_link_serves_whole_downloads_only(privacy_hub) -> None:
    ph: PrivacyHub = await privacy_hub()
    owner = await ph.owner()
    officer = await ph.requester(owner, "officer-ruiz")
    async with officer.post("/api/requests", json=ask(["yard"], T0, T0 + 300)) as r:
        request_id = (await r.json())["id"]
    async with owner.post(f"/api/requests/{request_id}/decision", json={"decision": "approve"}) as r:
        url = (await r.json())["share_link"]["url"]
    public = ph.client()
    async with public.head(url) as r:
        assert r.status == 405
    async with public.get(url, headers={"Range": "bytes=0-99", "If-None-Match": "*"}) as r:
        assert r.status == 200 and r.headers["Accept-Ranges"] == "none"
        body = await r.read()
    with zipfile.ZipFile(io.BytesIO(body)) as z:
        assert z.testzip() is None
    async with officer.get(f"/api/requests/{request_id}") as r:
        assert (await r.json())["share_link"]["downloads"] == 1


async def test_a_clip_gone_from_the_disk_is_left_out_and_the_rest_released(privacy_hub) -> None:
    ph: PrivacyHub = await privacy_hub()
    owner = await ph.owner()
    officer = await ph.requester(owner, "officer-ruiz")
    gone = next(c for c in ph.clips if c.camera == "yard" and c.start_time == T0 + 60)
    (ph.data / gone.path).unlink()
    async with officer.post("/api/requests", json=ask(["yard"], T0, T0 + 300)) as r:
        request_id = (await r.json())["id"]
    async with owner.post(f"/api/requests/{request_id}/decision", json={"decision": "approve"}) as r:
        assert r.status == 200, await r.text()
        url = (await r.json())["share_link"]["url"]
    async with ph.client().get(url) as r:
        with zipfile.ZipFile(io.BytesIO(await r.read())) as z:
            manifest = json.loads(z.read("manifest.json"))
    ids = [f["source_clip_id"] for f in manifest["files"]]
    assert gone.id not in ids and len(ids) == 4
    async with owner.post(f"/api/requests/{request_id}/release") as r:
        assert r.status == 409  # released already; the retry is for a release that failed


async def test_another_site_cannot_act_with_the_owners_cookie(privacy_hub) -> None:
    ph: PrivacyHub = await privacy_hub(clips=[])
    owner = await ph.owner()
    officer = await ph.requester(owner, "officer-ruiz")
    async with officer.post("/api/requests", json=ask(["yard"], T0, T0 + 60)) as r:
        request_id = (await r.json())["id"]
    path = f"/api/requests/{request_id}/decision"
    async with owner.post(path, json={"decision": "deny"}, headers={"Origin": "http://evil.example"}) as r:
        assert r.status == 403 and "evil.example" in (await r.json())["message"]
    async with owner.post("/api/auth/logout", headers={"Origin": "http://127.0.0.1:1"}) as r:
        assert r.status == 403  # another port is another origin
    async with owner.get("/api/requests", headers={"Origin": "http://evil.example"}) as r:
        assert r.status == 200  # reading is not acting (and CORS keeps the answer from the other page)
    async with owner.post(path, json={"decision": "deny"}, headers={"Origin": ph.url}) as r:
        assert r.status == 200, await r.text()


async def test_packages_no_link_can_fetch_are_deleted(privacy_hub) -> None:
    ph: PrivacyHub = await privacy_hub(privacy={"share_link_downloads": 1, "share_link_days": 2})
    owner = await ph.owner()
    officer = await ph.requester(owner, "officer-ruiz")
    made = {}
    for name, start in (("fetched", T0), ("revoked", T0 + 300), ("expired", T0 + 600), ("waiting", T0 + 900)):
        async with officer.post("/api/requests", json=ask(["yard"], start, start + 120)) as r:
            request_id = (await r.json())["id"]
        async with owner.post(f"/api/requests/{request_id}/decision", json={"decision": "approve"}) as r:
            made[name] = await r.json()
    exports = ph.data / "exports"
    assert len(list(exports.glob("*.zip"))) == 4
    async with ph.client().get(made["fetched"]["share_link"]["url"]) as r:
        assert r.status == 200
    async with owner.post(f"/api/requests/{made['revoked']['id']}/revoke") as r:
        assert r.status == 200
    await ph.hub.privacy.tick()
    assert sorted(p.stem for p in exports.glob("*.zip")) == sorted(made[n]["export_id"] for n in ("expired", "waiting"))
    ph.clock.advance(2 * 86400)
    await ph.hub.privacy.tick()
    assert list(exports.glob("*.zip")) == []  # the last two links expired
    async with ph.client().get(made["waiting"]["share_link"]["url"]) as r:
        assert r.status == 410


async def test_issuing_a_requester_token_checks_its_fields(privacy_hub) -> None:
    ph: PrivacyHub = await privacy_hub(clips=[])
    owner = await ph.owner()
    for body, says in (
        ({"name": "x"}, "'requester' is required"),
        ({"requester": "pd", "name": "x", "expires_in_s": 0}, "'expires_in_s'"),
        ({"requester": "pd", "name": "x", "expires_in_s": True}, "'expires_in_s'"),
        ({"requester": "pd", "name": "x", "scope": "all"}, "'scope'"),
    ):
        async with owner.post("/api/requesters/tokens", json=body) as r:
            assert r.status == 400 and says in (await r.json())["message"], body
    async with owner.post("/api/requesters/tokens", json={"requester": "pd", "name": "x", "expires_in_s": 3600}) as r:
        assert r.status == 201 and (await r.json())["expires_at"] == ph.clock() + 3600
