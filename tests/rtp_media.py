"""Real H.264 and H.265 access units, and an RTP packetiser of the test's own, for the RTSP client's tests.

The access units come from libx264 and libx265 through PyAV (a small noisy
picture with a moving square: keyframes well over one MTU, so they are sent
as fragments, and small predicted frames sent whole). The packetiser is
written from RFC 6184 (H.264: single NAL unit, STAP-A, FU-A) and RFC 7798
(H.265: single NAL unit, AP, FU) independently of integrations/rtsp/depay.py,
so a test that round-trips through both checks one against the RFCs rather
than against itself.
"""

from __future__ import annotations

import functools
import struct
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av
import numpy as np

WIDTH, HEIGHT = 320, 240
FRAMES = 30
GOP = 10
TICKS = 6000  # RTP timestamp step at 15 fps on the 90 kHz clock
MTU = 1400  # payload bytes per RTP packet


@dataclass(frozen=True)
class AccessUnit:
    data: bytes  # Annex B, as the encoder gave it
    keyframe: bool  # as the encoder flagged it

    @property
    def nals(self) -> list[bytes]:
        return nal_units(self.data)

    @property
    def annex_b(self) -> bytes:
        """The unit as a depacketiser rebuilds it: each NAL unit after a 4-byte start code."""
        return b"".join(b"\x00\x00\x00\x01" + nal for nal in self.nals)


@functools.cache
def encoded(codec: str) -> tuple[AccessUnit, ...]:
    """FRAMES access units of 320x240 video from libx264 ("h264") or libx265 ("hevc"), a keyframe each GOP."""
    encoder = av.CodecContext.create("libx264" if codec == "h264" else "libx265", "w")
    encoder.width, encoder.height, encoder.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    encoder.framerate = Fraction(15)
    encoder.time_base = Fraction(1, 15)
    encoder.gop_size = GOP
    options = {"preset": "ultrafast", "tune": "zerolatency"}
    if codec == "hevc":
        options["x265-params"] = f"log-level=error:keyint={GOP}:min-keyint={GOP}:scenecut=0"
    else:
        options["x264-params"] = f"keyint={GOP}:min-keyint={GOP}:scenecut=0"
    encoder.options = options
    rng = np.random.default_rng(7)
    background = rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    units: list[AccessUnit] = []
    for i in range(FRAMES + 1):
        if i < FRAMES:
            image = background.copy()
            image[100:140, 8 * i : 8 * i + 40] = (250, 40, 40)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
            frame.pts = i
            packets = encoder.encode(frame)
        else:
            packets = encoder.encode(None)
        units += [AccessUnit(bytes(p), p.is_keyframe) for p in packets]
    assert len(units) == FRAMES, len(units)
    return tuple(units)


def nal_units(data: bytes) -> list[bytes]:
    """The NAL units of an Annex B byte stream (3- or 4-byte start codes), without their start codes."""
    starts: list[tuple[int, int]] = []  # (start code position, NAL unit position)
    pos = data.find(b"\x00\x00\x01")
    while pos >= 0:
        code = pos - 1 if pos > 0 and data[pos - 1] == 0 else pos
        starts.append((code, pos + 3))
        pos = data.find(b"\x00\x00\x01", pos + 3)
    return [data[nal : (starts[i + 1][0] if i + 1 < len(starts) else len(data))] for i, (_, nal) in enumerate(starts)]


def h264_type(nal: bytes) -> int:
    return nal[0] & 0x1F


def h265_type(nal: bytes) -> int:
    return (nal[0] >> 1) & 0x3F


def rtp(
    payload: bytes,
    seq: int,
    timestamp: int,
    marker: bool,
    *,
    payload_type: int = 96,
    csrcs: int = 0,
    extension: bytes | None = None,
    padding: int = 0,
    version: int = 2,
) -> bytes:
    """One RTP packet (RFC 3550): header, CSRCs, header extension (a multiple of 4 bytes), payload, padding."""
    first = (version << 6) | (0x20 if padding else 0) | (0x10 if extension is not None else 0) | csrcs
    head = struct.pack("!BBHII", first, (0x80 if marker else 0) | payload_type, seq & 0xFFFF, timestamp, 0x1234ABCD)
    head += b"".join(struct.pack("!I", 0x1000 + i) for i in range(csrcs))
    if extension is not None:
        assert len(extension) % 4 == 0
        head += struct.pack("!HH", 0xBEDE, len(extension) // 4) + extension
    tail = bytes(padding - 1) + bytes([padding]) if padding else b""
    return head + payload + tail


def h264_payloads(nals: list[bytes], mtu: int = MTU) -> list[bytes]:
    """RFC 6184 payloads: SPS and PPS together in a STAP-A, small NAL units whole, large ones as FU-A."""
    payloads: list[bytes] = []
    params = [n for n in nals if h264_type(n) in (7, 8)]
    if params:
        nri = max(n[0] & 0x60 for n in params)
        payloads.append(bytes([nri | 24]) + b"".join(struct.pack("!H", len(n)) + n for n in params))
    for nal in (n for n in nals if h264_type(n) not in (7, 8)):
        if len(nal) <= mtu:
            payloads.append(nal)
            continue
        indicator, kind, body = (nal[0] & 0xE0) | 28, h264_type(nal), nal[1:]
        chunks = [body[i : i + mtu - 2] for i in range(0, len(body), mtu - 2)]
        for i, chunk in enumerate(chunks):
            fu = kind | (0x80 if i == 0 else 0) | (0x40 if i == len(chunks) - 1 else 0)
            payloads.append(bytes([indicator, fu]) + chunk)
    return payloads


def h265_payloads(nals: list[bytes], mtu: int = MTU) -> list[bytes]:
    """RFC 7798 payloads (no DONL): VPS, SPS and PPS in an AP, small NAL units whole, large ones as FUs."""
    payloads: list[bytes] = []
    params = [n for n in nals if h265_type(n) in (32, 33, 34)]
    if params:
        header = bytes([(params[0][0] & 0x81) | (48 << 1), params[0][1]])
        payloads.append(header + b"".join(struct.pack("!H", len(n)) + n for n in params))
    for nal in (n for n in nals if h265_type(n) not in (32, 33, 34)):
        if len(nal) <= mtu:
            payloads.append(nal)
            continue
        header, kind, body = bytes([(nal[0] & 0x81) | (49 << 1), nal[1]]), h265_type(nal), nal[2:]
        chunks = [body[i : i + mtu - 3] for i in range(0, len(body), mtu - 3)]
        for i, chunk in enumerate(chunks):
            fu = kind | (0x80 if i == 0 else 0) | (0x40 if i == len(chunks) - 1 else 0)
            payloads.append(header + bytes([fu]) + chunk)
    return payloads


def payloads(codec: str, unit: AccessUnit, mtu: int = MTU) -> list[bytes]:
    return (h264_payloads if codec == "h264" else h265_payloads)(unit.nals, mtu)


def packetise(
    codec: str, units: tuple[AccessUnit, ...] | list[AccessUnit], *, seq: int = 1000, timestamp: int = 90_000
) -> list[tuple[int, list[bytes]]]:
    """Each unit's RTP packets, with its timestamp: sequence numbers run on, the marker on each unit's last."""
    out: list[tuple[int, list[bytes]]] = []
    for i, unit in enumerate(units):
        ts = (timestamp + i * TICKS) & 0xFFFFFFFF
        parts = payloads(codec, unit)
        packets = [rtp(p, seq + j, ts, j == len(parts) - 1) for j, p in enumerate(parts)]
        seq += len(parts)
        out.append((ts, packets))
    return out


def interleaved(packet: bytes, channel: int = 0) -> bytes:
    """An RTP packet framed for RTSP's interleaved TCP transport (RFC 2326 10.12)."""
    return struct.pack("!cBH", b"$", channel, len(packet)) + packet


class ReadCounter:
    """Counts an open RtspStream's socket reads (`RtspConnection.fill`) from here on; `reads` may be reset."""

    def __init__(self, stream: Any) -> None:
        self.reads = 0
        fill = stream._conn.fill

        def counted(wait: bool = True) -> int:
            self.reads += 1
            return fill(wait)

        stream._conn.fill = counted
