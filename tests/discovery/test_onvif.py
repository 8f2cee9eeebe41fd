"""ONVIF discovery against a real peer: the simulator's WS-Discovery responder and device service.

Every probe goes out through 127.0.0.1 only. Other processes on this host may
run responders of their own, so tests look for their own cameras among what
a probe finds, never for an exact list.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from camhub.discovery.model import ONVIF, Finding, Stream
from camhub.integrations.onvif import OnvifError, ask_streams, probe
from camhub.integrations.onvif.probe import open_probe_sockets
from camhub.registry import Registry, builtin_integrations
from camhub.sim.onvif import OnvifCamera, OnvifResponder, OnvifStream

from ..conftest import free_port

pytestmark = pytest.mark.timeout(120)

LOOPBACK = ("127.0.0.1",)
USER, PASSWORD = "admin", "s3cret-onvif-77"
FRONT = OnvifCamera(
    "Front door",
    (
        OnvifStream("rtsp://127.0.0.1:8554/front/sub", 640, 360, "sub"),
        OnvifStream("rtsp://127.0.0.1:8554/front/main", 1280, 720, "main"),
    ),
    model="Sim Bullet 4K",
    maker="Camhub & Co",
    mac="02-00-00-00-00-0A",
    serial="SIM-0001",
)
GARDEN = OnvifCamera("Garden / back", (OnvifStream("rtsp://127.0.0.1:8554/garden/main", 1920, 1080),))


@pytest.fixture
async def responder() -> AsyncIterator[OnvifResponder]:
    sim = OnvifResponder([FRONT, GARDEN], credentials=(USER, PASSWORD))
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


async def found_by_probe(keys: set[str], deadline: float = 30.0, seconds: float = 1.0) -> dict[str, Finding]:
    """Probe through loopback, again and again, until every endpoint in `keys` answered."""
    found: dict[str, Finding] = {}
    async with asyncio.timeout(deadline):
        while not keys <= set(found):
            found |= {f.key: f for f in await probe(LOOPBACK, seconds) if f.key in keys}
    return found


async def test_a_probe_on_loopback_finds_the_simulated_cameras(responder: OnvifResponder) -> None:
    found = await found_by_probe({FRONT.endpoint, GARDEN.endpoint})
    front, garden = found[FRONT.endpoint], found[GARDEN.endpoint]
    service = responder.service("Front door")
    assert front == Finding(
        kind=ONVIF,
        key=FRONT.endpoint,
        integration="onvif",
        host="127.0.0.1",
        port=service.port,
        name="Front door",
        maker="Camhub & Co",
        model="Sim Bullet 4K",
        mac="02:00:00:00:00:0a",
        serial="SIM-0001",
        device_service=f"http://127.0.0.1:{service.port}/onvif/device_service",
    )
    assert front.streams == ()  # streams need the owner's credentials
    assert front.identity == "mac:02:00:00:00:00:0a"
    assert garden.name == "Garden / back"  # URL-decoded from its scope
    assert garden.device_service == responder.service("Garden / back").xaddr
    assert responder.probes_answered >= 1


async def test_the_registry_offers_onvif_as_a_prober(responder: OnvifResponder) -> None:
    registry = Registry().load(builtin_integrations())
    [prober] = [p for p in registry.probers if p.domain == "onvif"]
    assert registry.manifests["onvif"].kind == "discovery"
    assert prober.probe is probe and prober.ask_streams is ask_streams
    async with asyncio.timeout(30):
        while not any(f.key == FRONT.endpoint for f in await prober.probe(LOOPBACK, 1.0)):
            pass


def test_probe_sockets_send_multicast_through_the_given_address_only() -> None:
    sockets = open_probe_sockets(["127.0.0.1", "::1", "not-an-address"])
    try:
        [sock] = sockets  # IPv6 and garbage are skipped: WS-Discovery is probed over IPv4
        assert sock.getsockname()[0] == "127.0.0.1"
        assert sock.getsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, 4) == socket.inet_aton("127.0.0.1")
        assert sock.getsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL) == 1
    finally:
        for sock in sockets:
            sock.close()


async def test_a_probe_with_no_usable_interface_finds_nothing_at_once() -> None:
    async with asyncio.timeout(5):
        assert await probe(("::1",), 30.0) == []


async def test_ask_streams_with_the_owners_credentials(responder: OnvifResponder) -> None:
    front = (await found_by_probe({FRONT.endpoint}))[FRONT.endpoint]
    streams = await ask_streams(front, USER, PASSWORD, 60.0)
    assert streams == (
        Stream("rtsp://127.0.0.1:8554/front/main", "main", 1280, 720),
        Stream("rtsp://127.0.0.1:8554/front/sub", "sub", 640, 360),
    )
    assert {"GetProfiles", "GetStreamUri"} <= set(responder.service("Front door").requests)


async def test_wrong_credentials_fail_as_auth_failed_naming_no_secret(responder: OnvifResponder) -> None:
    front = (await found_by_probe({FRONT.endpoint}))[FRONT.endpoint]
    wrong = "not-the-password-91"
    with pytest.raises(OnvifError) as info:
        await ask_streams(front, USER, wrong, 60.0)
    assert info.value.code == "auth_failed"
    assert "Front door" in str(info.value) and wrong not in str(info.value) and PASSWORD not in str(info.value)
    with pytest.raises(OnvifError) as info:
        await ask_streams(front, "someone-else", PASSWORD, 60.0)
    assert info.value.code == "auth_failed"
    assert "GetProfiles" not in responder.service("Front door").requests


def device_at(port: int) -> Finding:
    return Finding(
        kind=ONVIF,
        key="urn:uuid:test",
        integration="onvif",
        host="127.0.0.1",
        port=port,
        name="Test camera",
        device_service=f"http://127.0.0.1:{port}/onvif/device_service",
    )


async def test_a_dead_port_is_unreachable() -> None:
    port = free_port()
    with pytest.raises(OnvifError) as info:
        await ask_streams(device_at(port), USER, PASSWORD, 60.0)
    assert info.value.code == "unreachable"
    assert f"127.0.0.1:{port}" in str(info.value)


async def test_a_device_that_never_answers_times_out() -> None:
    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client gives up
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(OnvifError) as info:
            await ask_streams(device_at(port), USER, PASSWORD, 3.0)
        assert info.value.code == "timeout"
        assert loop.time() - started < 30  # bounded by the timeout, not the library's 90 s
    finally:
        server.close()
        await server.wait_closed()


@pytest.fixture
async def web_device() -> AsyncIterator[tuple[int, list[str]]]:
    """A device service that answers every request with the HTML page in the list it yields."""
    pages = ["<html><body>Login</body></html>"]

    async def answer(request: web.Request) -> web.Response:
        return web.Response(text=pages[0], content_type="text/html")

    app = web.Application()
    app.router.add_post("/onvif/device_service", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield int(runner.addresses[0][1]), pages
    finally:
        await runner.cleanup()


async def test_an_answer_that_is_not_onvif_is_a_bad_answer(web_device: tuple[int, list[str]]) -> None:
    port, _ = web_device
    with pytest.raises(OnvifError) as info:
        await ask_streams(device_at(port), USER, PASSWORD, 60.0)
    assert info.value.code == "bad_answer"


async def test_stream_urls_go_to_the_device_itself_without_credentials() -> None:
    odd = OnvifCamera(
        "Odd",
        (
            OnvifStream("rtsp://root:leak@10.9.8.7:8555/cam/realmonitor?channel=1&subtype=0", 2560, 1440),
            OnvifStream("http://127.0.0.1/not-rtsp", 640, 480, "web"),
            OnvifStream("rtsp://127.0.0.1:8555/sub bad path", 320, 240, "tiny"),
        ),
    )
    sim = OnvifResponder([odd], credentials=(USER, PASSWORD))
    await sim.start()
    try:
        found = (await found_by_probe({odd.endpoint}))[odd.endpoint]
        streams = await ask_streams(found, USER, PASSWORD, 60.0)
    finally:
        await sim.stop()
    # Elsewhere is moved to the device's own address; the HTTP and the unsafe path are left out.
    assert streams == (Stream("rtsp://127.0.0.1:8555/cam/realmonitor?channel=1&subtype=0", "main", 2560, 1440),)
