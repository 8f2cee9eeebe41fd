"""The `camhub` command: run, demo, sim.

Each subcommand is a small function; errors the user can fix come out as
one clear line on stderr and exit code 2, never as a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from camhub import __version__
from camhub.clock import utc_text
from camhub.errors import HubError
from camhub.logs import setup_logging
from camhub.terminal import escape


def _run(args: argparse.Namespace) -> int:
    from camhub.app import Hub, announce_first_login, serve
    from camhub.config import load_config

    config = load_config(Path(args.config))
    if args.port is not None:
        config = config.model_copy(update={"web": config.web.model_copy(update={"port": args.port})})
    setup_logging(args.verbose, config.secrets())

    async def run(hub: Hub) -> None:
        announce = asyncio.create_task(announce_first_login(hub))
        try:
            await serve(hub, args.seconds)
        finally:
            announce.cancel()

    asyncio.run(run(Hub(config)))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from camhub.cli.demo import run_demo

    asyncio.run(run_demo(seconds=args.seconds, data_dir=Path(args.data), port=args.port, cameras=args.cameras))
    return 0


def _sim(args: argparse.Namespace) -> int:
    from camhub.sim.simulator import run_sim

    try:
        asyncio.run(
            run_sim(
                args.scene or [],
                cache_dir=Path(args.cache),
                seconds=args.seconds,
                http_port=args.port,
                rtsp_port=args.rtsp_port,
                rtsp=not args.no_rtsp,
            )
        )
    except ValueError as exc:  # an unknown scene name
        raise HubError(str(exc)) from None
    return 0


def _clips(args: argparse.Namespace) -> int:
    import json

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

    def progress(done: int, total: int) -> None:
        if sys.stderr.isatty() and (done % 50 == 0 or done == total):
            print(f"\rchecking clips: {done}/{total}", end="" if done < total else "\n", file=sys.stderr)

    findings = check(data, hashes=not args.quick, progress=progress, hub_running=running is not None)
    for finding in findings:
        print(escape(finding))  # file names on disk may hold anything
    if findings:
        print(f"camhub check: {len(findings)} problem(s) in {data}; `camhub check --repair` mends what it can")
        return 1
    print(f"camhub check: index and disk agree in {data}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="camhub", description="A local-first camera hub.")
    parser.add_argument("--version", action="version", version=f"camhub {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the hub with the cameras of a config file")
    run.add_argument("-c", "--config", required=True, help="YAML config file (see docs/config.md)")
    run.add_argument("--port", type=int, help="web port, overriding web.port")
    run.add_argument("--seconds", type=float, help="stop cleanly after this many seconds")
    run.set_defaults(func=_run)

    demo = sub.add_parser("demo", help="simulated cameras on loopback plus the hub")
    demo.add_argument("--seconds", type=float, help="stop cleanly after this many seconds")
    demo.add_argument("--data", default="demo-data", help="data folder (default: ./demo-data)")
    demo.add_argument("--port", type=int, default=8971, help="dashboard port (default: 8971)")
    demo.add_argument("--cameras", type=int, default=3, help="how many simulated cameras (default: 3)")
    demo.set_defaults(func=_demo)

    clips = sub.add_parser("clips", help="list recorded clips")
    clips.add_argument("--data", required=True, help="the hub's data folder")
    clips.add_argument("--camera", help="only this camera's clips")
    clips.add_argument("--json", action="store_true", help="one JSON object per clip")
    clips.set_defaults(func=_clips)

    chk = sub.add_parser("check", help="check that the clip index and the disk agree")
    chk.add_argument("--data", required=True, help="the hub's data folder")
    chk.add_argument(
        "--repair",
        action="store_true",
        help="with the hub stopped: mend what can be mended (audited), and say what was done",
    )
    chk.add_argument("--quick", action="store_true", help="compare sizes only, not SHA-256 hashes")
    chk.set_defaults(func=_check)

    from camhub.cli.audit import add_parser as add_audit_parser
    from camhub.cli.export import add_parser as add_export_parser
    from camhub.cli.requests import add_parser as add_requests_parser
    from camhub.cli.transparency import add_parser as add_transparency_parser

    add_audit_parser(sub)
    add_export_parser(sub)
    add_requests_parser(sub)
    add_transparency_parser(sub)

    sim = sub.add_parser("sim", help="serve only the simulated cameras, for camhub or another NVR")
    sim.add_argument("--seconds", type=float, help="stop cleanly after this many seconds")
    sim.add_argument("--scene", action="append", help="a built-in scene to serve (repeatable; default: all)")
    sim.add_argument("--port", type=int, default=9554, help="HTTP port (default: 9554)")
    sim.add_argument("--rtsp-port", type=int, default=8554, help="RTSP port (default: 8554)")
    sim.add_argument("--no-rtsp", action="store_true", help="serve HTTP only, even where GStreamer is installed")
    sim.add_argument("--cache", default="demo-data/sim-cache", help="where rendered scenes are kept")
    sim.set_defaults(func=_sim)
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
