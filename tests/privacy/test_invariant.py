"""The egress invariant, as a property test through the real HTTP API of a running hub.

Hypothesis drives random sequences of requests, decisions (approve, narrow,
deny), overrides, clock jumps (expiring requests and links), revocations,
downloads, guessed and traversing tokens, requesters reading each other's
requests, self-registrations (under names owners also issue tokens for),
owners approving and refusing them, and owners issuing tokens (to a name
again, merged with its account or not, and into a self-registered account,
which is refused). After every step:

- every byte of footage a requester receives lies inside the scope an owner
  approved (after narrowing) or an override named: camera, window and
  chosen clips, checked on the files' own packet times;
- every download that succeeded had its `share_link_downloaded` entry in
  the audit log, after the `export_built` entry of its package, by the time
  the response began;
- expired, revoked, used-up, denied, pending and never-approved footage is
  never served, and other requesters' requests look like missing ones;
- a requester token sees (and so can download) exactly the requests it
  submitted, or its account's when the owner issued it to see them: never
  by a shared name, never a registration's that took the same name.

One hub serves every example (starting one per example would cost a minute
of Argon2 and SQLite set-up), so state accumulates across examples, which
only makes the sequences longer.
"""

from __future__ import annotations

import io
import json
import sqlite3
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from camhub.privacy.legal_process import KINDS as OVERRIDE_KINDS
from camhub.privacy.trim import span_of
from camhub.store.files import sha256_of

from .conftest import CLIP_SECONDS, T0, PrivacyHub, window_clips

pytestmark = pytest.mark.timeout(600)

CAMERAS = ("yard", "porch")
PDF = b"%PDF-1.4\n% order\n%%EOF\n"


@dataclass
class Release:
    """What a share link may give: the granted scope, and what the model expects of the link."""

    url: str
    cameras: tuple[str, ...]
    start_s: int
    end_s: int
    clip_ids: tuple[int, ...] | None
    expires_s: int
    max_downloads: int
    downloads: int = 0
    revoked: bool = False


@dataclass
class Holder:
    """One requester token, and what the model expects of it."""

    label: str  # unique across the run: a request remembers which token sent it
    session: aiohttp.ClientSession
    account: str
    display_name: str
    sees_account: bool
    expires_at: float
    state: str  # enabled | pending | refused (registrations wait for an owner)

    def usable(self, now: float) -> bool:
        return self.state == "enabled" and now < self.expires_at


@dataclass
class Asked:
    id: str
    by: str  # the label of the token that submitted it
    account: str

    def seen_by(self, holder: Holder) -> bool:
        return self.by == holder.label or (holder.sees_account and self.account == holder.account)


@dataclass
class Model:
    ph: PrivacyHub
    owner: aiohttp.ClientSession
    holders: list[Holder] = field(default_factory=list)  # this example's tokens
    requests: list[Asked] = field(default_factory=list)
    made: int = 0
    releases: list[Release] = field(default_factory=list)
    by_request: dict[str, Release] = field(default_factory=dict)
    document: str = ""
    proven_at: float = 0.0
    logged_in_at: float = 0.0
    served: int = 0

    def __repr__(self) -> str:  # Hypothesis prints the fixture with each failing example
        return f"Model({len(self.requests)} requests, {len(self.releases)} releases, {self.served} served)"

    async def fresh_owner(self) -> None:
        now = self.ph.clock()
        if now - self.logged_in_at > 11 * 3600:
            self.owner = await self.ph.login("owner", self.ph.passwords["owner"])
            self.logged_in_at = self.proven_at = now
        elif now - self.proven_at > 250:
            async with self.owner.post("/api/auth/reauth", json={"password": self.ph.passwords["owner"]}) as r:
                assert r.status == 200, await r.text()
            self.proven_at = now


@pytest.fixture
async def model(privacy_hub) -> Model:
    ph: PrivacyHub = await privacy_hub(
        privacy={"share_link_downloads": 2, "share_link_days": 2, "request_expiry_days": 3},
        clips=window_clips(CAMERAS, 30),
    )
    owner = await ph.owner()
    m = Model(ph, owner, logged_in_at=ph.clock(), proven_at=ph.clock())
    async with owner.post("/api/documents", data=PDF, headers={"Content-Type": "application/pdf"}) as r:
        m.document = (await r.json())["sha256"]
    return m


windows = st.tuples(st.integers(-5, 32), st.integers(1, 35)).map(
    lambda t: (T0 + 60 * t[0] + 7, T0 + 60 * t[0] + 7 + 60 * t[1])
)
camera_sets = st.lists(st.sampled_from(CAMERAS), min_size=1, max_size=2, unique=True)
NAMES = ("alice", "bob", "carol")
actions = st.one_of(
    st.tuples(st.just("submit"), st.integers(0, 50), camera_sets, windows),
    st.tuples(st.just("register"), st.sampled_from(NAMES)),
    st.tuples(st.just("registration"), st.integers(0, 50), st.booleans()),
    st.tuples(st.just("issue"), st.sampled_from((*NAMES, "a registration")), st.booleans(), st.integers(0, 50)),
    st.tuples(
        st.just("decide"),
        st.integers(0, 50),
        st.sampled_from(("approve", "narrow", "deny")),
        st.floats(0, 0.9),
        st.floats(0, 0.9),
        st.booleans(),
        st.booleans(),
    ),
    st.tuples(st.just("override"), st.sampled_from(OVERRIDE_KINDS), camera_sets, windows),
    st.tuples(st.just("advance"), st.sampled_from((60, 3600, 86400, 2 * 86400, 3 * 86400))),
    st.tuples(st.just("revoke"), st.integers(0, 50)),
    # -1: a stranger holding any link (the link is the credential); else a token, through its own requests
    st.tuples(st.just("download"), st.one_of(st.just(-1), st.integers(0, 50)), st.integers(0, 50)),
    st.tuples(st.just("guess"), st.sampled_from(("alter", "random", "traverse", "empty-tag"))),
    st.tuples(st.just("peek"), st.integers(0, 50), st.integers(0, 50)),
)


def audit_entries(data: Path) -> list[dict[str, Any]]:
    conn = sqlite3.connect(data / "audit" / "log.db")
    try:
        return [json.loads(e) for (e,) in conn.execute("SELECT entry FROM entries ORDER BY idx")]
    finally:
        conn.close()


def holder(m: Model, k: int) -> Holder | None:
    return m.holders[k % len(m.holders)] if m.holders else None


def label(m: Model, kind: str) -> str:
    m.made += 1
    return f"{kind}-{m.made}"


async def issue(m: Model, name: str, sees_account: bool, k: int) -> None:
    """An owner issues a token: to a name (perhaps one a registration chose), or into a self-registered account."""
    await m.fresh_owner()
    registered = [h for h in m.holders if h.account.startswith("reg-")]
    if name == "a registration":
        if not registered:
            return
        name = registered[k % len(registered)].account
    body = {
        "requester": name,
        "name": "property test",
        "expires_in_s": 365 * 86400,
        "sees": "account_requests" if sees_account else "own_requests",
    }
    async with m.owner.post("/api/requesters/tokens", json=body) as r:
        issued = await r.json()
        if name.startswith("reg-"):
            assert r.status == 409 and "self-registered" in issued["message"], issued
            return
        assert r.status == 201, issued
    assert issued["account"]["account"] == name and issued["account"]["origin"] == "issued_by_owner", issued
    # The owner is shown the registrations that chose this name (this example's, at least).
    claimed = {a["account"] for a in issued["same_name"]}
    assert {h.account for h in registered if h.display_name == name} <= claimed, issued
    assert all(a["origin"] == "self_registered" for a in issued["same_name"]), issued
    m.holders.append(
        Holder(label(m, name), m.ph.client(issued["token"]), name, name, sees_account, issued["expires_at"], "enabled")
    )


async def register(m: Model, name: str) -> None:
    form = {"username": name, "identity": name, "organisation": "org", "contact": f"{name}@example.org"}
    async with m.ph.client().post("/api/requesters/register", json=form) as r:
        made = await r.json()
        assert r.status in (201, 429), made  # 429: 50 registrations wait already (the hub serves every example)
        if r.status == 429:
            return
    assert made["display_name"] == name and made["username"] != name, made
    m.holders.append(
        Holder(
            label(m, "reg"), m.ph.client(made["token"]), made["username"], name, False, made["expires_at"], "pending"
        )
    )


async def registration(m: Model, k: int, approve: bool) -> None:
    registered = [h for h in m.holders if h.account.startswith("reg-")]
    if not registered:
        return
    h = registered[k % len(registered)]
    await m.fresh_owner()
    async with m.owner.post(f"/api/requesters/registrations/{h.account}/{'approve' if approve else 'refuse'}") as r:
        decided = await r.json()
        assert r.status == 200 and decided["display_name"] == h.display_name, decided
    h.state = "enabled" if approve else "refused"


async def submit(m: Model, k: int, cameras: list[str], window: tuple[int, int]) -> None:
    h = holder(m, k)
    if h is None:
        return
    body = {
        "identity": h.label,
        "organisation": "org",
        "contact": "desk@example.org",
        "purpose": "an incident",
        "cameras": cameras,
        "start": window[0],
        "end": window[1],
        "wanted_by": int(m.ph.clock()) + 86400,
    }
    async with h.session.post("/api/requests", json=body) as r:
        if not h.usable(m.ph.clock()):
            assert r.status == 401, (await r.text(), h)
            return
        assert r.status in (201, 429), await r.text()
        if r.status == 201:
            m.requests.append(Asked((await r.json())["id"], h.label, h.account))


async def visible(m: Model, h: Holder) -> list[dict[str, Any]]:
    """What a token lists: exactly the requests it may see, or 401 once it no longer works."""
    async with h.session.get("/api/requests") as r:
        if not h.usable(m.ph.clock()):
            assert r.status == 401, (await r.text(), h)
            return []
        listed = await r.json()
        assert r.status == 200, listed
    # The model holds every request the hub has (it serves every example), with the token that sent it.
    expected = {a.id for a in m.requests if a.seen_by(h)}
    assert {x["id"] for x in listed} == expected, (h, listed)
    return listed


async def decide(m: Model, k: int, verb: str, cut_start: float, cut_end: float, fewer: bool, pick: bool) -> None:
    if not m.requests:
        return
    request_id = m.requests[k % len(m.requests)].id
    await m.fresh_owner()
    async with m.owner.get(f"/api/requests/{request_id}") as r:
        before = await r.json()
    body: dict[str, Any] = {"decision": verb}
    if verb == "narrow":
        start, end = before["start_s"], before["end_s"]
        length = end - start
        body["start"] = start + int(length * cut_start / 2)
        body["end"] = end - int(length * cut_end / 2)
        if fewer and len(before["cameras"]) > 1:
            body["cameras"] = before["cameras"][:1]
        if pick:
            async with m.owner.get(f"/api/requests/{request_id}/clips") as r:
                clips = await r.json()
            inside = [
                c["id"]
                for c in clips
                if c["camera"] in body.get("cameras", before["cameras"])
                and c["start_time"] < body["end"]
                and c["end_time"] > body["start"]
            ]
            if inside:
                body["clip_ids"] = inside[::2]
    async with m.owner.post(f"/api/requests/{request_id}/decision", json=body) as r:
        decided = await r.json()
        if before["state"] != "pending" or m.ph.clock() >= before["expires_s"]:
            assert r.status == 409, decided
            return
        assert r.status == 200, decided
    if verb == "deny":
        assert decided["state"] == "denied" and decided["share_link"] is None
        return
    granted = decided["granted"]
    assert set(granted["cameras"]) <= set(before["cameras"])
    assert before["start_s"] <= granted["start_s"] < granted["end_s"] <= before["end_s"]
    link = decided["share_link"]
    release = Release(
        link["url"],
        tuple(granted["cameras"]),
        granted["start_s"],
        granted["end_s"],
        tuple(granted["clip_ids"]) if granted["clip_ids"] else None,
        link["expires_s"],
        link["max_downloads"],
    )
    m.releases.append(release)
    m.by_request[request_id] = release


async def override(m: Model, kind: str, cameras: list[str], window: tuple[int, int]) -> None:
    await m.fresh_owner()
    body = {
        "kind": kind,
        "authority": "County Court",
        "jurisdiction": "State",
        "case_number": "C-1",
        "judge": "Hon. J. Doe",
        "issued": int(m.ph.clock()) - 3600,
        "agency": "PD",
        "officer_contact": "desk",
        "cameras": cameras,
        "start": window[0],
        "end": window[1],
        "document_sha256": m.document,
        "notice": "none",
    }
    async with m.owner.post("/api/overrides", json=body) as r:
        made = await r.json()
        assert r.status == 201, made
    if kind == "preservation":
        assert made["share_link"] is None
        return
    link = made["share_link"]
    m.releases.append(
        Release(link["url"], tuple(cameras), window[0], window[1], None, link["expires_s"], link["max_downloads"])
    )


async def revoke(m: Model, k: int) -> None:
    if not m.requests:
        return
    request_id = m.requests[k % len(m.requests)].id
    await m.fresh_owner()
    async with m.owner.post(f"/api/requests/{request_id}/revoke") as r:
        if request_id in m.by_request:
            assert r.status == 200, await r.text()
            m.by_request[request_id].revoked = True
        else:
            assert r.status == 404


async def download(m: Model, who: int, k: int) -> None:
    """Fetch a release through a link one's own requests show (or, for a stranger, any link) and check it."""
    h = holder(m, who) if who >= 0 else None
    if h is None:
        if not m.releases:
            return
        release = m.releases[k % len(m.releases)]
        session = m.ph.client()
    else:
        # A requester reaches footage only through the links of the requests it sees.
        shown = [x for x in await visible(m, h) if x["share_link"] is not None]
        if not shown:
            return
        mine = shown[k % len(shown)]
        release = m.by_request[mine["id"]]
        assert mine["share_link"]["url"] == release.url, (mine, release)
        session = h.session
    before = len(audit_entries(m.ph.data))
    async with session.get(release.url) as r:
        now = m.ph.clock()
        usable = not release.revoked and now < release.expires_s and release.downloads < release.max_downloads
        if not usable:
            assert r.status == 410, (await r.text(), release)
            return
        assert r.status == 200, (await r.text(), release)
        # By the time the response began, its download entry was durable, after its export.
        entries = audit_entries(m.ph.data)
        assert len(entries) > before and entries[-1]["event"] == "share_link_downloaded"
        export_id = entries[-1]["fields"]["export_id"]
        built = [
            i for i, e in enumerate(entries) if e["event"] == "export_built" and e["fields"]["export_id"] == export_id
        ]
        assert built and built[0] < len(entries) - 1
        body = await r.read()
    release.downloads += 1
    m.served += 1
    check_package(m, body, release)


def check_package(m: Model, body: bytes, release: Release) -> None:
    out = m.ph.data.parent / "received"
    with zipfile.ZipFile(io.BytesIO(body)) as z:
        manifest = json.loads(z.read("manifest.json"))
        for f in manifest["files"]:
            target = out / f["sha256"]
            target.write_bytes(z.read(f["name"])) if out.exists() else (
                out.mkdir(),
                target.write_bytes(z.read(f["name"])),
            )
            assert sha256_of(target) == f["sha256"]
            assert f["camera"] in release.cameras, (f, release)
            if release.clip_ids is not None:
                assert f["source_clip_id"] in release.clip_ids, (f, release)
            first, last = span_of(target, f["start_ms"] / 1000)
            assert release.start_s <= first + 0.001 and last <= release.end_s + 0.001, (f, first, last, release)
            assert last - first <= CLIP_SECONDS + 0.5
            target.unlink()


async def guess(m: Model, how: str) -> None:
    public = m.ph.client()
    if how == "alter" and m.releases:
        url = m.releases[0].url
        token = url.rsplit("/", 1)[1]
        flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
        path = f"/api/share/{flipped}"
    elif how == "traverse":
        path = "/api/share/..%2F..%2Faudit%2Fsigning.key"
    elif how == "empty-tag" and m.releases:
        path = m.releases[0].url.rsplit(".", 1)[0] + "."
    else:
        path = "/api/share/AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA"
    async with public.get(path) as r:
        assert r.status == 404, path


async def peek(m: Model, who: int, k: int) -> None:
    h = holder(m, who)
    if not m.requests or h is None:
        return
    asked = m.requests[k % len(m.requests)]
    request_id = asked.id
    async with h.session.get(f"/api/requests/{request_id}") as r:
        if not h.usable(m.ph.clock()):
            assert r.status == 401, h
            return
        if not asked.seen_by(h):
            assert r.status == 404, (asked, h)
            return
        seen = await r.json()
        assert r.status == 200, seen
    released = seen["state"] in ("approved", "narrowed")
    assert (seen["share_link"] is not None) == released, seen
    assert (request_id in m.by_request) == released


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(steps=st.lists(actions, min_size=4, max_size=24))
async def test_no_footage_leaves_outside_an_approved_or_overridden_scope(model: Model, steps: list[tuple]) -> None:
    m = model
    m.holders = []
    for name in ("alice", "bob"):
        await issue(m, name, False, 0)
    for step in steps:
        kind, *args = step
        if kind == "submit":
            await submit(m, *args)
        elif kind == "register":
            await register(m, *args)
        elif kind == "registration":
            await registration(m, *args)
        elif kind == "issue":
            await issue(m, *args)
        elif kind == "decide":
            await decide(m, *args)
        elif kind == "override":
            await override(m, *args)
        elif kind == "advance":
            m.ph.clock.advance(args[0])
            await m.ph.hub.privacy.tick()
        elif kind == "revoke":
            await revoke(m, *args)
        elif kind == "download":
            await download(m, *args)
        elif kind == "guess":
            await guess(m, *args)
        elif kind == "peek":
            await peek(m, *args)
    # Every token of this example sees exactly its own requests (or its merged account's).
    for h in m.holders:
        await visible(m, h)
    # Across everything so far: each download the model saw was logged, and nothing else was.
    entries = audit_entries(m.ph.data)
    event(f"packages served so far: {'none' if not m.served else 'some' if m.served < 10 else '10 or more'}")
    event(f"releases so far: {'none' if not m.releases else 'some'}")
    assert sum(e["event"] == "share_link_downloaded" for e in entries) == m.served
