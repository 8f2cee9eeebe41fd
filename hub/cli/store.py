"""`camhub clips` and `camhub check`: the clip store (index and files) from the command line.

`clips` lists the index's clips, oldest first, as a table or one JSON object
per line; it reads the index read-only, so it works while the hub runs.
`check` compares the index with the files on disk (sizes and SHA-256 hashes,
or sizes only with --quick); with --repair, and the hub stopped, it first
mends what can be mended (audited) and says what it did. Exit codes: 0 the
index and the disk agree, 1 problems were found (each printed), 2 no index
or an unreadable one (the caller prints `camhub: <message>`). File names and
camera names are printed through `camhub.terminal.escape`: names on disk may
hold anything.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from camhub.clock import utc_text
from camhub.terminal import escape


def _clips(args: argparse.Namespace) -> int:
    # Imported when the command runs: the parser is built for every command, and stays quick to build.
    from camhub.store.index import query_clips, reading_index

    with reading_index(Path(args.data)) as db:
        clips = query_clips(db, camera=args.camera, oldest_first=True)
    for clip in clips:
        if args.json:
            print(json.dumps(clip.as_json(), sort_keys=True))
        else:
            print(
                f"{clip.id:>6}  {escape(clip.camera):<16} {utc_text(clip.start_time)}  {clip.duration:6.1f} s  "
                f"{clip.bytes:>10} B  "
                f"{escape(clip.path)}"
            )
    return 0


def _check(args: argparse.Namespace) -> int:
    from camhub.store.check import check, repair
    from camhub.store.lock import holder

    data = Path(args.data)
    if args.repair:
        for line in asyncio.run(repair(data)):
            print(f"repaired: {escape(line)}")
    running = holder(data)
    if running is not None:
        print(f"camhub check: {running} is running on {data}; clips it is still writing (.partial) are skipped")

    findings = check(data, hashes=not args.quick, progress=CheckProgress(data), hub_running=running is not None)
    for finding in findings:
        print(escape(finding))  # file names on disk may hold anything
    if findings:
        print(f"camhub check: {len(findings)} problem(s) in {data}; `camhub check --repair` mends what it can")
        return 1
    print(f"camhub check: index and disk agree in {data}")
    return 0


class CheckProgress:
    """How far `check` is, on stderr: on a terminal one line rewritten at each whole percent; else (a log,
    a pipe) one line saying what is being checked, as `camhub discover` does."""

    def __init__(self, data: Path) -> None:
        self.data = data
        self.tty = sys.stderr.isatty()
        self.shown = -1

    def __call__(self, done: int, total: int) -> None:
        if not self.tty:
            if done == 0:
                print(f"checking {total:,} clip(s) in {escape(self.data)}", file=sys.stderr)
            return
        percent = 100 * done // total if total else 100
        if percent != self.shown:
            self.shown = percent
            end = "\n" if done == total else ""
            print(f"\rchecking clips: {percent}% ({done:,}/{total:,})", end=end, file=sys.stderr, flush=True)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `clips` and `check` to the `camhub` subparsers."""
    clips = subparsers.add_parser("clips", help="list recorded clips")
    clips.add_argument("--data", required=True, help="the hub's data folder")
    clips.add_argument("--camera", help="only this camera's clips")
    clips.add_argument("--json", action="store_true", help="one JSON object per clip")
    clips.set_defaults(func=_clips)

    check = subparsers.add_parser("check", help="check that the clip index and the disk agree")
    check.add_argument("--data", required=True, help="the hub's data folder")
    check.add_argument(
        "--repair",
        action="store_true",
        help="with the hub stopped: mend what can be mended (audited), and say what was done",
    )
    check.add_argument("--quick", action="store_true", help="compare sizes only, not SHA-256 hashes")
    check.set_defaults(func=_check)
