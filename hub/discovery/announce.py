"""The hub announcing itself over zeroconf, and the stable id it announces.

The hub registers one `_camhub._tcp.local.` service, "camhub <first 8 of
its id>", on the zeroconf instance it shares with its browser
(`camhub.discovery.network.open_zeroconf`), so Home Assistant, a phone app
or a second hub can find it. The TXT record (docs/discovery.md):

    txtvers  1: the layout of this record; a reader ignores keys it does not know
    version  the hub's version, "0.1.0"
    id       the hub id: 32 hex digits, the same across restarts and address changes
    api      the API's path on the announced port, "/api"

Order of operations: `start` probes the name (zeroconf picks "camhub
3f2a9c1e (2)" when another device holds it) and returns once the
announcement has been sent; `stop` withdraws it with goodbye packets
before the zeroconf instance is closed. Both are idempotent; the owner of
the zeroconf instance closes it, not the announcer.

The hub id lives in `<data_dir>/hub_id` as one line of text, written once
durably (`camhub.durable.write_durably`). A file that does not hold an id
is replaced by a new one, with a warning: the id only lets peers recognise
the hub, so a new one costs at worst a peer's re-pairing, where refusing to
start would cost recording.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from pathlib import Path

from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

from camhub.durable import write_durably

log = logging.getLogger(__name__)

SERVICE_TYPE = "_camhub._tcp.local."
HUB_ID_FILE = "hub_id"
TXT_VERSION = "1"
_HUB_ID = re.compile(r"^[0-9a-f]{32}$")
_MAX_ID_FILE = 4096  # bytes read of a hub_id file; an id is 33


def hub_id(data_dir: Path) -> str:
    """This hub's id, made on first use and kept in `data_dir`/hub_id. Blocking file I/O: run it in a thread."""
    path = data_dir / HUB_ID_FILE
    try:
        with path.open("rb") as file:
            text = file.read(_MAX_ID_FILE).decode("ascii", errors="replace").strip()
    except FileNotFoundError:
        text = None
    if text is not None and _HUB_ID.match(text):
        return text
    new = uuid.uuid4().hex
    if text is not None:
        log.warning(
            "%s does not hold a hub id (32 hex digits); replaced by %s, so peers that knew this hub see a new one",
            path,
            new,
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    write_durably(path, f"{new}\n".encode())
    return new


class HubAnnouncer:
    """The hub's `_camhub._tcp` announcement on a zeroconf instance it does not own."""

    def __init__(
        self,
        zc: AsyncZeroconf,
        *,
        port: int,
        hub_id: str,
        version: str,
        addresses: tuple[str, ...],
        api_path: str = "/api",
    ) -> None:
        if not addresses:
            raise ValueError(
                "the hub's announcement needs at least one address where its web server listens "
                "(camhub.discovery.network.announced_addresses)"
            )
        if not _HUB_ID.match(hub_id):
            raise ValueError(f"hub id {hub_id!r} is not 32 hex digits (camhub.discovery.announce.hub_id)")
        self._zc = zc
        self.instance = f"camhub {hub_id[:8]}"
        self.properties = {"txtvers": TXT_VERSION, "version": version, "id": hub_id, "api": api_path}
        self.port = port
        self.server = f"camhub-{hub_id}.local."  # the host name the SRV record points at; the id keeps it unique
        self.addresses = addresses
        self._info: AsyncServiceInfo | None = None
        self._lock = asyncio.Lock()

    @property
    def name(self) -> str | None:
        """The full name announced, "camhub 3f2a9c1e._camhub._tcp.local.", or None when not announced."""
        return self._info.name if self._info is not None else None

    async def start(self) -> None:
        """Probe the name, register, and return once the announcement has been sent (about 2 s)."""
        async with self._lock:
            if self._info is not None:
                return
            info = AsyncServiceInfo(
                SERVICE_TYPE,
                f"{self.instance}.{SERVICE_TYPE}",
                port=self.port,
                server=self.server,
                parsed_addresses=list(self.addresses),
                properties=self.properties,
            )
            announced = await self._zc.async_register_service(info, allow_name_change=True)
            # Registered from here on: a start cancelled while the announcement goes out is still withdrawn by stop.
            self._info = info
            await announced
            log.info("announced the hub as %r on %s", info.name, ", ".join(info.parsed_addresses()))

    async def stop(self) -> None:
        """Withdraw the announcement (goodbye packets); nothing to do when it is not announced."""
        async with self._lock:
            info, self._info = self._info, None
            if info is None or self._zc.zeroconf.done:  # a closed instance said goodbye as it closed
                return
            await (await self._zc.async_unregister_service(info))
            log.info("withdrew the hub's announcement %r", info.name)
