"""The web server's door: how many connections it holds, for how long, and the file limit behind it.

aiohttp has no cap on connections and no deadline for a request head. An
outsider who opens a thousand connections and sends headers slowly takes
every file descriptor of the process, and then clip writes fail with EMFILE.
Recording must not share that fate, so:

- `raise_file_limit()` raises the soft RLIMIT_NOFILE to the hard limit at
  start-up, and logs once what it is.
- `connection_cap()` is the web server's share of descriptors: of those free
  when the web server starts, recording keeps `RESERVE_BASE` plus
  `RESERVE_PER_CAMERA` for each camera; a connection may hold two (its socket
  and a file it serves), so the cap is half of the rest, and never more than
  `web.max_connections`.
- `GuardedSite` listens like `web.TCPSite`, but each accepted connection meets
  `ConnectionGuard` before aiohttp sees it: over the cap, or over
  `web.max_connections_per_address` from one address, it is aborted at once
  (its descriptor is free again before a byte is read); one whose first
  request head is not complete within `web.header_timeout` is aborted.
  Idle keep-alives are closed by aiohttp's own `keepalive_timeout` (the
  runner gets `web.keepalive_timeout`), which also bounds how long a kept-alive
  connection may take to send its next head.

Each refusal is one log line; `camhub.logs.RepeatFilter` keeps a flood of them to
a few lines a minute.
"""

from __future__ import annotations

import asyncio
import logging
import os
import resource
from collections.abc import Callable
from typing import cast

from aiohttp import web

from camhub.config import WebConfig

log = logging.getLogger(__name__)
# Descriptors kept for recording: the databases, the audit log, retention's scans and
# exports, plus per camera its input sockets, the clip being written and its finishing.
RESERVE_BASE = 64
RESERVE_PER_CAMERA = 32
# A connection's socket, and a clip or snapshot it may be serving.
DESCRIPTORS_PER_CONNECTION = 2
# Below this the dashboard could not load; the reserve gives way instead (and a warning says so).
MIN_CONNECTIONS = 4
# When the hard limit is unlimited, the soft one goes this high (Linux's default fs.nr_open).
UNLIMITED_TARGET = 1 << 20


def raise_file_limit() -> int:
    """Raise the soft RLIMIT_NOFILE as far as the hard limit allows; return the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = UNLIMITED_TARGET if hard == resource.RLIM_INFINITY else hard
    raised = soft
    if soft != resource.RLIM_INFINITY and target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            raised = target
        except (OSError, ValueError):
            pass  # e.g. above fs.nr_open: keep what we have, and say so below
    shown_hard = "unlimited" if hard == resource.RLIM_INFINITY else str(hard)
    change = f"raised from {soft}" if raised != soft else "unchanged"
    log.info("file limit: %s descriptors (%s; hard limit %s)", raised, change, shown_hard)
    return int(raised)


def open_descriptors() -> int:
    """Descriptors the process has open now (0 where the system does not list them)."""
    for folder in ("/proc/self/fd", "/dev/fd"):
        try:
            return max(0, len(os.listdir(folder)) - 1)  # less the one listdir itself held
        except OSError:
            continue
    return 0


def connection_cap(configured: int, cameras: int) -> int:
    """How many connections the web server may hold and still leave recording its descriptors."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return configured
    free = soft - open_descriptors() - RESERVE_BASE - RESERVE_PER_CAMERA * cameras
    cap = min(configured, free // DESCRIPTORS_PER_CONNECTION)
    if cap < MIN_CONNECTIONS:
        log.warning(
            "web: the file limit (%d) leaves room for %d connection(s); allowing %d, which eats into "
            "recording's reserve: raise the limit (ulimit -n, or LimitNOFILE= in a systemd unit)",
            soft,
            max(cap, 0),
            MIN_CONNECTIONS,
        )
        return MIN_CONNECTIONS
    return cap


class ConnectionGuard:
    """Counts open connections, in total and per client address, and admits or refuses new ones."""

    def __init__(self, config: WebConfig, cap: int) -> None:
        self.cap = cap
        self.per_address = config.max_connections_per_address
        self.header_timeout = config.header_timeout
        self.open = 0
        self._by_address: dict[str, int] = {}
        log.info(
            "web: at most %d connections at once, %d per address; a request head must arrive within %g s",
            cap,
            self.per_address,
            self.header_timeout,
        )

    def admit(self, address: str) -> bool:
        held = self._by_address.get(address, 0)
        if self.open >= self.cap:
            log.warning(
                "web: refused a connection from %s: %d connections open, the most allowed "
                "(web.max_connections, lowered to fit the file limit)",
                address,
                self.open,
            )
            return False
        if held >= self.per_address:
            log.warning(
                "web: refused a connection from %s: it has %d open, the most allowed (web.max_connections_per_address)",
                address,
                held,
            )
            return False
        self.open += 1
        self._by_address[address] = held + 1
        return True

    def release(self, address: str) -> None:
        self.open -= 1
        left = self._by_address[address] - 1
        if left:
            self._by_address[address] = left
        else:
            del self._by_address[address]


class _GuardedProtocol(asyncio.Protocol):
    """Stands in front of aiohttp's protocol for one connection: admits it, and times its first head."""

    def __init__(self, guard: ConnectionGuard, make_handler: Callable[[], asyncio.Protocol]) -> None:
        self._guard = guard
        self._make_handler = make_handler
        self._handler: asyncio.Protocol | None = None
        self._address = ""
        self._timer: asyncio.TimerHandle | None = None
        self._tail = b""

    def connection_made(self, base: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, base)  # a TCP server's transports are
        peer = transport.get_extra_info("peername")
        self._address = str(peer[0]) if peer else "an unknown address"
        if not self._guard.admit(self._address):
            transport.abort()
            return
        timeout = self._guard.header_timeout
        self._timer = asyncio.get_running_loop().call_later(timeout, self._head_overdue, transport)
        self._handler = self._make_handler()
        self._handler.connection_made(transport)

    def _head_overdue(self, transport: asyncio.Transport) -> None:
        self._timer = None
        log.warning(
            "web: closed a connection from %s: no complete request head within %g s (web.header_timeout)",
            self._address,
            self._guard.header_timeout,
        )
        transport.abort()

    def data_received(self, data: bytes) -> None:
        if self._handler is None:
            return
        if self._timer is not None:
            seen = self._tail + data
            # A head ends with an empty line; the tail keeps a split "\r\n\r\n" findable.
            if b"\n\r\n" in seen or b"\n\n" in seen:
                self._timer.cancel()
                self._timer = None
            self._tail = seen[-2:]
        self._handler.data_received(data)

    def eof_received(self) -> bool | None:
        return self._handler.eof_received() if self._handler is not None else None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._handler is None:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._guard.release(self._address)
        handler, self._handler = self._handler, None
        handler.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._handler is not None:
            self._handler.pause_writing()

    def resume_writing(self) -> None:
        if self._handler is not None:
            self._handler.resume_writing()


class GuardedSite(web.BaseSite):
    """A TCP site whose connections pass `ConnectionGuard` first.

    Like aiohttp's own sites it creates the listening server in `start()` and keeps
    it in `_server`, where `BaseSite.stop()` and `AppRunner.addresses` look for it.
    """

    __slots__ = ("_guard", "_host", "_port", "_web_server")

    def __init__(self, runner: web.BaseRunner, host: str, port: int, guard: ConnectionGuard) -> None:
        super().__init__(runner)  # refuses a runner that is not set up yet
        self._host, self._port, self._guard = host, port, guard
        self._web_server = runner.server

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        server = self._web_server
        assert server is not None
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _GuardedProtocol(self._guard, server), self._host, self._port)
