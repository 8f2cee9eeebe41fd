"""The hub's life: what starts, in which order, and how it stops.

One event loop. The web server starts first, so the status page can explain
a camera that will not connect; then one TaskGroup owns every camera. A stop
(SIGINT, SIGTERM or a time limit) cancels the cameras, waits for them, then
closes the web server. Nothing is left running behind the caller's back.
"""

from __future__ import annotations

import asyncio
import logging
import signal

from aiohttp import web

from hub.api import make_app
from hub.camera import CameraPipeline
from hub.config import HubConfig
from hub.errors import HubError
from hub.registry import Registry

log = logging.getLogger(__name__)
# Seconds open responses (live views) get to finish when the hub stops.
WEB_SHUTDOWN_TIMEOUT = 2.0


class Hub:
    def __init__(self, config: HubConfig, registry: Registry | None = None) -> None:
        self.config = config
        self.registry = registry if registry is not None else Registry().load()
        secrets = config.secrets()
        self.cameras = {
            name: CameraPipeline(name, cam, self.registry.source_for, config.reconnect, secrets)
            for name, cam in config.cameras.items()
            if cam.enabled
        }
        self.web_port: int | None = None
        self.ready = asyncio.Event()

    @property
    def url(self) -> str:
        return f"http://{self.config.web.host}:{self.web_port}"

    async def _start_web(self) -> web.AppRunner:
        runner = web.AppRunner(
            make_app(self.cameras), handle_signals=False, access_log=None, shutdown_timeout=WEB_SHUTDOWN_TIMEOUT
        )
        await runner.setup()
        site = web.TCPSite(runner, self.config.web.host, self.config.web.port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise HubError(
                f"web.port: cannot listen on {self.config.web.host}:{self.config.web.port}: {exc.strerror}; "
                "choose a free port in the config or with --port"
            ) from None
        self.web_port = runner.addresses[0][1]
        return runner

    async def run(self, stop: asyncio.Event) -> None:
        """Run until `stop` is set; then stop everything in order."""
        self.config.data_dir.mkdir(parents=True, exist_ok=True)
        runner = await self._start_web()
        log.info("hub started with %d camera(s); dashboard at %s", len(self.cameras), self.url)
        try:
            async with asyncio.TaskGroup() as tg:
                tasks = [tg.create_task(cam.run(), name=f"camera:{name}") for name, cam in self.cameras.items()]
                self.ready.set()
                await stop.wait()
                log.info("stopping: cameras first, then the web server")
                for task in tasks:
                    task.cancel()
        finally:
            await runner.cleanup()
            log.info("hub stopped")


async def serve(hub: Hub, seconds: float | None = None) -> None:
    """Run `hub` until SIGINT or SIGTERM, or for `seconds` when given."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    timer = loop.call_later(seconds, stop.set) if seconds is not None else None
    try:
        await hub.run(stop)
    finally:
        if timer is not None:
            timer.cancel()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
