"""The hub follows an adopted camera that moves (a new DHCP lease, a new port) and reconnects.

A separate zeroconf announcer in the test plays the camera's announcement;
two real RTSP servers play the camera before and after the move.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from zeroconf import ServiceInfo
from zeroconf.asyncio import AsyncZeroconf

from .test_adopt import adopt, found, running_hub

pytestmark = [pytest.mark.timeout(300)]


async def until(condition: Callable[[], Awaitable[Any] | Any], seconds: float = 60.0) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.2)


def carport(port: int) -> ServiceInfo:
    return ServiceInfo(
        "_rtsp._tcp.local.",
        "Carport._rtsp._tcp.local.",
        addresses=[socket.inet_aton("127.0.0.1")],
        port=port,
        properties={"path": "/cam/main", "sub": "/cam/sub", "mac": "02:aa:00:00:00:01"},
        server="carport.local.",
    )


async def test_an_adopted_camera_that_moves_is_followed_and_reconnected(
    rtsp_server_factory: Callable[..., Any], tmp_path: Path, household_login: Any, caplog: pytest.LogCaptureFixture
) -> None:
    before, after = rtsp_server_factory(), rtsp_server_factory()
    await before.start()
    announcer = AsyncZeroconf(interfaces=["127.0.0.1"])
    try:
        await (await announcer.async_register_service(carport(before.port)))
        data = tmp_path / "data"
        async with running_hub(data) as hub:
            http, _ = await household_login(hub.url, hub.initial_password)
            async with http:
                device = await found(http, hub, "Carport")
                status, answer = await adopt(http, hub, device["id"], {"name": "carport"})
                assert status == 201, answer
                assert hub.discovery is not None

                def online() -> bool:
                    return bool(hub.cameras["carport"].status()["online"])

                await until(online)
                await after.start()
                with caplog.at_level(logging.INFO):
                    await (await announcer.async_update_service(carport(after.port)))
                    await before.stop()
                    moved = f"rtsp://127.0.0.1:{after.port}/cam/main"
                    await until(lambda: hub.discovery.adopted["carport"].record_url == moved)  # type: ignore[union-attr]
                    assert hub.discovery.adopted["carport"].detect_url == f"rtsp://127.0.0.1:{after.port}/cam/sub"
                    await until(lambda: "carport" in hub.cameras and online())
                assert any("moved" in r.getMessage() and "carport" in r.getMessage().lower() for r in caplog.records)
                assert hub.audit is not None
                entries = [await hub.audit.entry(i) for i in range(hub.audit.size)]
                changed = [e for e in entries if b'"camera_changed"' in e]
                assert len(changed) == 1 and str(after.port).encode() in changed[0] and b'"moved"' in changed[0]
        # The new address is what the next start uses.
        async with running_hub(data) as hub:
            assert hub.discovery is not None
            assert hub.discovery.adopted["carport"].record_url == f"rtsp://127.0.0.1:{after.port}/cam/main"
    finally:
        await announcer.async_unregister_all_services()
        await announcer.async_close()


async def test_a_new_address_announced_while_the_camera_still_answers_is_not_followed(
    rtsp_server_factory: Callable[..., Any],
    tmp_path: Path,
    household_login: Any,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A spoofer announcing the camera's name elsewhere must not get its credentials."""
    monkeypatch.setattr("camhub.discovery.service.FOLLOW_PATIENCE", 3.0)
    camera, spoof = rtsp_server_factory(), rtsp_server_factory()
    await camera.start()
    await spoof.start()
    announcer = AsyncZeroconf(interfaces=["127.0.0.1"])
    try:
        await (await announcer.async_register_service(carport(camera.port)))
        async with running_hub(tmp_path / "data") as hub:
            http, _ = await household_login(hub.url, hub.initial_password)
            async with http:
                device = await found(http, hub, "Carport")
                status, answer = await adopt(http, hub, device["id"], {"name": "carport"})
                assert status == 201, answer
                await until(lambda: hub.cameras["carport"].status()["online"])
                with caplog.at_level(logging.WARNING):
                    await (await announcer.async_update_service(carport(spoof.port)))
                    await until(lambda: "not followed" in caplog.text, 60)
                assert hub.discovery is not None
                assert hub.discovery.adopted["carport"].record_url == f"rtsp://127.0.0.1:{camera.port}/cam/main"
                assert hub.audit is not None
                entries = [await hub.audit.entry(i) for i in range(hub.audit.size)]
                assert not [e for e in entries if b'"camera_changed"' in e]
    finally:
        await announcer.async_unregister_all_services()
        await announcer.async_close()
