"""`camhub run -c FILE`: the hub with the cameras of a config file, until a signal or --seconds.

Exit codes: 0 stopped cleanly (SIGINT, SIGTERM or the time limit), 2 a config
the user can fix or a port that is taken (the caller prints `camhub: <message>`
for the HubError that escapes). The first owner's one-time password goes to
stdout, once, never to the log.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from camhub.logs import setup_logging


def started_executor(workers: int | None = None) -> ThreadPoolExecutor:
    """The loop's `to_thread` pool (the size of asyncio's default), with every thread started now.

    The default pool starts a thread only when all the others are busy, so a hub's thread count could
    step up hours into a run (the soak bench saw one at 7 minutes), which looks like a leak from outside.
    """
    workers = workers or min(32, (os.cpu_count() or 1) + 4)
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="asyncio")
    # Each submit starts a thread while none is idle; the barrier keeps them all busy until all exist.
    barrier = threading.Barrier(workers)
    for started in [pool.submit(barrier.wait, 10.0) for _ in range(workers)]:
        started.result()
    return pool


def _run(args: argparse.Namespace) -> int:
    # Imported here, not at the top: the parser is built for every command, and only this one runs the hub.
    from camhub.app import Hub, announce_first_login, serve
    from camhub.config import load_config

    config = load_config(Path(args.config))
    if args.port is not None:
        config = config.model_copy(update={"web": config.web.model_copy(update={"port": args.port})})
    setup_logging(args.verbose, config.secrets())

    async def run(hub: Hub) -> None:
        asyncio.get_running_loop().set_default_executor(started_executor())
        announce = asyncio.create_task(announce_first_login(hub))
        try:
            await serve(hub, args.seconds)
        finally:
            announce.cancel()

    asyncio.run(run(Hub(config)))
    return 0


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `run` to the `camhub` subparsers."""
    run = subparsers.add_parser("run", help="run the hub with the cameras of a config file")
    run.add_argument("-c", "--config", required=True, help="YAML config file (see docs/config.md)")
    run.add_argument("--port", type=int, help="web port, overriding web.port")
    run.add_argument("--seconds", type=float, help="stop cleanly after this many seconds")
    run.set_defaults(func=_run)
