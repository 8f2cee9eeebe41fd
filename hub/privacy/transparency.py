"""The transparency report: per month, what was asked for, what was decided and what left the house.

`build_report` folds the audit log's entries, in index order, into a
`Report`; nothing else feeds it, so the report cannot say anything the log
does not. `report_for_log` reads an open `AuditLog` off the event loop,
`report_for_dir` reads a data folder (read-only, also while the hub runs),
`transparency_route` serves the report as JSON and `OPENAPI_PATHS` describes
it. What each count means is in docs/audit.md, "Transparency report".

An override whose owners' notice is delayed is sealed: it, its exports and
their downloads join the report only with its `override_notice_sent` entry,
so the report never tells owners what a court told the hub not to yet.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import astuple, dataclass, field, replace
from pathlib import Path
from typing import Any

from aiohttp import web

from camhub.audit.canonical import decode_entry
from camhub.audit.errors import AuditError
from camhub.audit.events import (
    EVENT_TYPES,
    AuditEvent,
    ConsentDecided,
    ConsentExpired,
    ConsentRequested,
    ExportBuilt,
    LogCreated,
    OverrideFollowUpFiled,
    OverrideFollowUpMissed,
    OverrideInvoked,
    OverrideNoticeSent,
    ShareLinkDownloaded,
    event_from_entry,
)
from camhub.audit.log import AUDIT_FOLDER, AuditLog
from camhub.audit.store import DB_NAME, connect
from camhub.clock import Clock, utc_text
from camhub.errors import BadRequest
from camhub.terminal import escape

OVERRIDE_KINDS = ("search_warrant", "court_order", "subpoena", "emergency", "preservation")
DECISIONS = ("approved", "narrowed", "denied")
MONTH = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")


@dataclass(frozen=True)
class Counts:
    """One month's counts (or the totals); every field is a whole number."""

    requests_received: int = 0
    requests_approved: int = 0
    requests_narrowed: int = 0
    requests_denied: int = 0
    requests_expired: int = 0
    overrides_search_warrant: int = 0
    overrides_court_order: int = 0
    overrides_subpoena: int = 0
    overrides_emergency: int = 0
    overrides_preservation: int = 0
    overrides_other: int = 0
    emergency_filed: int = 0
    emergency_filed_late: int = 0
    emergency_missed: int = 0
    emergency_pending: int = 0
    request_exports: int = 0
    request_clips: int = 0
    request_bytes: int = 0
    override_exports: int = 0
    override_clips: int = 0
    override_bytes: int = 0
    other_exports: int = 0
    other_clips: int = 0
    other_bytes: int = 0
    downloads: int = 0
    download_bytes: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(*(a + b for a, b in zip(astuple(self), astuple(other), strict=True)))

    def as_json(self) -> dict[str, dict[str, int]]:
        return {group: {key: getattr(self, attr) for key, attr, _ in items} for group, _, items in LAYOUT}


_RELEASED = (
    ("exports", "export packages built (export_built)"),
    ("clips", "clips in those packages (their clip_ids)"),
    ("bytes", "footage bytes in those packages"),
)

# The JSON groups: (group, what it holds, ((key, Counts attribute, what it counts), ...)).
LAYOUT: tuple[tuple[str, str, tuple[tuple[str, str, str], ...]], ...] = (
    (
        "requests",
        "consent requests from people outside the household",
        (
            ("received", "requests_received", "requests that arrived (consent_requested)"),
            ("approved", "requests_approved", "final decisions that approved the request as asked (consent_decided)"),
            ("narrowed", "requests_narrowed", "final decisions that granted less than was asked (consent_decided)"),
            ("denied", "requests_denied", "final decisions that denied the request (consent_decided)"),
            (
                "expired",
                "requests_expired",
                ("requests nobody decided before they expired, which denies them (consent_expired)"),
            ),
        ),
    ),
    (
        "overrides",
        "legal-process overrides invoked (override_invoked), by kind",
        (
            *((kind, f"overrides_{kind}", f"overrides of kind {kind}") for kind in OVERRIDE_KINDS),
            ("other", "overrides_other", "overrides of a kind camhub does not know; should stay 0"),
        ),
    ),
    (
        "emergency_follow_up",
        (
            "emergency overrides invoked in the month, by the state of the legal process "
            "that must follow each one; the four states add up to overrides.emergency"
        ),
        (
            ("filed", "emergency_filed", "follow-up filed (override_follow_up_filed), on time or late"),
            ("filed_late", "emergency_filed_late", "of those filed, how many after their deadline"),
            (
                "missed",
                "emergency_missed",
                (
                    "flagged: no follow-up filed and the deadline passed "
                    "(override_follow_up_missed, or follow_up_due_s before as_of_s)"
                ),
            ),
            ("pending", "emergency_pending", "no follow-up filed yet and the deadline not passed (or none set)"),
        ),
    ),
    (
        "released_by_request",
        "footage packaged under a consent decision (export_built, basis request:<id>)",
        tuple((key, f"request_{key}", text) for key, text in _RELEASED),
    ),
    (
        "released_by_override",
        ("footage packaged under a legal-process override (export_built, basis override:<id>)"),
        tuple((key, f"override_{key}", text) for key, text in _RELEASED),
    ),
    (
        "released_other_basis",
        "footage packaged under any other basis; should stay 0",
        tuple((key, f"other_{key}", text) for key, text in _RELEASED),
    ),
    (
        "share_link_downloads",
        "downloads through share links (share_link_downloaded)",
        (
            ("count", "downloads", "downloads started"),
            ("bytes", "download_bytes", "bytes those downloads were logged to send"),
        ),
    ),
)


@dataclass(frozen=True)
class FlaggedEmergency:
    """An emergency override whose follow-up legal process was not filed by its deadline."""

    override_id: str
    month: str  # when the override was invoked, YYYY-MM (UTC)
    due_s: int  # Unix seconds the follow-up was due by
    entry: int  # index of its override_invoked entry: `camhub audit proof` proves it


@dataclass(frozen=True)
class Report:
    as_of_s: int  # Unix seconds: follow-up deadlines before this have passed
    origin: str | None  # camhub/<hub id>, from entry 0; None if entry 0 was not read
    entries: int  # entries read
    first_index: int | None
    last_index: int | None
    months: tuple[tuple[str, Counts], ...]  # every month from the first entry's to the last's, ascending
    flagged: tuple[FlaggedEmergency, ...] = ()

    @property
    def totals(self) -> Counts:
        return sum((counts for _, counts in self.months), Counts())

    def month(self, month: str) -> Counts:
        return next((counts for m, counts in self.months if m == month), Counts())

    def only(self, month: str) -> Report:
        """The same report with one month's row (zeros if nothing happened) and its flagged emergencies."""
        check_month(month)
        return replace(
            self, months=((month, self.month(month)),), flagged=tuple(f for f in self.flagged if f.month == month)
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "as_of_s": self.as_of_s,
            "origin": self.origin,
            "entries": self.entries,
            "first_index": self.first_index,
            "last_index": self.last_index,
            "months": [{"month": month, **counts.as_json()} for month, counts in self.months],
            "totals": self.totals.as_json(),
            "flagged_emergencies": [
                {"override_id": f.override_id, "month": f.month, "due_s": f.due_s, "entry": f.entry}
                for f in self.flagged
            ],
        }

    def as_text(self) -> str:
        """Tables with one row per month and a total row, then the flagged emergencies by name."""
        if self.first_index is None:
            read = "The audit log holds no entries."
        else:
            read = f"Computed from audit log entries {self.first_index}..{self.last_index} ({self.entries} entries)."
        origin = escape(self.origin) if self.origin else "this hub"  # read from the log, which may be forged
        lines = [f"Transparency report for {origin}, as of {utc_text(self.as_of_s, 'minute')}", read]
        rows = [*self.months, ("total", self.totals)]
        for title, columns in TEXT_TABLES:
            shown = [
                (head, attr)
                for head, attr in columns
                if not attr.startswith(("overrides_other", "other_")) or getattr(self.totals, attr)
            ]
            lines += ["", *_table(title, shown, rows)]
        lines.append("")
        if not self.flagged:
            lines.append("Flagged emergency overrides (follow-up not filed by its deadline): none.")
        else:
            lines.append("Flagged emergency overrides (follow-up not filed by its deadline):")
            lines += [
                f"  {escape(f.override_id)}  invoked {f.month}, "
                f"follow-up due {utc_text(f.due_s, 'minute')}  (audit entry {f.entry})"
                for f in self.flagged
            ]
        return "\n".join(lines) + "\n"


# The text tables: (title, ((column header, Counts attribute), ...)); "other" columns show only when not 0.
TEXT_TABLES: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "Consent requests",
        (
            ("received", "requests_received"),
            ("approved", "requests_approved"),
            ("narrowed", "requests_narrowed"),
            ("denied", "requests_denied"),
            ("expired", "requests_expired"),
        ),
    ),
    (
        "Legal-process overrides",
        (
            ("warrant", "overrides_search_warrant"),
            ("court order", "overrides_court_order"),
            ("subpoena", "overrides_subpoena"),
            ("emergency", "overrides_emergency"),
            ("preservation", "overrides_preservation"),
            ("other", "overrides_other"),
        ),
    ),
    (
        "Emergency overrides: follow-up",
        (
            ("filed", "emergency_filed"),
            ("of which late", "emergency_filed_late"),
            ("missed (flagged)", "emergency_missed"),
            ("pending", "emergency_pending"),
        ),
    ),
    (
        "Footage released",
        (
            ("request exports", "request_exports"),
            ("clips", "request_clips"),
            ("bytes", "request_bytes"),
            ("override exports", "override_exports"),
            ("clips", "override_clips"),
            ("bytes", "override_bytes"),
            ("other exports", "other_exports"),
            ("clips", "other_clips"),
            ("bytes", "other_bytes"),
        ),
    ),
    ("Share-link downloads", (("downloads", "downloads"), ("bytes", "download_bytes"))),
)


def _table(title: str, columns: list[tuple[str, str]], rows: list[tuple[str, Counts]]) -> list[str]:
    cells = [["month", *(head for head, _ in columns)]]
    cells += [[month, *(f"{getattr(counts, attr):,}" for _, attr in columns)] for month, counts in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    lines = [
        "  ".join([row[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True))])
        for row in cells
    ]
    return [title, *lines]


def check_month(value: str) -> str:
    if not MONTH.fullmatch(value):
        raise BadRequest(f"month={value!r} is not a month; use YYYY-MM, e.g. 2026-11")
    return value


def month_of(time_ms: int) -> str:
    t = time.gmtime(time_ms // 1000)
    return f"{t.tm_year:04d}-{t.tm_mon:02d}"


def _months_between(first: str, last: str) -> Iterator[str]:
    year, month = int(first[:4]), int(first[5:])
    while (name := f"{year:04d}-{month:02d}") <= last:
        yield name
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


@dataclass
class _Tally:
    now_s: int
    months: defaultdict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    entries: int = 0
    first_index: int | None = None
    last_index: int | None = None
    origin: str | None = None
    emergencies: list[tuple[str, str, int | None, int]] = field(default_factory=list)  # id, month, due, entry
    filed_late: dict[str, bool] = field(default_factory=dict)  # override id -> its first filing was late
    missed_due: dict[str, int] = field(default_factory=dict)  # override id -> due_s
    # Overrides whose owners' notice is delayed and not yet sent: their counts wait here,
    # per override and month, and join the report only with their override_notice_sent entry.
    sealed: dict[str, defaultdict[str, Counter[str]]] = field(default_factory=dict)
    sealed_exports: dict[str, str] = field(default_factory=dict)  # export id -> sealed override id
    sealed_emergencies: dict[str, tuple[str, str, int | None, int]] = field(default_factory=dict)

    def _sealed_override(self, event: AuditEvent | None) -> str | None:
        if isinstance(event, OverrideInvoked) and event.notice_delayed_until_s is not None:
            self.sealed[event.override_id] = defaultdict(Counter)
            return event.override_id
        if isinstance(event, ExportBuilt) and event.basis.startswith("override:"):
            override_id = event.basis.split(":", 1)[1]
            if override_id in self.sealed:
                self.sealed_exports[event.export_id] = override_id
                return override_id
        if isinstance(event, ShareLinkDownloaded):
            return self.sealed_exports.get(event.export_id)
        return None

    def _unseal(self, override_id: str) -> None:
        for month, counts in self.sealed.pop(override_id, {}).items():
            self.months[month].update(counts)
        if override_id in self.sealed_emergencies:
            self.emergencies.append(self.sealed_emergencies.pop(override_id))

    def add(self, index: int, data: bytes) -> None:
        value = decode_entry(data, index)
        if value["index"] != index:
            raise AuditError(f"entry {index}: holds the entry written as index {value['index']}")
        # An event this version does not know (written by a newer hub) is read and counts nothing.
        event = event_from_entry(value) if value["event"] in EVENT_TYPES else None
        month = month_of(value["time_ms"])
        counts = self.months[month]  # every entry's month is a row, so quiet months show as zeros
        sealed = self._sealed_override(event)
        if sealed is not None:
            counts = self.sealed[sealed][month]
        self.entries += 1
        self.first_index = index if self.first_index is None else min(self.first_index, index)
        self.last_index = index if self.last_index is None else max(self.last_index, index)
        if isinstance(event, LogCreated) and index == 0:
            self.origin = event.origin
        elif isinstance(event, ConsentRequested):
            counts["requests_received"] += 1
        elif isinstance(event, ConsentDecided):
            if event.final and event.decision in DECISIONS:
                counts[f"requests_{event.decision}"] += 1
        elif isinstance(event, ConsentExpired):
            counts["requests_expired"] += 1
        elif isinstance(event, OverrideInvoked):
            counts[f"overrides_{event.kind if event.kind in OVERRIDE_KINDS else 'other'}"] += 1
            if event.kind == "emergency":
                found = (event.override_id, month, event.follow_up_due_s, index)
                if sealed is not None:
                    self.sealed_emergencies[event.override_id] = found
                else:
                    self.emergencies.append(found)
        elif isinstance(event, OverrideNoticeSent):
            self._unseal(event.override_id)
        elif isinstance(event, OverrideFollowUpFiled):
            self.filed_late.setdefault(event.override_id, event.late)
        elif isinstance(event, OverrideFollowUpMissed):
            self.missed_due.setdefault(event.override_id, event.due_s)
        elif isinstance(event, ExportBuilt):
            basis = event.basis.split(":", 1)[0]
            basis = basis if basis in ("request", "override") else "other"
            counts[f"{basis}_exports"] += 1
            counts[f"{basis}_clips"] += len(event.clip_ids)
            counts[f"{basis}_bytes"] += event.bytes
        elif isinstance(event, ShareLinkDownloaded):
            counts["downloads"] += 1
            counts["download_bytes"] += event.bytes

    def finish(self) -> Report:
        flagged = []
        # A follow-up may come months after its override; it counts in the override's month.
        for override_id, month, due, index in self.emergencies:
            counts = self.months[month]
            if override_id in self.filed_late:
                counts["emergency_filed"] += 1
                counts["emergency_filed_late"] += int(self.filed_late[override_id])
            elif override_id in self.missed_due or (due is not None and due < self.now_s):
                counts["emergency_missed"] += 1
                flagged.append(
                    FlaggedEmergency(
                        override_id, month, due if due is not None else self.missed_due[override_id], index
                    )
                )
            else:
                counts["emergency_pending"] += 1
        names = list(_months_between(min(self.months), max(self.months))) if self.months else []
        months = tuple((m, Counts(**self.months[m]) if m in self.months else Counts()) for m in names)
        return Report(self.now_s, self.origin, self.entries, self.first_index, self.last_index, months, tuple(flagged))


def build_report(entries: Iterable[tuple[int, bytes]], now_s: int) -> Report:
    """The report over (index, canonical entry bytes) pairs; a malformed entry raises AuditError naming it."""
    tally = _Tally(now_s)
    for index, data in entries:
        tally.add(index, data)
    return tally.finish()


def _rows(conn: sqlite3.Connection, limit: int | None) -> Iterator[tuple[int, bytes]]:
    rows = conn.execute(
        "SELECT idx, entry FROM entries WHERE idx < ? ORDER BY idx", (limit if limit is not None else 2**63 - 1,)
    )
    while batch := rows.fetchmany(4096):
        for index, data in batch:
            yield index, bytes(data)


def _report_from_db(db: Path, now_s: int, limit: int | None = None) -> Report:
    # Read-only and in one SELECT: under WAL it sees one consistent snapshot while the hub writes.
    conn = connect(db, readonly=True)
    try:
        return build_report(_rows(conn, limit), now_s)
    finally:
        conn.close()


def report_for_dir(data_dir: Path, now_s: int) -> Report:
    """The report of `<data_dir>/audit/log.db`; AuditError naming the path if there is no log."""
    return _report_from_db(Path(data_dir) / AUDIT_FOLDER / DB_NAME, now_s)


async def report_for_log(log: AuditLog, now_s: int) -> Report:
    """The report of an open log, up to its latest checkpoint, read on a worker thread."""
    return await asyncio.to_thread(_report_from_db, log.folder / DB_NAME, now_s, log.size)


def transparency_route(log: AuditLog, clock: Clock) -> Callable[[web.Request], Awaitable[web.Response]]:
    """GET handler for /api/transparency[?month=YYYY-MM]; the caller registers it."""

    async def transparency(request: web.Request) -> web.Response:
        month = request.query.get("month")
        if month is not None:
            check_month(month)
        report = await report_for_log(log, int(clock()))
        return web.json_response((report.only(month) if month is not None else report).as_json())

    return transparency


def _counts_schema(description: str, month: bool = False) -> dict[str, Any]:
    properties: dict[str, Any] = (
        {"month": {"type": "string", "pattern": MONTH.pattern, "description": "calendar month in UTC, YYYY-MM"}}
        if month
        else {}
    )
    for group, text, items in LAYOUT:
        properties[group] = {
            "type": "object",
            "description": text,
            "required": [key for key, _, _ in items],
            "properties": {key: {"type": "integer", "minimum": 0, "description": what} for key, _, what in items},
        }
    return {"type": "object", "description": description, "required": list(properties), "properties": properties}


REPORT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "computed from the audit log alone; see docs/audit.md, Transparency report",
    "required": [
        "as_of_s",
        "origin",
        "entries",
        "first_index",
        "last_index",
        "months",
        "totals",
        "flagged_emergencies",
    ],
    "properties": {
        "as_of_s": {
            "type": "integer",
            "description": "Unix seconds the report was computed for; follow-up deadlines before it have passed",
        },
        "origin": {"type": ["string", "null"], "description": "the log's origin, camhub/<hub id>"},
        "entries": {"type": "integer", "minimum": 0, "description": "audit log entries read"},
        "first_index": {"type": ["integer", "null"], "description": "index of the first entry read; null if none"},
        "last_index": {"type": ["integer", "null"], "description": "index of the last entry read; null if none"},
        "months": {
            "type": "array",
            "description": "every month from the first entry's to the last's, ascending "
            "(only the asked month with ?month=)",
            "items": _counts_schema(
                "one month's counts; each event counts in the month of its own entry, "
                "except emergency_follow_up, which counts in the override's month",
                month=True,
            ),
        },
        "totals": _counts_schema("the sum of the months listed"),
        "flagged_emergencies": {
            "type": "array",
            "description": "emergency overrides whose follow-up legal process was not filed by its deadline",
            "items": {
                "type": "object",
                "required": ["override_id", "month", "due_s", "entry"],
                "properties": {
                    "override_id": {"type": "string", "description": "the override's id"},
                    "month": {"type": "string", "description": "month the override was invoked, YYYY-MM (UTC)"},
                    "due_s": {"type": "integer", "description": "Unix seconds the follow-up was due by"},
                    "entry": {"type": "integer", "description": "index of its override_invoked entry in the audit log"},
                },
            },
        },
    },
}

OPENAPI_PATHS: dict[str, Any] = {
    "/api/transparency": {
        "get": {
            "summary": "The transparency report: requests, decisions, overrides and releases per month",
            "parameters": [
                {
                    "name": "month",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string", "pattern": MONTH.pattern},
                    "description": "only this month, YYYY-MM (UTC)",
                }
            ],
            "responses": {
                "200": {"description": "the report", "content": {"application/json": {"schema": REPORT_SCHEMA}}},
                "400": {
                    "description": "month is not YYYY-MM (error key bad_request)",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                },
            },
        }
    },
}
