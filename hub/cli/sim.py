"""`camhub sim`: only the simulated cameras, for camhub or another NVR, until a signal or --seconds.

Everything binds 127.0.0.1 (see docs/simulator.md). Exit codes: 0 stopped
cleanly, 2 an unknown scene name (the caller prints `camhub: <message>`).
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from camhub.errors import HubError


def _sim(args: argparse.Namespace) -> int:
    # Imported here: rendering pulls in PyAV and OpenCV, which the other commands never need.
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


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `sim` to the `camhub` subparsers."""
    sim = subparsers.add_parser("sim", help="serve only the simulated cameras, for camhub or another NVR")
    sim.add_argument("--seconds", type=float, help="stop cleanly after this many seconds")
    sim.add_argument("--scene", action="append", help="a built-in scene to serve (repeatable; default: all)")
    sim.add_argument("--port", type=int, default=9554, help="HTTP port (default: 9554)")
    sim.add_argument("--rtsp-port", type=int, default=8554, help="RTSP port (default: 8554)")
    sim.add_argument("--no-rtsp", action="store_true", help="serve HTTP only, even where GStreamer is installed")
    sim.add_argument("--cache", default="demo-data/sim-cache", help="where rendered scenes are kept")
    sim.set_defaults(func=_sim)
