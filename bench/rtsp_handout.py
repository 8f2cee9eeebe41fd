"""How long after a frame's data reaches the hub its packet leaves FFmpeg's RTSP demuxer (for bench/latency.py).

The hub stamps a packet's capture time when its reader thread takes it from the
demuxer (camhub.capture.media.ContainerStream), so any wait inside the demuxer
comes before capture time and is missing from a latency measured from it. This
measures that wait on loopback: a TCP relay between the camera's RTSP server and
the hub's own RTSP source (camhub.integrations.rtsp.RtspSource, the options the
hub uses) notes when each RTP packet of the video arrives from the server, and
for every packet the source hands out, the wait is its capture time minus the
arrival of the last RTP packet of the same access unit (same RTP timestamp).

Packet k is the k-th access unit in arrival order. That pairing is checked by
size: the correlation of the handed-out packets' sizes with the RTP bytes of
each access unit must peak at no shift (keyframes are ten times the size of
other frames, so a pairing one frame off is obvious).
"""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from dataclasses import dataclass

import numpy as np

from camhub.config import InputConfig
from camhub.integrations.rtsp import RtspSource
from camhub.sim.rtsp import RtspServer

INTERLEAVED = 0x24  # '$': an RTP or RTCP packet inside the RTSP connection (RFC 2326, 10.12)
VIDEO_CHANNEL = 0  # RTP of the first (only: allowed_media_types=video) stream


@dataclass(frozen=True)
class Handout:
    frames: int  # packets paired with an access unit
    after_last_ms: tuple[float, float, float]  # (median, min, max): capture time - its last RTP packet's arrival
    after_next_ms: float  # median: capture time - arrival of the next access unit's first RTP packet
    size_correlation: dict[int, float]  # shift -> correlation of sizes; the pairing is right when 0 is highest


class RtpTap:
    """Reads the server-to-client bytes of one RTSP connection and notes every video RTP packet."""

    def __init__(self) -> None:
        self.packets: list[tuple[float, int, int]] = []  # (arrival, RTP timestamp, bytes)
        self._buffer = bytearray()

    def feed(self, data: bytes, now: float) -> None:
        buf = self._buffer
        buf += data
        while buf:
            if buf[0] == INTERLEAVED:
                if len(buf) < 4:
                    return
                size = int.from_bytes(buf[2:4], "big")
                if len(buf) < 4 + size:
                    return
                if buf[1] == VIDEO_CHANNEL and size >= 12:
                    self.packets.append((now, int.from_bytes(buf[8:12], "big"), size))
                del buf[: 4 + size]
            else:  # an RTSP response: headers, then Content-Length bytes of body
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    return
                length = 0
                for line in bytes(buf[:end]).decode(errors="replace").split("\r\n"):
                    if line.lower().startswith("content-length:"):
                        length = int(line.split(":", 1)[1])
                if len(buf) < end + 4 + length:
                    return
                del buf[: end + 4 + length]


async def _relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, tap: RtpTap | None) -> None:
    try:
        while data := await reader.read(65536):
            now = time.time()
            writer.write(data)
            if tap is not None:
                tap.feed(data, now)
    except ConnectionError:
        pass
    finally:
        writer.close()


async def measure_handout(server: RtspServer, camera: str, role: str, seconds: float) -> Handout:
    tap = RtpTap()

    async def connect(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection("127.0.0.1", server.port)
        await asyncio.gather(_relay(client_r, server_w, None), _relay(server_r, client_w, tap))

    relay = await asyncio.start_server(connect, "127.0.0.1", 0)
    port = relay.sockets[0].getsockname()[1]
    handed: list[tuple[float, int]] = []  # (capture time, size)
    stop = threading.Event()

    def read() -> None:
        stream = RtspSource(InputConfig(url=f"rtsp://127.0.0.1:{port}/{camera}/{role}")).open()
        try:
            for packet in stream.packets():
                stream.decode(packet)  # as the hub's detect reader does, so the timing between reads is the same
                handed.append((packet.capture_time, packet.packet.size))
                if stop.is_set():
                    return
        finally:
            stream.close()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.to_thread(reader.join, 30)
    relay.close()
    return pair(handed, tap.packets)


def pair(handed: list[tuple[float, int]], rtp: list[tuple[float, int, int]]) -> Handout:
    units: list[int] = []  # RTP timestamps in arrival order
    first: dict[int, float] = {}
    last: dict[int, float] = {}
    size: dict[int, int] = {}
    for arrival, stamp, n in rtp:
        if stamp not in first:
            units.append(stamp)
            first[stamp] = arrival
        last[stamp] = arrival
        size[stamp] = size.get(stamp, 0) + n
    count = min(len(handed), len(units) - 1)
    ours = np.array([h[1] for h in handed[:count]], float)
    theirs = np.array([size[u] for u in units], float)
    correlation = {
        shift: round(float(np.corrcoef(ours[2:-2], theirs[2 + shift : count - 2 + shift])[0, 1]), 3)
        for shift in (-1, 0, 1)
    }
    # The first GOP is sent in a burst (the server starts a client at the last keyframe): leave it out.
    steady = range(min(count, 30), count)
    after_last = [(handed[k][0] - last[units[k]]) * 1000 for k in steady]
    after_next = [(handed[k][0] - first[units[k + 1]]) * 1000 for k in steady]
    return Handout(
        frames=len(after_last),
        after_last_ms=(statistics.median(after_last), min(after_last), max(after_last)),
        after_next_ms=statistics.median(after_next),
        size_correlation=correlation,
    )
