"""The transparency report, computed from a real audit log: counts, CLI, route, and a property test."""

from __future__ import annotations

import asyncio
import calendar
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from camhub.audit import (
    AuditError,
    AuditEvent,
    AuditLog,
    ConsentDecided,
    ConsentExpired,
    ConsentRequested,
    ExportBuilt,
    HoldPlaced,
    HubStarted,
    OverrideFollowUpFiled,
    OverrideFollowUpMissed,
    OverrideInvoked,
    OwnerLoggedIn,
    ShareLinkCreated,
    ShareLinkDownloaded,
)
from camhub.audit.canonical import encode_entry
from camhub.clock import ManualClock
from camhub.http.app import error_middleware
from camhub.privacy.legal_process import KINDS as OVERRIDE_KINDS
from camhub.privacy.transparency.routes import REPORT_OP, REPORT_SCHEMA, report_answer
from camhub.privacy.transparency.source import report_for_dir, report_for_log
from camhub.privacy.transparency.tally import LAYOUT, Counts, FlaggedEmergency, build_report
from camhub.privacy.transparency.text import report_text

DAY = 86_400


def utc(year: int, month: int, day: int, hour: int = 12) -> int:
    return calendar.timegm((year, month, day, hour, 0, 0))


JAN, FEB = "2026-01", "2026-02"
NOW = utc(2026, 2, 20)


def request(rid: str, t: int) -> ConsentRequested:
    return ConsentRequested(
        time=t,
        actor=f"officer-{rid}",
        request_id=rid,
        identity="Officer Ünal",
        organisation="City PD",
        contact="desk@example.org",
        purpose="burglary on Elm St",
        case_reference="2026-0042",
        cameras=("front",),
        start_s=t - DAY,
        end_s=t - DAY + 3600,
        wanted_by_s=t + 3 * DAY,
        expires_s=t + 7 * DAY,
    )


def decided(rid: str, t: int, decision: str, final: bool = True, actor: str = "owner") -> ConsentDecided:
    return ConsentDecided(time=t, actor=actor, request_id=rid, decision=decision, final=final, cameras=("front",))


def override(oid: str, kind: str, t: int, due_s: int | None = None) -> OverrideInvoked:
    return OverrideInvoked(
        time=t,
        actor="owner",
        override_id=oid,
        kind=kind,
        authority="County Court",
        jurisdiction="County",
        case_number=f"CR-{oid}",
        judge="Judge Ray" if kind in ("search_warrant", "court_order") else None,
        issued_s=t - 3600,
        agency="City PD",
        officer_contact="desk@example.org",
        cameras=("front", "drive"),
        start_s=t - DAY,
        end_s=t,
        document_sha256="ab" * 32,
        follow_up_due_s=due_s,
    )


def export(eid: str, basis: str, t: int, clip_ids: tuple[int, ...], size: int) -> ExportBuilt:
    return ExportBuilt(
        time=t,
        actor="owner",
        export_id=eid,
        basis=basis,
        recipient="City PD",
        cameras=("front",),
        start_s=t - DAY,
        end_s=t,
        clip_sha256=tuple("cd" * 32 for _ in clip_ids),
        clip_ids=clip_ids,
        bytes=size,
        manifest_sha256="ef" * 32,
    )


def download(eid: str, t: int, size: int) -> ShareLinkDownloaded:
    return ShareLinkDownloaded(
        time=t, actor="link", link_id=f"l-{eid}", export_id=eid, remote="203.0.113.7", bytes=size
    )


def filed(oid: str, t: int, late: bool) -> OverrideFollowUpFiled:
    return OverrideFollowUpFiled(
        time=t,
        actor="owner",
        override_id=oid,
        kind="search_warrant",
        case_number=f"CR-{oid}-w",
        document_sha256="12" * 32,
        late=late,
    )


def two_months() -> list[AuditEvent]:
    """January and February 2026 at a hub that answers the police, in the order it happens."""
    return [
        HubStarted(time=utc(2026, 1, 5), actor="hub", version="0.1.0"),
        OwnerLoggedIn(time=utc(2026, 1, 5), actor="ana", user="ana", remote="192.168.1.20"),
        request("r1", utc(2026, 1, 6)),
        request("r2", utc(2026, 1, 7)),
        request("r3", utc(2026, 1, 8)),
        request("r4", utc(2026, 1, 9)),
        decided("r1", utc(2026, 1, 7), "approved"),
        export("x1", "request:r1", utc(2026, 1, 7, 13), (1, 2, 3), 3_000_000),
        ShareLinkCreated(
            time=utc(2026, 1, 7, 13),
            actor="owner",
            link_id="l-x1",
            export_id="x1",
            expires_s=utc(2026, 1, 14),
            max_downloads=3,
        ),
        download("x1", utc(2026, 1, 8), 3_000_000),
        download("x1", utc(2026, 1, 9), 3_000_000),
        decided("r3", utc(2026, 1, 9), "denied"),
        decided("r2", utc(2026, 1, 10), "approved", final=False, actor="ana"),  # one of two owners: not a decision yet
        override("o1", "search_warrant", utc(2026, 1, 10)),
        export("x2", "override:o1", utc(2026, 1, 10, 14), (5, 6), 5_000_000),
        override("o4", "preservation", utc(2026, 1, 11)),
        HoldPlaced(
            time=utc(2026, 1, 11),
            actor="owner",
            hold_id="h1",
            basis="override:o4",
            cameras=("front",),
            start_s=utc(2026, 1, 1),
            end_s=utc(2026, 1, 11),
            expires_s=utc(2026, 4, 11),
        ),
        override("e1", "emergency", utc(2026, 1, 11), due_s=utc(2026, 1, 13)),
        export("x3", "override:e1", utc(2026, 1, 11, 13), (7,), 700_000),
        filed("e1", utc(2026, 1, 12), late=False),
        override("e2", "emergency", utc(2026, 1, 15), due_s=utc(2026, 1, 20)),
        OverrideFollowUpMissed(time=utc(2026, 1, 21), actor="hub", override_id="e2", due_s=utc(2026, 1, 20)),
        override("e5", "emergency", utc(2026, 1, 22), due_s=utc(2026, 1, 25)),
        # February: a decision on a January request, a late follow-up for a January emergency.
        decided("r2", utc(2026, 2, 1), "narrowed", actor="ben"),
        export("x4", "request:r2", utc(2026, 2, 1, 13), (4,), 1_000_000),
        filed("e5", utc(2026, 2, 1), late=True),
        ConsentExpired(time=utc(2026, 2, 2), actor="hub", request_id="r4"),
        request("r5", utc(2026, 2, 3)),
        override("o2", "court_order", utc(2026, 2, 3)),
        override("o3", "subpoena", utc(2026, 2, 4)),
        override("e3", "emergency", utc(2026, 2, 4), due_s=utc(2026, 2, 5)),  # no follow-up, no missed entry yet
        override("e4", "emergency", utc(2026, 2, 18), due_s=utc(2026, 3, 1)),  # still within its deadline
    ]


async def write_log(data: Path, events: list[AuditEvent]) -> AuditLog:
    log = await AuditLog.open(data, hub_id="home", clock=ManualClock(utc(2026, 1, 5, 9)))
    for event in events:
        await log.append(event)
    return log


def expected(**values: int) -> Counts:
    return Counts(**values)


async def test_every_count_over_two_months_of_a_real_log(tmp_path: Path) -> None:
    events = two_months()
    log = await write_log(tmp_path, events)
    try:
        report = await report_for_log(log, NOW)
        from_dir = await asyncio.to_thread(report_for_dir, tmp_path, NOW)  # read-only, beside the open writer
    finally:
        await log.close()

    assert report == from_dir
    assert [m for m, _ in report.months] == [JAN, FEB]
    assert report.month(JAN) == expected(
        requests_received=4,
        requests_approved=1,
        requests_denied=1,
        overrides_search_warrant=1,
        overrides_emergency=3,
        overrides_preservation=1,
        emergency_filed=2,
        emergency_filed_late=1,
        emergency_missed=1,
        request_exports=1,
        request_clips=3,
        request_bytes=3_000_000,
        override_exports=2,
        override_clips=3,
        override_bytes=5_700_000,
        downloads=2,
        download_bytes=6_000_000,
    )
    assert report.month(FEB) == expected(
        requests_received=1,
        requests_narrowed=1,
        requests_expired=1,
        overrides_court_order=1,
        overrides_subpoena=1,
        overrides_emergency=2,
        emergency_missed=1,
        emergency_pending=1,
        request_exports=1,
        request_clips=1,
        request_bytes=1_000_000,
    )
    assert report.totals == report.month(JAN) + report.month(FEB)
    assert report.flagged == (
        FlaggedEmergency("e2", JAN, utc(2026, 1, 20), entry=21),
        FlaggedEmergency("e3", FEB, utc(2026, 2, 5), entry=31),
    )
    assert (report.origin, report.entries, report.first_index, report.last_index) == (
        "camhub/home",
        len(events) + 1,
        0,
        len(events),
    )

    body = report.as_json()
    assert body["totals"] == {
        g: {k: sum(m[g][k] for m in body["months"]) for k in body["totals"][g]} for g in body["totals"]
    }
    assert list(body["months"][0]["overrides"]) == [*OVERRIDE_KINDS, "other"]
    assert body["months"][1]["overrides"] == {
        "search_warrant": 0,
        "court_order": 1,
        "subpoena": 1,
        "emergency": 2,
        "preservation": 0,
        "other": 0,
    }
    assert body["flagged_emergencies"][0] == {"override_id": "e2", "month": JAN, "due_s": utc(2026, 1, 20), "entry": 21}
    assert json.loads(json.dumps(body)) == body

    # Once its deadline passes, the pending emergency is flagged too.
    later = await asyncio.to_thread(report_for_dir, tmp_path, utc(2026, 3, 2))
    assert later.month(FEB).emergency_pending == 0 and later.month(FEB).emergency_missed == 2
    assert [f.override_id for f in later.flagged] == ["e2", "e3", "e4"]

    only = report.only(FEB)
    assert only.months == ((FEB, report.month(FEB)),) and only.totals == report.month(FEB)
    assert [f.override_id for f in only.flagged] == ["e3"]
    assert report.only("2026-07").totals == Counts()


async def test_text_shows_a_row_per_month_and_names_the_flagged_emergencies(tmp_path: Path) -> None:
    log = await write_log(tmp_path, two_months())
    try:
        text = report_text(await report_for_log(log, NOW))
    finally:
        await log.close()
    assert text.startswith("Transparency report for camhub/home, as of 2026-02-20 12:00 UTC\n")
    assert "entries 0..32 (33 entries)" in text
    requests = text.split("\n\n")[1].splitlines()
    assert requests[0] == "Consent requests"
    assert requests[2].split() == [JAN, "4", "1", "0", "1", "0"]
    assert requests[3].split() == [FEB, "1", "0", "1", "0", "1"]
    assert requests[4].split() == ["total", "5", "1", "1", "1", "1"]
    assert "5,700,000" in text and "other" not in text  # "other" columns only appear when something is in them
    assert "e2  invoked 2026-01, follow-up due 2026-01-20 12:00 UTC  (audit entry 21)" in text
    assert "e3  invoked 2026-02, follow-up due 2026-02-05 12:00 UTC  (audit entry 31)" in text


def test_quiet_months_are_listed_and_a_bad_entry_is_named() -> None:
    def entry(index: int, time_s: int, event: AuditEvent) -> tuple[int, bytes]:
        return index, encode_entry(index, time_s * 1000, event.actor, event.name, event.fields())

    entries = [
        entry(7, utc(2025, 12, 30), request("a", utc(2025, 12, 30))),
        entry(8, utc(2026, 3, 1), ConsentExpired(time=0, actor="hub", request_id="a")),
        entry(9, utc(2026, 3, 2), export("x", "owner-copy", 0, (1, 2), 10)),
    ]
    report = build_report(entries, NOW)
    assert [m for m, _ in report.months] == ["2025-12", JAN, FEB, "2026-03"]
    assert report.month(JAN) == Counts() and report.origin is None
    assert (report.entries, report.first_index, report.last_index) == (3, 7, 9)
    assert report.totals == expected(
        requests_received=1, requests_expired=1, other_exports=1, other_clips=2, other_bytes=10
    )
    assert "other exports" in report_text(report)
    assert build_report([], NOW).as_json()["months"] == []

    with pytest.raises(AuditError, match="entry 4: holds the entry written as index 8"):
        build_report([(4, entries[1][1])], NOW)
    with pytest.raises(AuditError, match="entry 2: not in canonical JSON"):
        build_report([(2, entries[0][1].replace(b'"actor":', b'"actor": '))], NOW)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "camhub.cli.main", "transparency", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_cli_prints_the_report_as_text_and_json_and_names_a_missing_log(tmp_path: Path) -> None:
    log = await write_log(tmp_path / "data", two_months())
    await log.close()
    text = await asyncio.to_thread(cli, "--data", str(tmp_path / "data"))
    assert text.returncode == 0, text.stderr
    assert "Transparency report for camhub/home" in text.stdout and "e3  invoked 2026-02" in text.stdout

    as_json = await asyncio.to_thread(cli, "--data", str(tmp_path / "data"), "--json")
    assert as_json.returncode == 0, as_json.stderr
    body = json.loads(as_json.stdout)
    assert body == (await asyncio.to_thread(report_for_dir, tmp_path / "data", body["as_of_s"])).as_json()

    feb = json.loads((await asyncio.to_thread(cli, "--data", str(tmp_path / "data"), "--json", "--month", FEB)).stdout)
    assert [m["month"] for m in feb["months"]] == [FEB] and feb["totals"]["requests"]["narrowed"] == 1

    missing = await asyncio.to_thread(cli, "--data", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and missing.stdout == ""
    assert missing.stderr == f"camhub: {tmp_path / 'nowhere' / 'audit' / 'log.db'}: no audit log here\n"
    bad = await asyncio.to_thread(cli, "--data", str(tmp_path / "data"), "--month", "2026-13")
    assert bad.returncode == 2 and "month='2026-13' is not a month; use YYYY-MM" in bad.stderr


async def test_route_serves_json_and_refuses_a_bad_month(tmp_path: Path) -> None:
    clock = ManualClock(NOW)
    log = await write_log(tmp_path, two_months())
    app = web.Application(middlewares=[error_middleware])

    async def transparency(request: web.Request) -> web.Response:  # the route's answer, without the login
        return await report_answer(request, log, int(clock()))

    app.router.add_get("/api/transparency", transparency)
    async with TestClient(TestServer(app)) as client:
        try:
            async with client.get("/api/transparency") as r:
                assert r.status == 200
                assert await r.json() == (await report_for_log(log, NOW)).as_json()
            async with client.get("/api/transparency", params={"month": JAN}) as r:
                body = await r.json()
                assert [m["month"] for m in body["months"]] == [JAN]
                assert body["totals"]["emergency_follow_up"] == {"filed": 2, "filed_late": 1, "missed": 1, "pending": 0}
            for month in ("2026-13", "2026-1", "January", ""):
                async with client.get("/api/transparency", params={"month": month}) as r:
                    assert r.status == 400
                    assert (await r.json())["error"] == "bad_request"
        finally:
            await log.close()


def test_openapi_describes_every_field_the_report_has() -> None:
    schema = REPORT_OP["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema is REPORT_SCHEMA

    def check(value: Any, node: dict[str, Any], where: str) -> None:
        assert node.get("description"), f"{where} has no description"
        if isinstance(value, dict):
            assert set(node["properties"]) == set(value) == set(node["required"]), where
            for key, item in value.items():
                check(item, node["properties"][key], f"{where}.{key}")
        elif isinstance(value, list):
            for item in value:
                check(item, {"description": node["description"], **node["items"]}, f"{where}[]")

    report = build_report(
        [
            (
                9,
                encode_entry(
                    9, utc(2026, 1, 5) * 1000, "o", "override_invoked", override("e", "emergency", 0, due_s=1).fields()
                ),
            )
        ],
        NOW,
    )
    check(report.as_json(), schema, "report")
    attributes = [attr for _, _, items in LAYOUT for _, attr, _ in items]
    assert sorted(attributes) == sorted(Counts.__dataclass_fields__)


# Property: the totals equal counts made straight from the events appended.

START, SPAN = utc(2026, 1, 1), 120 * DAY
times = st.integers(START, START + SPAN)
ids = st.sampled_from(["a", "b", "c", "d"])
event_strategy = st.one_of(
    st.builds(lambda rid, t: request(rid, t), ids, times),
    st.builds(
        lambda rid, t, d, final: decided(rid, t, d, final),
        ids,
        times,
        st.sampled_from(["approved", "narrowed", "denied"]),
        st.booleans(),
    ),
    st.builds(lambda rid, t: ConsentExpired(time=t, actor="hub", request_id=rid), ids, times),
    st.builds(
        lambda oid, kind, t, due: override(oid, kind, t, due),
        ids,
        st.sampled_from(OVERRIDE_KINDS),
        times,
        st.none() | times,
    ),
    st.builds(lambda oid, t, late: filed(oid, t, late), ids, times, st.booleans()),
    st.builds(
        lambda oid, t, due: OverrideFollowUpMissed(time=t, actor="hub", override_id=oid, due_s=due), ids, times, times
    ),
    st.builds(
        lambda basis, oid, t, clips, size: export("x", f"{basis}:{oid}", t, tuple(range(clips)), size),
        st.sampled_from(["request", "override"]),
        ids,
        times,
        st.integers(0, 5),
        st.integers(0, 10**9),
    ),
    st.builds(lambda t, size: download("x", t, size), times, st.integers(0, 10**9)),
    st.builds(lambda t: HubStarted(time=t, actor="hub", version="0.1.0"), times),
)


def independent_totals(events: list[AuditEvent], now_s: int) -> Counts:
    counts: Counter[str] = Counter()
    filings = {e.override_id: e.late for e in reversed(events) if isinstance(e, OverrideFollowUpFiled)}
    missed = {e.override_id for e in events if isinstance(e, OverrideFollowUpMissed)}
    for e in events:
        if isinstance(e, ConsentRequested):
            counts["requests_received"] += 1
        elif isinstance(e, ConsentDecided) and e.final:
            counts["requests_" + e.decision] += 1
        elif isinstance(e, ConsentExpired):
            counts["requests_expired"] += 1
        elif isinstance(e, OverrideInvoked):
            counts["overrides_" + e.kind] += 1
            if e.kind != "emergency":
                continue
            if e.override_id in filings:
                counts["emergency_filed"] += 1
                counts["emergency_filed_late"] += filings[e.override_id]
            elif e.override_id in missed or (e.follow_up_due_s is not None and e.follow_up_due_s < now_s):
                counts["emergency_missed"] += 1
            else:
                counts["emergency_pending"] += 1
        elif isinstance(e, ExportBuilt):
            kind = e.basis.split(":")[0]
            counts[kind + "_exports"] += 1
            counts[kind + "_clips"] += len(e.clip_ids)
            counts[kind + "_bytes"] += e.bytes
        elif isinstance(e, ShareLinkDownloaded):
            counts["downloads"] += 1
            counts["download_bytes"] += e.bytes
    return Counts(**counts)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=st.lists(event_strategy, max_size=25), now_s=times)
def test_totals_equal_counts_made_from_the_events_appended(
    tmp_path_factory: pytest.TempPathFactory, events: list[AuditEvent], now_s: int
) -> None:
    async def run(data: Path) -> Any:
        log = await write_log(data, events)
        try:
            return await report_for_log(log, now_s)
        finally:
            await log.close()

    report = asyncio.run(run(tmp_path_factory.mktemp("prop")))
    assert report.totals == independent_totals(events, now_s)
    assert report.entries == len(events) + 1
    assert sum(c.overrides_emergency for _, c in report.months) == len(
        [e for e in events if isinstance(e, OverrideInvoked) and e.kind == "emergency"]
    )
    for _, c in report.months:
        assert c.overrides_emergency == c.emergency_filed + c.emergency_missed + c.emergency_pending
    assert len(report.flagged) == report.totals.emergency_missed


def test_an_override_under_delayed_notice_stays_out_until_its_notice_is_sent() -> None:
    from camhub.audit import OverrideNoticeSent

    t = utc(2026, 1, 10)
    sealed = OverrideInvoked(
        time=t,
        actor="custodian",
        override_id="o-sealed",
        kind="emergency",
        authority="County Court",
        jurisdiction="County",
        case_number="CR-9",
        judge=None,
        issued_s=t - 3600,
        agency="City PD",
        officer_contact="desk",
        cameras=("front",),
        start_s=t - DAY,
        end_s=t,
        document_sha256="ab" * 32,
        notice_delayed_until_s=t + 30 * DAY,
        delay_ordered_by="Judge Ray",
        follow_up_due_s=t + 2 * DAY,
    )
    before = [
        sealed,
        export("e-sealed", "override:o-sealed", t + 60, (1, 2), 5000),
        download("e-sealed", t + 120, 6000),
        override("o-open", "subpoena", t + 180),
        export("e-open", "override:o-open", t + 240, (3,), 700),
    ]
    entries = [(i, encode_entry(i, int(e.time * 1000), e.actor, e.name, e.fields())) for i, e in enumerate(before)]
    report = build_report(entries, now_s=t + 10 * DAY)
    totals = report.totals
    assert totals.overrides_emergency == 0 and totals.overrides_subpoena == 1
    assert totals.override_exports == 1 and totals.override_clips == 1 and totals.override_bytes == 700
    assert totals.downloads == 0 and report.flagged == ()  # its missed follow-up is sealed too

    notice = OverrideNoticeSent(time=t + 30 * DAY, actor="hub", override_id="o-sealed", delayed=True, owners=("owner",))
    entries.append(
        (len(entries), encode_entry(len(entries), int(notice.time * 1000), "hub", notice.name, notice.fields()))
    )
    report = build_report(entries, now_s=t + 31 * DAY)
    totals = report.totals
    assert totals.overrides_emergency == 1 and totals.override_exports == 2 and totals.override_clips == 3
    assert totals.downloads == 1 and totals.download_bytes == 6000 and totals.emergency_missed == 1
    assert [f.override_id for f in report.flagged] == ["o-sealed"]
    assert report.month(JAN).overrides_emergency == 1  # counted in the month it was invoked
