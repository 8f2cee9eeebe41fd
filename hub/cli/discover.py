"""`camhub discover`: a one-shot scan of the network for cameras, printed as a table or JSON.

It listens on the interfaces of `--interface` (repeatable), else of the
config file's `discovery.interfaces`, else on every interface. With a
config file, its cameras show as known ("configured"), and its data
folder's adopted and ignored devices as such. Announced names are untrusted:
they are printed escaped. Exit code 0 whether or not anything was found.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from camhub.terminal import escape


def _discover(args: argparse.Namespace) -> int:
    from camhub.config import load_config
    from camhub.discovery.model import without_credentials
    from camhub.discovery.scan import decisions_in, scan
    from camhub.registry import default_registry

    interfaces: Any = "all"
    configured: dict[str, list[str]] = {}
    decisions = {}
    if args.config:
        config = load_config(Path(args.config))
        interfaces = config.discovery.interfaces
        configured = {n: [without_credentials(i.url) for i in c.inputs] for n, c in config.cameras.items()}
        decisions = decisions_in(config.data_dir)
    if args.interface:
        interfaces = tuple(args.interface)
    where = "every interface" if interfaces == "all" else ", ".join(interfaces)

    def progress(elapsed: float, found: int) -> None:
        if sys.stderr.isatty():
            end = "\n" if elapsed >= args.seconds else ""
            print(f"\rlistening on {where}: {elapsed:.0f}/{args.seconds:g} s, {found} found ", end=end, file=sys.stderr)

    if not sys.stderr.isatty():
        print(f"listening on {where} for {args.seconds:g} s", file=sys.stderr)
    devices = asyncio.run(
        scan(
            default_registry(),
            interfaces,
            args.seconds,
            onvif=not args.no_onvif,
            configured=configured,
            decisions=decisions,
            progress=progress,
        )
    )
    if args.json:
        for device in devices:
            print(json.dumps(device, sort_keys=True))
        return 0
    if not devices:
        print("no camera found; is it on, and on the same network as this machine?")
        return 0
    for d in devices:
        what = " ".join(x for x in (d["maker"], d["model"]) if x) or ", ".join(d["integrations"])
        if d["camera"]:
            status = f"known as camera {d['camera']}" + (" (config file)" if d["configured"] else "")
        elif d["adoptable"]:
            status = f"waiting for adoption: POST /api/discovered/{d['id']}/adopt"
        else:
            status = d["why_not"] or ""
        name, what = escape(d["name"])[:40], escape(what)[:30]
        print(f"{d['state']:8} {name:40} {d['address'] or '-':22} {what:30} {escape(status)}")
        if d["record"] and not d["camera"]:
            print(f"{'':8} record {escape(d['record'])}  detect {escape(d['detect'])}")
    return 0


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `discover` to the `camhub` subparsers."""
    discover = subparsers.add_parser("discover", help="scan the network for cameras once and list them")
    discover.add_argument("-c", "--config", help="config file: its interfaces, its cameras shown as known")
    discover.add_argument(
        "--interface", action="append", metavar="ADDRESS", help="listen only on this interface address (repeatable)"
    )
    discover.add_argument("--seconds", type=float, default=10.0, help="how long to listen (default 10)")
    discover.add_argument("--json", action="store_true", help="one JSON object per device")
    discover.add_argument("--no-onvif", action="store_true", help="do not send an ONVIF WS-Discovery probe")
    discover.set_defaults(func=_discover)
