"""The hub's own announcement, seen by a separate zeroconf peer on 127.0.0.1, and its stable id."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from zeroconf import ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from camhub import __version__
from camhub.discovery.announce import HUB_ID_FILE, SERVICE_TYPE, HubAnnouncer, hub_id
from camhub.discovery.network import open_zeroconf

pytestmark = pytest.mark.timeout(120)
LOOPBACK = ("127.0.0.1",)
DEADLINE = 30.0  # seconds; generous, the machine is busy


class Peer:
    """Another zeroconf instance on 127.0.0.1 browsing `_camhub._tcp`: the names announced now."""

    def __init__(self) -> None:
        self.zc = AsyncZeroconf(interfaces=list(LOOPBACK))
        self.present: set[str] = set()
        self._changed = asyncio.Event()
        self.browser = AsyncServiceBrowser(self.zc.zeroconf, [SERVICE_TYPE], handlers=[self._on_change])

    def _on_change(self, zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange) -> None:
        if state_change is ServiceStateChange.Added:
            self.present.add(name)
        elif state_change is ServiceStateChange.Removed:
            self.present.discard(name)
        self._changed.set()

    async def wait_for(self, condition: Callable[[], bool]) -> None:
        async with asyncio.timeout(DEADLINE):
            while not condition():
                self._changed.clear()
                await self._changed.wait()

    async def resolve(self, name: str) -> AsyncServiceInfo:
        info = AsyncServiceInfo(SERVICE_TYPE, name)
        assert await info.async_request(self.zc.zeroconf, DEADLINE * 1000), f"{name} did not resolve"
        return info

    async def close(self) -> None:
        await self.browser.async_cancel()
        await self.zc.async_close()


@pytest.fixture
async def peer() -> AsyncIterator[Peer]:
    watcher = Peer()
    yield watcher
    await watcher.close()


@pytest.fixture
async def hub_zeroconf() -> AsyncIterator[AsyncZeroconf]:
    zc = open_zeroconf(LOOPBACK)
    yield zc
    await zc.async_close()


async def test_the_hub_is_announced_with_version_id_and_api_and_withdrawn_on_stop(
    tmp_path: Path, peer: Peer, hub_zeroconf: AsyncZeroconf
) -> None:
    hid = hub_id(tmp_path)
    announcer = HubAnnouncer(hub_zeroconf, port=8971, hub_id=hid, version=__version__, addresses=LOOPBACK)
    await announcer.start()
    await announcer.start()  # a second start announces nothing more
    name = announcer.name
    assert name == f"camhub {hid[:8]}.{SERVICE_TYPE}"
    await peer.wait_for(lambda: name in peer.present)

    info = await peer.resolve(name)
    assert info.decoded_properties == {"txtvers": "1", "version": __version__, "id": hid, "api": "/api"}
    assert info.port == 8971
    assert info.parsed_addresses() == ["127.0.0.1"]
    assert info.server == f"camhub-{hid}.local."

    await announcer.stop()
    assert announcer.name is None
    await peer.wait_for(lambda: name not in peer.present)  # the goodbye, long before the record's TTL ends
    await announcer.stop()  # nothing left to withdraw


async def test_a_second_hub_with_the_same_name_is_announced_under_another(
    tmp_path: Path, peer: Peer, hub_zeroconf: AsyncZeroconf
) -> None:
    hid = hub_id(tmp_path)
    first = HubAnnouncer(hub_zeroconf, port=8971, hub_id=hid, version=__version__, addresses=LOOPBACK)
    other_zc = open_zeroconf(LOOPBACK)
    try:
        second = HubAnnouncer(other_zc, port=8972, hub_id=hid, version=__version__, addresses=LOOPBACK)
        await first.start()
        await second.start()
        assert first.name is not None and second.name is not None and first.name != second.name
        await peer.wait_for(lambda: {first.name, second.name} <= peer.present)
        assert (await peer.resolve(second.name)).port == 8972
    finally:
        await other_zc.async_close()
    await first.stop()


async def test_stop_after_the_zeroconf_instance_closed_is_quiet(tmp_path: Path) -> None:
    zc = open_zeroconf(LOOPBACK)
    announcer = HubAnnouncer(zc, port=8971, hub_id=hub_id(tmp_path), version=__version__, addresses=LOOPBACK)
    await announcer.start()
    await zc.async_close()  # closing says goodbye for every registered service
    await announcer.stop()
    assert announcer.name is None


def test_an_announcement_needs_an_address_and_a_hub_id(tmp_path: Path) -> None:
    zc = object.__new__(AsyncZeroconf)  # never used: the constructor refuses first
    with pytest.raises(ValueError, match="at least one address"):
        HubAnnouncer(zc, port=1, hub_id=hub_id(tmp_path), version="1", addresses=())
    with pytest.raises(ValueError, match="32 hex digits"):
        HubAnnouncer(zc, port=1, hub_id="not-an-id", version="1", addresses=LOOPBACK)


def test_the_hub_id_is_made_once_and_kept(tmp_path: Path) -> None:
    first = hub_id(tmp_path / "data")
    assert first == hub_id(tmp_path / "data")
    assert len(first) == 32 and int(first, 16) >= 0
    assert (tmp_path / "data" / HUB_ID_FILE).read_text() == first + "\n"
    assert hub_id(tmp_path / "other") != first


@pytest.mark.parametrize("damage", [b"", b"\xff\xfe not an id", b"abc", b"0" * 40])
def test_a_damaged_hub_id_file_is_replaced_and_said(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, damage: bytes
) -> None:
    (tmp_path / HUB_ID_FILE).write_bytes(damage)
    with caplog.at_level(logging.WARNING, logger="camhub.discovery.announce"):
        new = hub_id(tmp_path)
    assert len(new) == 32 and hub_id(tmp_path) == new
    assert f"{tmp_path / HUB_ID_FILE} does not hold a hub id" in caplog.text
    assert new in caplog.text
