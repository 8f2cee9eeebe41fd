"""A broken camera whose record input the carrier reads (hub/capture/carrier.py) holds up no other camera.

The carrier reads every paced record-only input on one thread, without waiting on any socket. What a
camera sends that ends its stream (garbage, silence, a closed connection) must come back to that input's
own thread as its error, where it is logged and the input reconnects with its backoff, while the other
carried cameras keep arriving. The cameras are the scripted fakes of test_rtsp_hostile.py (real TCP
servers on 127.0.0.1, real H.264); the GStreamer server cannot be made to misbehave on purpose.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable, Iterator

import pytest

from camhub.capture.carrier import Carrier
from camhub.capture.media import OpenStream, Packet
from camhub.capture.reader import InputReader
from camhub.config import parse_config
from camhub.registry import Registry

from ..rtp_media import FRAMES
from .test_rtsp_hostile import Connection, FakeCamera, Script, camera, video

__all__ = ["camera"]  # the fixture, used by name

pytestmark = pytest.mark.timeout(180)

DEADLINE = 60.0  # seconds for a condition the test waits on: generous, the machine is shared


class Count:
    def __init__(self) -> None:
        self.packets = 0

    def on_connect(self, stream: OpenStream) -> None:
        pass

    def on_packet(self, packet: Packet) -> None:
        self.packets += 1

    def on_disconnect(self) -> None:
        pass


def carried(urls: dict[str, str], carrier: Carrier) -> dict[str, tuple[InputReader, Count]]:
    """A record-only input per camera, each with a detect input beside it so that the record one is paced.

    The broken cameras below send 60 frames (2 s) first, so that each connection opens before it breaks."""
    config = parse_config(
        {
            "cameras": {
                name: {
                    "inputs": [
                        {"url": url, "roles": ["record"], "timeout": 1.0},
                        {"url": url, "roles": ["detect"]},
                    ]
                }
                for name, url in urls.items()
            },
            "reconnect": {"initial": 0.2, "cap": 1.0},
        }
    )
    registry = Registry().load()
    readers = {}
    for name in urls:
        record = config.cameras[name].inputs[0]
        count = Count()
        readers[name] = (
            InputReader(
                name, record, registry.source_for(record), config.reconnect, 5.0, packets=(count,), carrier=carrier
            ),
            count,
        )
    return readers


async def wait_until(check: Callable[[], bool], timeout: float = DEADLINE) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        await asyncio.sleep(0.05)
    return check()


def frames(count: int) -> Iterator[int]:
    """The indexes of `count` frames of the test's H.264, from its first keyframe, over and over."""
    return (i % FRAMES for i in range(count))


def garbage_after(count: int) -> Callable[[Connection], None]:
    def stream(conn: Connection) -> None:
        video(frames(count))(conn)
        conn.send(bytes(range(0, 256, 7)) * 4)  # neither '$' nor a letter

    return stream


def silent_after(count: int) -> Callable[[Connection], None]:
    def stream(conn: Connection) -> None:
        video(frames(count))(conn)  # then nothing, the connection left open

    return stream


def closing_after(count: int) -> Callable[[Connection], None]:
    def stream(conn: Connection) -> None:
        video(frames(count))(conn)
        conn.sock.shutdown(socket.SHUT_RDWR)

    return stream


@pytest.mark.parametrize(
    ("after_play", "error"),
    [
        (garbage_after(60), "neither RTSP nor RTP"),
        (silent_after(60), "timed out waiting for the camera"),
        (closing_after(60), "closed the connection"),
    ],
    ids=["garbage", "silent", "closed"],
)
async def test_a_camera_failing_while_carried_reconnects_and_the_others_keep_coming(
    camera: Callable[..., FakeCamera], after_play: Callable[[Connection], None], error: str
) -> None:
    good, bad = camera(Script(after_play=video())), camera(Script(after_play=after_play))
    carrier = Carrier("carrier-under-test")
    readers = carried({"good": good.url(), "bad": bad.url()}, carrier)
    (good_reader, good_count), (bad_reader, _) = readers["good"], readers["bad"]
    tasks = [asyncio.create_task(reader.run()) for reader, _ in readers.values()]
    try:
        # The broken camera fails, is reported with what went wrong, and is connected to again.
        assert await wait_until(lambda: bad_reader.status.connects >= 2), bad_reader.status.as_dict()
        assert error in (bad_reader.status.last_error or ""), bad_reader.status.as_dict()
        # Meanwhile the good camera keeps arriving on the same carrier, with no error of its own.
        before = good_count.packets
        assert await wait_until(lambda: good_count.packets >= before + 30), good_reader.status.as_dict()
        assert await wait_until(lambda: bad_reader.status.connects >= 3), bad_reader.status.as_dict()
        assert good_count.packets > before + 30
        assert good_reader.status.failures == 0 and good_reader.status.state == "online"
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    assert await wait_until(lambda: carrier.carried == 0, 5.0)
