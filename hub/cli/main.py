"""The `camhub` command: the parser, built from each command group's module, and the dispatch.

Each group (`camhub.cli.run`, `demo`, `discover`, `sim`, `store`, `audit`, `export`,
`requests`, `transparency`) adds its commands with `add_parser(subparsers)`
and sets `func`, which returns the exit code. Errors the user can fix (a
`HubError`) come out as one clear line on stderr and exit code 2, never as a
traceback; Ctrl-C is exit code 130. `python -m camhub.cli` and
`python -m camhub.cli.main` both run `main`.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from camhub import __version__
from camhub.cli import audit, demo, discover, export, requests, run, sim, store, transparency
from camhub.errors import HubError
from camhub.logs import setup_logging
from camhub.terminal import escape

# In the order `camhub --help` lists them.
GROUPS = (run, demo, discover, store, audit, export, requests, transparency, sim)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="camhub", description="A local-first camera hub.")
    parser.add_argument("--version", action="version", version=f"camhub {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    try:
        return int(args.func(args))
    except HubError as exc:
        print("camhub: " + escape(exc, keep="\n"), file=sys.stderr)  # lines of a config error stay lines
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    logging.captureWarnings(True)
    sys.exit(main())
