"""Hostile answers to an ONVIF probe: the prober drops or cleans them, stays bounded, and keeps the loop free.

A stand-in responder (a raw UDP socket joined to the WS-Discovery group on
127.0.0.1 only, in a thread of its own) waits for the hub's Probe and
answers it, unicast to the probing socket, with what a broken or malicious
device might send: not XML, too large, entity bombs, missing or bad XAddrs,
hostile scopes, and floods. Each kind of problem is logged at most once.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import threading
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from urllib.parse import quote

import pytest

from camhub.discovery.model import MAX_TEXT, Finding
from camhub.integrations.onvif import probe
from camhub.integrations.onvif.probe import MAX_DATAGRAM, MAX_FINDINGS
from camhub.sim.onvif import group_socket

pytestmark = pytest.mark.timeout(180)

LOOPBACK = ("127.0.0.1",)
PROBE_LOG = "camhub.integrations.onvif.probe"
GOOD_XADDR = "http://127.0.0.1:8080/onvif/device_service"

Answers = Callable[[str], list[bytes]]  # the Probe's message id -> datagrams to send back


def match(endpoint: str, xaddrs: str | None = GOOD_XADDR, scopes: str = "onvif://www.onvif.org/name/cam") -> str:
    """One ProbeMatch element; xaddrs None leaves the element out."""
    xaddr = f"<d:XAddrs>{xaddrs}</d:XAddrs>" if xaddrs is not None else ""
    return (
        f"<d:ProbeMatch><a:EndpointReference><a:Address>{endpoint}</a:Address></a:EndpointReference>"
        f"<d:Types>dn:NetworkVideoTransmitter</d:Types><d:Scopes>{scopes}</d:Scopes>{xaddr}"
        "<d:MetadataVersion>1</d:MetadataVersion></d:ProbeMatch>"
    )


def matches(relates_to: str, *elements: str, prolog: str = "", padding: int = 0) -> bytes:
    """A ProbeMatches message answering `relates_to`, as a camera would send it."""
    return (
        f'{prolog}<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
        'xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" '
        'xmlns:dn="http://www.onvif.org/ver10/network/wsdl"><s:Header>'
        "<a:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</a:Action>"
        f"<a:MessageID>{uuid.uuid4().urn}</a:MessageID><a:RelatesTo>{relates_to}</a:RelatesTo>"
        f"<a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To>{' ' * padding}"
        f"</s:Header><s:Body><d:ProbeMatches>{''.join(elements)}</d:ProbeMatches></s:Body></s:Envelope>"
    ).encode()


class HostileResponder:
    """Answers the first Probe it hears on 127.0.0.1 with `answers(message_id)`, from a thread."""

    def __init__(self, answers: Answers, pause: float = 0.0) -> None:
        self.answers = answers
        self.pause = pause
        self.answered = threading.Event()
        self._stop = threading.Event()
        self._sock = group_socket()
        self._sock.setblocking(True)
        self._sock.settimeout(0.1)
        self._thread = threading.Thread(target=self._run, name="hostile-onvif", daemon=True)

    def __enter__(self) -> HostileResponder:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(10)
        self._sock.close()

    def _run(self) -> None:
        while not self._stop.is_set() and not self.answered.is_set():
            try:
                data, sender = self._sock.recvfrom(65536)
            except TimeoutError:
                continue
            found = re.search(rb"<a:MessageID>([^<]+)</a:MessageID>", data)
            if not found or b"/discovery/Probe<" not in data:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as out:
                for datagram in self.answers(found[1].decode()):
                    out.sendto(datagram, sender)
                    if self.pause:
                        self._stop.wait(self.pause)
            self.answered.set()


class LoopWatch:
    """The longest the event loop went without running a 10 ms ticker, while watching."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(0.01)
            self.worst = max(self.worst, loop.time() - before - 0.01)

    def __enter__(self) -> LoopWatch:
        self._task = asyncio.get_running_loop().create_task(self._tick())
        return self

    def __exit__(self, *_: object) -> None:
        assert self._task is not None
        self._task.cancel()


async def probe_against(answers: Answers, seconds: float = 3.0, pause: float = 0.0) -> tuple[list[Finding], float]:
    """Probe through loopback while a HostileResponder answers; the findings and the worst loop stall."""
    with HostileResponder(answers, pause) as hostile, LoopWatch() as watch:
        found = await probe(LOOPBACK, seconds)
        assert hostile.answered.is_set(), "the stand-in never heard the Probe"
    return found, watch.worst


@pytest.fixture(autouse=True)
def probe_log_reaches_caplog(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """In the whole suite an earlier test leaves the probe's logger not reaching the root (found in CI:
    the records never arrived, though the file passes alone); hand them to caplog directly."""
    logger = logging.getLogger(PROBE_LOG)
    disabled, propagate = logger.disabled, logger.propagate
    logger.disabled, logger.propagate = False, False
    logger.addHandler(caplog.handler)
    try:
        yield
    finally:
        logger.removeHandler(caplog.handler)
        logger.disabled, logger.propagate = disabled, propagate


def problems_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The kinds of problem the prober logged, one entry per line."""
    return [str(r.args[0]) for r in caplog.records if r.name == PROBE_LOG and isinstance(r.args, tuple)]


@pytest.fixture
def tag() -> Iterator[str]:
    """A prefix for this test's endpoints, so that other responders on this host do not confuse it."""
    yield f"urn:uuid:hostile-{uuid.uuid4().hex[:12]}"


BOMB = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
    + "]>"
)


async def test_each_hostile_answer_yields_nothing_or_a_cleaned_finding(
    tag: str, caplog: pytest.LogCaptureFixture
) -> None:
    hostile_name = quote("<script>alert(1)</script>\x07\x00\x1b[31m", safe="") + "%FF%FE" + "A" * 5000

    def answers(message_id: str) -> list[bytes]:
        return [
            b"\x00\xff this is not XML <<<",
            matches(message_id, match(f"{tag}-huge"), padding=MAX_DATAGRAM + 100),
            matches(message_id, match(f"{tag}-bomb", scopes="onvif://www.onvif.org/name/&lol9;"), prolog=BOMB),
            matches(message_id, match(f"{tag}-no-xaddrs", xaddrs=None)),
            matches(message_id, match(f"{tag}-empty-xaddrs", xaddrs="")),
            matches(
                message_id,
                match(
                    f"{tag}-bad-xaddrs", "http://999.1.1.1/x http://127.0.0.1:99999/x http://cam.local/x ftp://1.2.3.4/"
                ),
            ),
            matches(message_id, match(f"{tag}-one-good", f"http://127.0.0.1:0/x http://[::1:80/x {GOOD_XADDR}")),
            matches(
                message_id,
                match(
                    f"{tag}-scopes",
                    scopes=f"onvif://www.onvif.org/name/{hostile_name} onvif://www.onvif.org/MAC/not-a-mac "
                    "onvif://www.onvif.org/hardware/%0d%0aInjected:%20yes",
                ),
            ),
            matches(message_id, match(f"{tag}-raw-bad-utf8")).replace(b"name/cam", b"name/\xff\xfe"),
            matches("urn:uuid:another-probe", match(f"{tag}-other-probe")),
            matches(message_id, match("")),
            matches(message_id, match(f"{tag}-hello")).replace(b"ProbeMatches</a:Action>", b"Hello</a:Action>"),
        ]

    caplog.set_level(logging.INFO, logger=PROBE_LOG)
    found, worst_stall = await probe_against(answers)
    ours = {f.key.removeprefix(tag + "-"): f for f in found if f.key.startswith(tag)}

    assert set(ours) == {"one-good", "scopes"}
    assert (ours["one-good"].host, ours["one-good"].port) == ("127.0.0.1", 8080)
    assert ours["one-good"].device_service == GOOD_XADDR
    cleaned = ours["scopes"]
    assert cleaned.name.startswith("<script>alert(1)</script>")  # kept as text; the dashboard escapes it
    assert "\ufffd" in cleaned.name and len(cleaned.name) <= MAX_TEXT
    assert not any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 for c in cleaned.name + cleaned.model)
    assert cleaned.model == "Injected: yes" and cleaned.mac is None

    kinds = problems_logged(caplog)
    assert len(kinds) == len(set(kinds)), f"a kind of problem was logged twice: {kinds}"
    assert {
        "an answer that is not XML",
        f"an answer over {MAX_DATAGRAM} bytes",
        "an answer with a DTD or entities",
        "a ProbeMatches without a usable endpoint and XAddr",
        "a ProbeMatches answering another probe",
        "a message that is not a ProbeMatches",
    } <= set(kinds)
    assert worst_stall < 1.0


async def test_thousands_of_devices_are_capped(tag: str, caplog: pytest.LogCaptureFixture) -> None:
    # 60 devices per datagram, 3,000 in all: past the cap of devices kept per probe.
    per_datagram, datagrams = 60, 50

    def answers(message_id: str) -> list[bytes]:
        return [matches(message_id, *(match(f"{tag}-{d}-{i}") for i in range(per_datagram))) for d in range(datagrams)]

    caplog.set_level(logging.INFO, logger=PROBE_LOG)
    tracemalloc.start()
    try:
        found, worst_stall = await probe_against(answers, seconds=4.0, pause=0.005)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # Exactly the cap; a responder of another process on this host may hold a few of the places.
    assert len(found) == MAX_FINDINGS
    assert len([f for f in found if f.key.startswith(tag)]) > MAX_FINDINGS // 2
    assert problems_logged(caplog).count(f"more than {MAX_FINDINGS} devices") == 1
    assert peak < 64 * 1024 * 1024
    assert worst_stall < 1.0


async def test_a_flood_of_answers_is_bounded_and_logged_once(tag: str, caplog: pytest.LogCaptureFixture) -> None:
    def answers(message_id: str) -> list[bytes]:
        flood = [matches(message_id, match(f"{tag}-{i}")) for i in range(3000)]
        junk = [b"<not-xml" * 100] * 2000
        return [datagram for pair in zip(flood, junk, strict=False) for datagram in pair] + flood[2000:]

    caplog.set_level(logging.INFO, logger=PROBE_LOG)
    found, worst_stall = await probe_against(answers, seconds=3.0)
    assert 0 < len([f for f in found if f.key.startswith(tag)]) <= MAX_FINDINGS
    kinds = problems_logged(caplog)
    assert len(kinds) == len(set(kinds)), f"a kind of problem was logged twice: {kinds}"
    assert worst_stall < 1.0
