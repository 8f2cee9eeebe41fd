"""`camhub transparency`: the transparency report from a data folder, as tables or JSON.

`add_parser(subparsers)` adds the command; its `func` returns the exit code:
0 printed, 2 usage errors (a bad --month, no audit log under --data, a
damaged or unreadable log.db: the caller prints `camhub: <message>` for the
HubError that escapes). It reads
the log read-only, so it works while the hub runs.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from camhub.audit.log import AUDIT_FOLDER
from camhub.audit.store import DB_NAME, storage
from camhub.privacy.transparency.source import report_for_dir
from camhub.privacy.transparency.tally import check_month
from camhub.privacy.transparency.text import report_text


def _transparency(args: argparse.Namespace) -> int:
    if args.month is not None:
        check_month(args.month)
    db = Path(args.data) / AUDIT_FOLDER / DB_NAME
    with storage(db, writing=False):  # a damaged or unreadable log.db: one line naming it, not a traceback
        report = report_for_dir(Path(args.data), int(time.time()))
    if args.month is not None:
        report = report.only(args.month)
    print(json.dumps(report.as_json(), indent=1) if args.json else report_text(report), end="\n" if args.json else "")
    return 0


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `transparency` to the `camhub` subparsers."""
    cmd = subparsers.add_parser(
        "transparency", help="requests, decisions, overrides and releases per month, computed from the audit log"
    )
    cmd.add_argument("--data", required=True, help="the hub's data folder")
    cmd.add_argument("--json", action="store_true", help="print the report as JSON (the /api/transparency body)")
    cmd.add_argument("--month", help="only this month, YYYY-MM (UTC)")
    cmd.set_defaults(func=_transparency)
