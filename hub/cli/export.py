"""`camhub export verify PACKAGE`: check an export package offline.

`add_parser(subparsers)` adds the `export` command. Exit codes: 0 the
package verifies (and the output says what that proves and what not), 1 it
does not (each problem is listed), 2 usage errors such as a missing file or
a malformed key (the caller prints `camhub: <message>` for a HubError).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from camhub.privacy.package.format import PackageError
from camhub.privacy.package.verifier import verify_package
from camhub.terminal import escape


def _key_text(value: str | None) -> str | None:
    """--key takes the key itself or a file holding it."""
    if value is None:
        return None
    path = Path(value)
    if path.is_file():
        return path.read_text().strip()
    if "+" not in value:
        raise PackageError(f"--key {value}: no such file, and not a verifier key (name+id+key)")
    return value


def _verify(args: argparse.Namespace) -> int:
    package = Path(args.package)
    result = verify_package(package, _key_text(args.key))
    if args.json:
        print(
            json.dumps({"package": str(package), **dataclasses.asdict(result)}, indent=1)
        )  # ASCII: the manifest's text is a stranger's
        return 0 if result.ok else 1
    if not result.ok:
        print(
            f"camhub: export: verification FAILED: {escape(package)}: {len(result.problems)} problem(s)",
            file=sys.stderr,
        )
        for problem in result.problems:
            print(f"  - {escape(problem)}", file=sys.stderr)
        return 1
    print(f"ok: {escape(package)} verifies")
    print("it proves:")
    for line in result.proves:
        print(f"  - {escape(line)}")
    print("it does not prove:")
    for line in result.does_not_prove:
        print(f"  - {escape(line)}")
    return 0


def add_parser(subparsers: Any) -> None:
    """Add `export` with its subcommands to the `camhub` subparsers."""
    export = subparsers.add_parser("export", help="check export packages")
    sub = export.add_subparsers(dest="export_command", required=True, metavar="SUBCOMMAND")

    verify = sub.add_parser("verify", help="check an export package offline; exit 1 naming what failed")
    verify.add_argument("package", metavar="PACKAGE", help="the package zip")
    verify.add_argument("--key", help="the hub's verifier key (name+id+key), or a file holding it, got out of band")
    verify.add_argument("--json", action="store_true", help="print the result as JSON (same exit codes)")
    verify.set_defaults(func=_verify)
