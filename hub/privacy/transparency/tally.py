"""The transparency report's tally: per month, what was asked for, what was decided and what left the house.

`build_report` folds the audit log's entries, in index order, into a
`Report`; nothing else feeds it, so the report cannot say anything the log
does not. It is pure (entries and the time in, a value out): reading a log
is `camhub.privacy.transparency.source`, the text tables
`camhub.privacy.transparency.text`, the route and its schema
`camhub.privacy.transparency.routes`. What each count means is in
docs/audit.md, "Transparency report".

An override whose owners' notice is delayed is sealed: it, its exports and
their downloads join the report only with its `override_notice_sent` entry,
so the report never tells owners what a court told the hub not to yet.
"""

from __future__ import annotations

import re
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import astuple, dataclass, field, replace
from typing import Any

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
from camhub.errors import BadRequest
from camhub.privacy.legal_process import EMERGENCY, KINDS

DECISIONS = ("approved", "narrowed", "denied")
MONTH = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")


@dataclass(frozen=True)
class Counts:
    """One month's counts (or the totals); every field is a whole number.

    One `overrides_<kind>` field per kind in `legal_process.KINDS`: `LAYOUT` is built from that list
    and names each field, so a kind added there without its field here fails the tests."""

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
            *((kind, f"overrides_{kind}", f"overrides of kind {kind}") for kind in KINDS),
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
            counts[f"overrides_{event.kind if event.kind in KINDS else 'other'}"] += 1
            if event.kind == EMERGENCY:
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
