"""The transparency report as text: one table per group, a row per month and a total, then the flagged emergencies.

`report_text(report)` is what `camhub transparency` prints. Columns of
counts that should stay 0 ("other" kinds and bases) show only when they
are not. Text read from the log (the origin, override ids) is escaped: the
log may be forged, and it reaches a terminal.
"""

from __future__ import annotations

from camhub.clock import utc_text
from camhub.privacy.legal_process import KINDS
from camhub.privacy.transparency.tally import Counts, Report
from camhub.terminal import escape

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
        (*((kind.replace("_", " "), f"overrides_{kind}") for kind in KINDS), ("other", "overrides_other")),
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


def report_text(report: Report) -> str:
    """Tables with one row per month and a total row, then the flagged emergencies by name."""
    if report.first_index is None:
        read = "The audit log holds no entries."
    else:
        read = f"Computed from audit log entries {report.first_index}..{report.last_index} ({report.entries} entries)."
    origin = escape(report.origin) if report.origin else "this hub"  # read from the log, which may be forged
    lines = [f"Transparency report for {origin}, as of {utc_text(report.as_of_s, 'minute')}", read]
    rows = [*report.months, ("total", report.totals)]
    for title, columns in TEXT_TABLES:
        shown = [
            (head, attr)
            for head, attr in columns
            if not attr.startswith(("overrides_other", "other_")) or getattr(report.totals, attr)
        ]
        lines += ["", *_table(title, shown, rows)]
    lines.append("")
    if not report.flagged:
        lines.append("Flagged emergency overrides (follow-up not filed by its deadline): none.")
    else:
        lines.append("Flagged emergency overrides (follow-up not filed by its deadline):")
        lines += [
            f"  {escape(f.override_id)}  invoked {f.month}, "
            f"follow-up due {utc_text(f.due_s, 'minute')}  (audit entry {f.entry})"
            for f in report.flagged
        ]
    return "\n".join(lines) + "\n"


def _table(title: str, columns: list[tuple[str, str]], rows: list[tuple[str, Counts]]) -> list[str]:
    cells = [["month", *(head for head, _ in columns)]]
    cells += [[month, *(f"{getattr(counts, attr):,}" for _, attr in columns)] for month, counts in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    lines = [
        "  ".join([row[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True))])
        for row in cells
    ]
    return [title, *lines]
