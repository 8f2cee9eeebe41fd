"""Outside requests through the real HTTP API of a running hub: submit, decide, download, verify."""

from __future__ import annotations

import io
import json
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from camhub.privacy.trim import span_of

from .conftest import T0, PrivacyHub

pytestmark = pytest.mark.timeout(120)


def ask(cameras: list[str], window_start: int, window_end: int, **extra: object) -> dict[str, object]:
    body: dict[str, object] = {
        "identity": "Officer Dana Ruiz",
        "organisation": "Springfield PD",
        "contact": "ruiz@springfield.example",
        "purpose": "burglary on the street, 12 May",
        "case_reference": "SPD-2026-1187",
        "cameras": cameras,
        "start": window_start,
        "end": window_end,
        "wanted_by": T0 + 10 * 86400,
    }
    body.update(extra)
    return body


def audit_events(data: Path) -> list[tuple[int, dict]]:
    conn = sqlite3.connect(data / "audit" / "log.db")
    try:
        return [(i, json.loads(e)) for i, e in conn.execute("SELECT idx, entry FROM entries ORDER BY idx")]
    finally:
        conn.close()


def verify(package: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "camhub.cli.main", "export", "verify", str(package)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_narrowed_request_downloads_a_package_that_verifies_offline(privacy_hub, tmp_path: Path) -> None:
    ph: PrivacyHub = await privacy_hub()
    owner = await ph.owner()
    officer = await ph.requester(owner, "officer-ruiz")

    # Thirty minutes of one camera.
    async with officer.post("/api/requests", json=ask(["yard"], T0 + 300, T0 + 2100)) as r:
        assert r.status == 201, await r.text()
        request = await r.json()
    assert request["state"] == "pending" and request["share_link"] is None
    async with owner.get("/api/notices") as r:
        notices = await r.json()
    assert [n["kind"] for n in notices] == ["request_received"] and notices[0]["subject"] == request["id"]
    assert notices[0]["body"]["purpose"] == "burglary on the street, 12 May"

    # The owner narrows it to ten minutes whose ends fall inside clips.
    start, end = T0 + 610, T0 + 1210
    async with owner.post(
        f"/api/requests/{request['id']}/decision",
        json={"decision": "narrow", "start": start, "end": end, "message": "ten minutes"},
    ) as r:
        assert r.status == 200, await r.text()
        decided = await r.json()
    assert decided["state"] == "narrowed"
    assert decided["granted"] == {"cameras": ["yard"], "start_s": start, "end_s": end, "clip_ids": None}

    async with officer.get(f"/api/requests/{request['id']}") as r:
        seen = await r.json()
    assert seen["message"] == "ten minutes" and "votes" not in seen
    link = seen["share_link"]
    assert link["usable"] and link["max_downloads"] == 5
    async with ph.client().get(link["url"]) as r:  # the link alone is the credential
        assert r.status == 200
        assert r.headers["Content-Type"] == "application/zip"
        body = await r.read()
    package = tmp_path / "package.zip"
    package.write_bytes(body)

    # Every clip in it lies inside the narrowed window: whole clips and cut ones.
    with zipfile.ZipFile(io.BytesIO(body)) as z:
        manifest = json.loads(z.read("manifest.json"))
        names = [n for n in z.namelist() if n.startswith("clips/")]
        out = tmp_path / "out"
        z.extractall(out)
    assert len(names) == len(manifest["files"]) == 11  # 10:10-10:20 cut, nine whole, 20:00-20:10 cut
    assert sum(f["trimmed"] for f in manifest["files"]) == 2
    for name in names:
        clip_start = next(f for f in manifest["files"] if f["name"] == name)["start_ms"] / 1000
        first, last = span_of(out / name, clip_start)
        assert start <= first and last <= end + 0.001, (name, first, last)
    assert {f["camera"] for f in manifest["files"]} == {"yard"}

    # The export and the download were logged, in that order, before the bytes left.
    events = audit_events(ph.data)
    kinds = [e["event"] for _, e in events]
    built = kinds.index("export_built")
    downloaded = kinds.index("share_link_downloaded")
    assert kinds.index("consent_requested") < kinds.index("consent_decided") < built < downloaded

    # The transparency report, from the log: one request, narrowed, eleven clips released, one download.
    async with owner.get("/api/transparency") as r:
        report = await r.json()
    async with officer.get("/api/transparency") as r:
        assert r.status == 403
    totals = report["totals"]
    assert totals["requests"]["received"] == 1 and totals["requests"]["narrowed"] == 1
    assert totals["released_by_request"]["clips"] == 11 and totals["share_link_downloads"]["count"] == 1

    # Offline verification: accepted; one changed byte in a clip or the manifest is caught.
    result = verify(package)
    assert result.returncode == 0, result.stdout + result.stderr
    for member in (names[0], "manifest.json"):
        tampered = tmp_path / f"tampered-{member.replace('/', '_')}.zip"
        with zipfile.ZipFile(package) as src, zipfile.ZipFile(tampered, "w", zipfile.ZIP_STORED) as dst:
            for info in src.infolist():
                data = bytearray(src.read(info.filename))
                if info.filename == member:
                    data[len(data) // 2] ^= 0x01
                dst.writestr(info, bytes(data))
        result = verify(tampered)
        assert result.returncode == 1, (member, result.stdout, result.stderr)


async def test_requests_are_refused_with_the_field_named(privacy_hub) -> None:
    ph: PrivacyHub = await privacy_hub(clips=[])
    owner = await ph.owner()
    officer = await ph.requester(owner, "officer-ruiz")
    now = int(ph.clock())
    cases = [
        (ask(["garage"], T0, T0 + 60), 400, "garage"),
        (ask(["yard"], T0 + 60, T0), 400, "before it starts"),
        (ask(["yard"], T0, T0 + 25 * 3600), 400, "at most 24 h"),
        (ask(["yard"], now - 60, now + 60), 400, "future"),
        (ask(["yard"], T0, T0 + 60, wanted_by=T0), 400, "wanted_by"),
        (ask(["yard"], T0, T0 + 60, start="yesterday"), 400, "'start'"),
        (ask(["yard"], T0, T0 + 60, footage="all of it"), 400, "footage"),
        ({k: v for k, v in ask(["yard"], T0, T0 + 60).items() if k != "purpose"}, 400, "purpose"),
        (ask(["yard"], T0, T0 + 60, purpose="x" * 50_000), 413, "bytes"),
        ([1, 2, 3], 400, "object"),
    ]
    for body, status, says in cases:
        async with officer.post("/api/requests", json=body) as r:
            assert r.status == status, (body, await r.text())
            assert says in (await r.json())["message"], (says, await r.text())
    async with officer.post("/api/requests", data=b"{not json", headers={"Content-Type": "application/json"}) as r:
        assert r.status == 400
    async with ph.client().post("/api/requests", json=ask(["yard"], T0, T0 + 60)) as r:
        assert r.status == 401
    async with owner.post("/api/requests", json=ask(["yard"], T0, T0 + 60)) as r:
        assert r.status == 403  # households do not file outside requests
    async with officer.post(
        "/api/requests", json=ask(["yard"], T0, T0 + 60, start="2026-09-21T10:00:00+00:00", end="2026-09-21T10:05:00Z")
    ) as r:
        assert r.status == 201, await r.text()
        assert (await r.json())["end_s"] - (await r.json())["start_s"] == 300


async def test_one_requester_cannot_see_or_decide_another_requesters_request(privacy_hub) -> None:
    ph: PrivacyHub = await privacy_hub()
    owner = await ph.owner()
    alice = await ph.requester(owner, "insurer-alice")
    bob = await ph.requester(owner, "neighbour-bob")
    async with alice.post("/api/requests", json=ask(["porch"], T0, T0 + 600)) as r:
        request = await r.json()
    async with bob.get(f"/api/requests/{request['id']}") as r:
        assert r.status == 404
    async with bob.get("/api/requests") as r:
        assert await r.json() == []
    async with bob.post(f"/api/requests/{request['id']}/decision", json={"decision": "approve"}) as r:
        assert r.status == 403
    async with bob.get(f"/api/requests/{request['id']}/clips") as r:
        assert r.status == 403
    async with alice.get("/api/requests") as r:
        assert [x["id"] for x in await r.json()] == [request["id"]]
    for footage in ("/api/clips", f"/api/clips/{ph.clips[0].id}/video"):
        async with alice.get(footage) as r:
            assert r.status == 403, footage  # a requester token never reaches household footage


async def test_denied_expired_and_revoked_releases_serve_nothing(privacy_hub) -> None:
    ph: PrivacyHub = await privacy_hub(privacy={"share_link_downloads": 2, "request_expiry_days": 7})
    owner = await ph.owner()
    officer = await ph.requester(owner, "officer-ruiz")

    async def submit(start: int) -> str:
        async with officer.post("/api/requests", json=ask(["yard"], start, start + 300)) as r:
            assert r.status == 201, await r.text()
            return (await r.json())["id"]

    denied, approved, revoked, undecided = [await submit(T0 + i * 300) for i in range(4)]
    async with owner.post(f"/api/requests/{denied}/decision", json={"decision": "deny", "message": "no"}) as r:
        assert (await r.json())["state"] == "denied"
    async with officer.get(f"/api/requests/{denied}") as r:
        assert (await r.json())["share_link"] is None
    async with owner.post(f"/api/requests/{denied}/decision", json={"decision": "approve"}) as r:
        assert r.status == 409

    async with owner.post(f"/api/requests/{approved}/decision", json={"decision": "approve"}) as r:
        url = (await r.json())["share_link"]["url"]
    public = ph.client()
    for _ in range(2):
        async with public.get(url) as r:
            assert r.status == 200
    async with public.get(url) as r:
        assert r.status == 410 and "none are left" in (await r.json())["message"]

    async with owner.post(f"/api/requests/{revoked}/decision", json={"decision": "approve"}) as r:
        url = (await r.json())["share_link"]["url"]
    async with owner.post(f"/api/requests/{revoked}/revoke") as r:
        assert r.status == 200 and (await r.json())["share_link"]["usable"] is False
    async with public.get(url) as r:
        assert r.status == 410 and "revoked" in (await r.json())["message"]

    # Guessed, altered and traversing tokens look like missing links.
    for bad in (
        url[:-1] + ("A" if url[-1] != "A" else "B"),
        "/api/share/AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA",
        "/api/share/..%2F..%2Fprivacy.db",
        "/api/share/%2e%2e",
    ):
        async with public.get(bad) as r:
            assert r.status == 404, bad

    ph.clock.advance(7 * 86400)
    await ph.hub.privacy.tick()
    owner = await ph.login("owner", ph.passwords["owner"])  # the old session went idle meanwhile
    async with officer.get(f"/api/requests/{undecided}") as r:
        assert (await r.json())["state"] == "expired"
    async with owner.post(f"/api/requests/{undecided}/decision", json={"decision": "approve"}) as r:
        assert r.status == 409
    kinds = [e["event"] for _, e in audit_events(ph.data)]
    assert kinds.count("consent_expired") == 1 and kinds.count("share_link_revoked") == 1
    assert kinds.count("share_link_downloaded") == 2


async def test_share_links_expire_by_the_clock(privacy_hub) -> None:
    ph: PrivacyHub = await privacy_hub(privacy={"share_link_days": 1})
    owner = await ph.owner()
    officer = await ph.requester(owner, "officer-ruiz")
    async with officer.post("/api/requests", json=ask(["yard"], T0, T0 + 300)) as r:
        request_id = (await r.json())["id"]
    async with owner.post(f"/api/requests/{request_id}/decision", json={"decision": "approve"}) as r:
        url = (await r.json())["share_link"]["url"]
    ph.clock.advance(86400)
    async with ph.client().get(url) as r:
        assert r.status == 410 and "expired" in (await r.json())["message"]


async def test_deciding_needs_a_fresh_password(privacy_hub) -> None:
    ph: PrivacyHub = await privacy_hub(clips=[])
    owner = await ph.owner()
    officer = await ph.requester(owner, "officer-ruiz")
    async with officer.post("/api/requests", json=ask(["yard"], T0, T0 + 300)) as r:
        request_id = (await r.json())["id"]
    ph.clock.advance(301)
    async with owner.post(f"/api/requests/{request_id}/decision", json={"decision": "deny"}) as r:
        assert r.status == 401 and (await r.json())["error"] == "reauth_required"
    async with owner.post("/api/auth/reauth", json={"password": ph.passwords["owner"]}) as r:
        assert r.status == 200
    async with owner.post(f"/api/requests/{request_id}/decision", json={"decision": "deny"}) as r:
        assert r.status == 200


async def test_all_owners_policy_needs_every_owner_and_may_narrow_in_turn(privacy_hub) -> None:
    ph: PrivacyHub = await privacy_hub(privacy={"decision_policy": "all"})
    owner = await ph.owner()
    async with owner.post("/api/accounts", json={"username": "sam", "role": "owner"}) as r:
        assert r.status == 201, await r.text()
        one_time = (await r.json())["one_time_password"]
    sam = await ph.login("sam", one_time, "sam's own long password")
    officer = await ph.requester(owner, "officer-ruiz")
    async with officer.post("/api/requests", json=ask(["yard", "porch"], T0, T0 + 1200)) as r:
        request_id = (await r.json())["id"]
    async with owner.post(f"/api/requests/{request_id}/decision", json={"decision": "approve"}) as r:
        first = await r.json()
    assert first["state"] == "pending" and first["share_link"] is None
    async with owner.post(f"/api/requests/{request_id}/decision", json={"decision": "approve"}) as r:
        assert r.status == 409  # one vote each
    async with sam.post(
        f"/api/requests/{request_id}/decision", json={"decision": "narrow", "cameras": ["porch"], "end": T0 + 600}
    ) as r:
        second = await r.json()
    assert second["state"] == "narrowed", second
    assert second["granted"] == {"cameras": ["porch"], "start_s": T0, "end_s": T0 + 600, "clip_ids": None}
    assert [v["owner"] for v in second["votes"]] == ["owner", "sam"]


async def test_requests_command_lists_shows_and_decides(privacy_hub, tmp_path: Path) -> None:
    import asyncio
    import os

    ph: PrivacyHub = await privacy_hub()
    owner = await ph.owner()
    officer = await ph.requester(owner, "officer-ruiz")
    async with officer.post("/api/requests", json=ask(["porch"], T0, T0 + 600, legal_basis="s.19 PACE")) as r:
        request_id = (await r.json())["id"]
    env = {**os.environ, "CAMHUB_PASSWORD": ph.passwords["owner"]}

    async def camhub(*args: str, password: str | None = None) -> tuple[int, str, str]:
        run_env = {**env, "CAMHUB_PASSWORD": password} if password is not None else env
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "camhub.cli.main",
            "requests",
            "--url",
            ph.url,
            *args,
            env=run_env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        return proc.returncode or 0, out.decode(), err.decode()

    code, out, _ = await camhub("list", "--state", "pending")
    assert code == 0 and request_id in out and "Springfield PD" in out
    code, out, _ = await camhub("show", request_id)
    assert code == 0 and "burglary on the street" in out and "SPD-2026-1187" in out
    assert '  basis:    "s.19 PACE"' in out, out
    # Which account and token sent it, and how they came to exist (issue 9: identities must be unambiguous).
    assert '  from:     account "officer-ruiz" ("officer-ruiz", made by owner "owner"), token ' in out, out
    code, _, err = await camhub("decide", request_id, "--approve", "--start", str(T0 + 60))
    assert code == 2 and "--narrow" in err
    code, _, err = await camhub("decide", request_id, "--narrow", "--end", str(T0 + 9000))
    assert code == 1 and "narrowing may only shrink" in err
    code, out, _ = await camhub("decide", request_id, "--narrow", "--end", str(T0 + 300), "--message", "five minutes")
    assert code == 0 and "narrowed" in out and "/api/share/" in out
    code, _, err = await camhub("list", password="not the password at all")
    assert code == 1 and "wrong user name or password" in err
    code, _, err = await camhub("list", "--json")
    assert code == 0
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "camhub.cli.main",
        "requests",
        "--url",
        "http://127.0.0.1:9",
        "list",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err_bytes = await proc.communicate()
    assert proc.returncode == 2 and "cannot reach the hub at http://127.0.0.1:9" in err_bytes.decode()


async def test_a_registered_requester_can_ask_only_once_an_owner_approves(privacy_hub) -> None:
    ph: PrivacyHub = await privacy_hub(clips=[])
    owner = await ph.owner()
    public = ph.client()
    form = {
        "username": "insurer-acme",
        "identity": "Jo Claims",
        "organisation": "Acme Insurance",
        "contact": "claims@acme.example",
    }
    async with public.post("/api/requesters/register", json={**form, "extra": 1}) as r:
        assert r.status == 400 and "extra" in (await r.json())["message"]
    async with public.post("/api/requesters/register", json=form) as r:
        assert r.status == 201, await r.text()
        registered = await r.json()
    token, account = registered["token"], registered["username"]
    # The account is not the name asked for, so nothing collides with it or with a household name.
    assert account.startswith("reg-") and registered["display_name"] == "insurer-acme"
    async with public.post("/api/requesters/register", json={**form, "username": "owner"}) as r:
        assert r.status == 201 and (await r.json())["username"] != "owner"
    insurer = ph.client(token)
    async with insurer.post("/api/requests", json=ask(["yard"], T0, T0 + 60)) as r:
        assert r.status == 401  # not approved yet
    async with owner.get("/api/notices") as r:
        registered_notices = [n for n in await r.json() if n["kind"] == "requester_registered"]
    assert account in [n["subject"] for n in registered_notices]
    assert "insurer-acme" in [n["body"]["display_name"] for n in registered_notices]
    async with owner.get("/api/requesters/registrations?state=pending") as r:
        pending = {x["username"]: x for x in await r.json()}
    assert pending[account]["organisation"] == "Acme Insurance" and pending[account]["display_name"] == "insurer-acme"
    async with insurer.post(f"/api/requesters/registrations/{account}/approve") as r:
        assert r.status == 401
    async with owner.post(f"/api/requesters/registrations/{account}/maybe") as r:
        assert r.status == 404 and (await r.json())["error"] == "not_found"  # approve or refuse, nothing else
    async with owner.post(f"/api/requesters/registrations/{account}/approve") as r:
        assert r.status == 200 and (await r.json())["state"] == "approved"
    async with insurer.post("/api/requests", json=ask(["yard"], T0, T0 + 60)) as r:
        assert r.status == 201, await r.text()
    async with owner.post(f"/api/requesters/registrations/{account}/refuse") as r:
        assert r.status == 200
    async with insurer.get("/api/requests") as r:
        assert r.status == 401  # refused later: the token stops working
    events = [e["event"] for _, e in audit_events(ph.data)]
    assert events.count("setting_changed") == 2


async def test_owners_hear_of_requests_on_the_bus(privacy_hub) -> None:
    from camhub.bus import OwnerNotice

    ph: PrivacyHub = await privacy_hub(clips=[])
    owner = await ph.owner()
    officer = await ph.requester(owner, "officer-ruiz")
    with ph.hub.bus.subscribe(OwnerNotice) as notices:
        async with officer.post("/api/requests", json=ask(["yard"], T0, T0 + 60)) as r:
            request_id = (await r.json())["id"]
        notice = notices.queue.get_nowait()
    assert notice.kind == "request_received" and notice.subject == request_id
    assert notice.body["cameras"] == ["yard"] and "footage" not in json.dumps(notice.body)


async def test_a_restart_sweeps_what_an_interrupted_export_left(tmp_path: Path, keyframe_clip: Path) -> None:
    from camhub.audit import AuditLog
    from camhub.clock import ManualClock
    from camhub.durable import TMP_SUFFIX
    from camhub.privacy.service import Privacy
    from camhub.store.index import open_index

    data = tmp_path / "data"
    (data / "exports" / ".exp_0123").mkdir(parents=True)
    (data / "exports" / ".exp_0123" / "cut.mp4").write_bytes(keyframe_clip.read_bytes())
    (data / "exports" / f"exp_0123.zip{TMP_SUFFIX}").write_bytes(b"PK half a package")
    (data / "exports" / "exp_done.zip").write_bytes(b"PK a finished package")
    audit = await AuditLog.open(data, hub_id="home", clock=ManualClock(T0))
    index = open_index(data)
    try:
        privacy = await Privacy.open(
            data, index, audit, cameras=frozenset({"yard"}), owners=_no_owners, clock=ManualClock(T0)
        )
        await privacy.close()
    finally:
        index.close()
        await audit.close()
    assert sorted(p.name for p in (data / "exports").iterdir()) == ["exp_done.zip"]


async def _no_owners() -> list[str]:
    return []


async def test_two_owners_deciding_at_once_under_the_all_policy_finish_the_request(privacy_hub) -> None:
    import asyncio

    ph: PrivacyHub = await privacy_hub(privacy={"decision_policy": "all"})
    owner = await ph.owner()
    async with owner.post("/api/accounts", json={"username": "sam", "role": "owner"}) as r:
        one_time = (await r.json())["one_time_password"]
    sam = await ph.login("sam", one_time, "sam's own long password")
    officer = await ph.requester(owner, "officer-ruiz")
    async with officer.post("/api/requests", json=ask(["yard"], T0, T0 + 600)) as r:
        request_id = (await r.json())["id"]

    async def approve(session) -> int:
        async with session.post(f"/api/requests/{request_id}/decision", json={"decision": "approve"}) as r:
            return r.status

    assert await asyncio.gather(approve(owner), approve(sam)) == [200, 200]
    async with officer.get(f"/api/requests/{request_id}") as r:
        seen = await r.json()
    assert seen["state"] == "approved" and seen["share_link"]["usable"]


async def test_a_request_states_its_legal_basis_which_is_logged_shown_and_packaged(privacy_hub) -> None:
    ph: PrivacyHub = await privacy_hub(clips=[("porch", T0)])
    owner = await ph.owner()
    officer = await ph.requester(owner, "officer-ruiz")
    basis = "Police and Criminal Evidence Act 1984, s.19"
    for wrong, fault in ((basis + "\n", "control"), ("x" * 1001, "at most 1000"), ("", "")):
        async with officer.post("/api/requests", json=ask(["porch"], T0, T0 + 60, legal_basis=wrong)) as r:
            assert r.status == 400, wrong
            assert "legal_basis" in (message := (await r.json())["message"]) and fault in message, message
    async with officer.post("/api/requests", json=ask(["porch"], T0, T0 + 60)) as r:
        assert (await r.json())["legal_basis"] is None  # still optional for API clients
    async with officer.post("/api/requests", json=ask(["porch"], T0, T0 + 60, legal_basis=basis)) as r:
        request_id = (await r.json())["id"]
    async with owner.get(f"/api/requests/{request_id}") as r:
        assert (await r.json())["legal_basis"] == basis
    async with owner.post(f"/api/requests/{request_id}/decision", json={"decision": "approve"}) as r:
        url = (await r.json())["share_link"]["url"]
    async with officer.get(url) as r:
        package = await r.read()
    with zipfile.ZipFile(io.BytesIO(package)) as zf:
        assert json.loads(zf.read("manifest.json"))["basis"]["legal_basis"] == basis
    logged = [e for _, e in audit_events(ph.data) if e["event"] == "consent_requested"]
    assert logged[-1]["fields"]["legal_basis"] == basis and logged[-2]["fields"]["legal_basis"] is None


async def test_requests_expiring_together_are_logged_in_one_audit_transaction(privacy_hub) -> None:
    ph: PrivacyHub = await privacy_hub(privacy={"request_expiry_days": 7})
    owner = await ph.owner()
    officer = await ph.requester(owner, "officer-ruiz")
    ids = []
    for i in range(3):
        async with officer.post("/api/requests", json=ask(["yard"], T0 + i * 300, T0 + i * 300 + 300)) as r:
            ids.append((await r.json())["id"])
    ph.clock.advance(7 * 86400)
    await ph.hub.privacy.tick()
    for request_id in ids:
        async with officer.get(f"/api/requests/{request_id}") as r:
            assert (await r.json())["state"] == "expired"
    expired = [(i, e["fields"]["request_id"]) for i, e in audit_events(ph.data) if e["event"] == "consent_expired"]
    assert sorted(request_id for _, request_id in expired) == sorted(ids)
    first, last = expired[0][0], expired[-1][0]
    assert last - first == 2  # consecutive entries
    conn = sqlite3.connect(ph.data / "audit" / "log.db")
    sizes = [size for (size,) in conn.execute("SELECT size FROM checkpoints")]
    conn.close()
    assert not [size for size in sizes if first < size <= last]  # no commit between them: one transaction
