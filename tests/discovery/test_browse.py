"""The zeroconf browser against real announcers on 127.0.0.1 (a separate zeroconf instance in the test).

Each test announces with its own AsyncZeroconf, as a camera on the network
would, and watches the device table the browser fills: found within 5 s,
gone when withdrawn, followed when its address changes, one device for two
announcements carrying one serial.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
from zeroconf import ServiceInfo
from zeroconf.asyncio import AsyncZeroconf

from camhub.bus import Bus
from camhub.discovery.browse import ZeroconfBrowser
from camhub.discovery.table import DeviceChanged, DeviceTable
from camhub.registry import default_registry

LOOPBACK = "127.0.0.1"


async def until(condition: Callable[[], object], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def service(
    kind: str, name: str, port: int, props: dict[str, str], address: str = "127.0.0.2", server: str = "cam.local."
) -> ServiceInfo:
    return ServiceInfo(
        kind,
        f"{name}.{kind}",
        addresses=[socket.inet_aton(address)],
        port=port,
        properties=props,
        server=server,
    )


@asynccontextmanager
async def browsing(bus: Bus | None = None) -> AsyncIterator[tuple[DeviceTable, ZeroconfBrowser]]:
    table = DeviceTable(time.time, publish=bus.publish if bus else lambda e: None)
    zc = AsyncZeroconf(interfaces=[LOOPBACK])
    browser = ZeroconfBrowser(zc, default_registry(), table, min_interval=0.2)
    task = asyncio.create_task(browser.run())
    try:
        yield table, browser
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await zc.async_close()


@asynccontextmanager
async def announcer() -> AsyncIterator[AsyncZeroconf]:
    zc = AsyncZeroconf(interfaces=[LOOPBACK])
    try:
        yield zc
    finally:
        await zc.async_unregister_all_services()
        await zc.async_close()


def named(table: DeviceTable, name: str) -> dict[str, object] | None:
    return next((v for v in table.views() if v["name"] == name), None)


async def test_a_camera_appears_within_5_seconds_and_is_gone_when_it_withdraws() -> None:
    bus = Bus()
    with bus.subscribe(DeviceChanged) as events:
        async with browsing(bus) as (table, _), announcer() as zc:
            info = service(
                "_rtsp._tcp.local.",
                "Porch cam",
                8554,
                {
                    "path": "/live/main",
                    "sub": "/live/sub",
                    "manufacturer": "Acme",
                    "model": "C1",
                    "mac": "AA-BB-CC-00-11-22",
                },
            )
            await zc.async_register_service(info)
            started = time.monotonic()
            await until(lambda: named(table, "Porch cam"))
            found_after = time.monotonic() - started
            device = named(table, "Porch cam")
            assert device is not None
            assert device["state"] == "new" and device["adoptable"] is True
            assert device["address"] == "127.0.0.2:8554"
            assert (device["maker"], device["model"], device["mac"]) == ("Acme", "C1", "aa:bb:cc:00:11:22")
            assert device["record"] == "rtsp://127.0.0.2:8554/live/main"
            assert device["detect"] == "rtsp://127.0.0.2:8554/live/sub"
            # Registration itself probes for ~1.5 s; the bound is 5 s from announcing.
            assert found_after < 5.0 + 2.0, f"found after {found_after:.1f} s"
            await zc.async_unregister_service(info)
            await until(lambda: (named(table, "Porch cam") or {}).get("state") == "gone")
        changes = []
        while not events.queue.empty():
            event = events.queue.get_nowait()
            if event.name == "Porch cam":  # other announcers on this loopback have their own events
                changes.append(event.change)
    assert changes[0] == "found" and changes[-1] == "gone", changes


async def test_an_address_change_is_followed_as_the_same_device() -> None:
    async with browsing() as (table, _), announcer() as zc:
        info = service("_rtsp._tcp.local.", "Garage", 554, {"path": "/h264"}, address="127.0.0.3")
        await zc.async_register_service(info)
        await until(lambda: named(table, "Garage"))
        first = named(table, "Garage")
        assert first is not None
        moves: list[tuple[str, str]] = []
        table.on_moved.append(lambda device, old, new: moves.append((old.host, new.host)))
        moved = service("_rtsp._tcp.local.", "Garage", 554, {"path": "/h264"}, address="127.0.0.4")
        await zc.async_update_service(moved)
        await until(lambda: (named(table, "Garage") or {}).get("address") == "127.0.0.4:554")
        second = named(table, "Garage")
        assert second is not None and second["id"] == first["id"]
        assert moves == [("127.0.0.3", "127.0.0.4")]
        assert second["record"] == "rtsp://127.0.0.4:554/h264"
        # Other announcers on this loopback (other tests' cameras) may be in the table too; not another Garage.
        assert [v["id"] for v in table.views() if v["name"] == "Garage"] == [first["id"]]


async def test_two_announcements_with_one_serial_are_one_device() -> None:
    async with browsing() as (table, _), announcer() as zc:
        props = {"serial": "SN-77", "model": "Dual"}
        await asyncio.gather(
            zc.async_register_service(service("_rtsp._tcp.local.", "dual", 554, {**props, "path": "/main"})),
            zc.async_register_service(
                service("_camhub-sim._tcp.local.", "dual", 8080, {**props, "main": "/dual/main.mp4"})
            ),
        )
        await until(lambda: any(len(d.findings) == 2 for d in table.devices.values()))
        [device] = [v for v in table.views() if v["serial"] == "SN-77"]
        assert device["serial"] == "SN-77"
        assert device["kinds"] == ["zeroconf"] and device["integrations"] == ["rtsp", "stream"]
        urls = [s["url"] for s in device["streams"]]  # type: ignore[union-attr]
        assert urls == ["rtsp://127.0.0.2:554/main", "http://127.0.0.2:8080/dual/main.mp4"]


@pytest.mark.parametrize("category, what", [("17", "camera"), ("18", "video doorbell")])
async def test_a_homekit_camera_is_listed_but_not_adoptable(category: str, what: str) -> None:
    async with browsing() as (table, _), announcer() as zc:
        props = {"ci": category, "md": "Doorbell Pro", "id": "12:34:56:78:9A:BC", "c#": "3"}
        await zc.async_register_service(service("_hap._tcp.local.", "Front door", 51827, props))
        await until(lambda: named(table, "Front door"))
        device = named(table, "Front door")
        assert device is not None
        assert device["adoptable"] is False and device["integrations"] == ["homekit"]
        assert f"HomeKit {what}" in str(device["why_not"]) and device["model"] == "Doorbell Pro"


async def test_axis_and_http_cameras_are_described_by_their_integrations() -> None:
    async with browsing() as (table, _), announcer() as zc:
        await asyncio.gather(
            zc.async_register_service(
                service("_axis-video._tcp.local.", "AXIS M3045", 80, {"macaddress": "00408C123456"}, "127.0.0.5")
            ),
            zc.async_register_service(service("_http._tcp.local.", "webcam", 8080, {"mjpeg": "/video"}, "127.0.0.6")),
            # A web server that says nothing of a camera is not one.
            zc.async_register_service(service("_http._tcp.local.", "printer", 631, {"rp": "ipp"}, "127.0.0.7")),
        )
        await until(lambda: named(table, "AXIS M3045") and named(table, "webcam"))
        axis, webcam = named(table, "AXIS M3045"), named(table, "webcam")
        assert axis is not None and webcam is not None
        assert axis["record"] == "rtsp://127.0.0.5:554/axis-media/media.amp" and axis["mac"] == "00:40:8c:12:34:56"
        assert webcam["record"] == "http://127.0.0.6:8080/video" and webcam["integrations"] == ["mjpeg"]
        assert named(table, "printer") is None
