"""RTP payloads of H.264 (RFC 6184) and H.265 (RFC 7798) into Annex B access units.

A depacketiser takes the RTP packets of one stream, in the order they came
over the RTSP connection, and returns each access unit (a frame's NAL units,
each after a 4-byte start code) when its last packet arrives: the packet with
the RTP marker bit, or the first packet of the next timestamp when a marker
was lost. Everything in a packet is the camera's word and is checked before
use: a packet too short for what its header claims, a fragment without its
start, or a gap in the sequence numbers spoils the unit it falls in, which is
dropped (counted in `dropped`) rather than handed on half-built. A unit that
grows past `max_unit` bytes is refused with `UnitTooLarge`.

A unit is kept as the list of its parts until its last packet comes, then
joined once: a bytearray grown by each packet's payload was moved to a new
allocation many times a unit. The parts are views of the packets given to
`push`; a caller that reuses its buffer for the next packets calls `keep`
first, which copies out what an unfinished unit holds of it.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass

START_CODE = b"\x00\x00\x00\x01"
# A start code and the one-byte NAL header a fragmentation unit's start rebuilds (H.264), by header value.
STARTS = tuple(START_CODE + bytes((header,)) for header in range(256))
# The largest access unit taken (bytes). A 4K camera's keyframe is a few MB; FFmpeg's own
# single allocations are capped at 64 MB in this process (camhub.capture.media).
MAX_UNIT = 16 << 20
# Parts an unfinished unit holds before they are joined: a camera sending aggregates of one-byte NAL units
# would otherwise make a few hundred bytes of bookkeeping out of each byte it sends.
MAX_PARTS = 1024
PLAIN = 0x80  # the first byte of a plain RTP header: version 2, no padding, extension or CSRCs


class UnitTooLarge(ValueError):
    """An access unit grew past the bound: a hostile or broken stream."""


@dataclass(frozen=True, slots=True)
class Unit:
    data: bytes  # Annex B: each NAL unit after a 4-byte start code
    timestamp: int  # the RTP timestamp, 32 bits, in the stream's clock
    keyframe: bool  # holds an IDR (H.264) or IRAP (H.265) picture


class Depacketiser:
    """Common framing: RTP header, sequence gaps, unit boundaries. Subclasses read the payload.

    A subclass also says how `push_all` tells a fragment of a NAL unit from a plain header: `_head` reads the
    header's first byte, marker byte, sequence number and timestamp, then the payload's kind byte and its
    fragment header, after which the fragment's bytes begin; a fragment's kind byte masked by `_fu_mask` is
    `_fu_kind`.
    """

    _head: struct.Struct
    _fu_mask: int
    _fu_kind: int

    def __init__(self, max_unit: int = MAX_UNIT) -> None:
        self.max_unit = max_unit
        self.dropped = 0  # access units dropped as damaged
        self.ignored = 0  # RTP packets ignored (not RTP version 2, or a payload kind not handled)
        self._parts: list[bytes | memoryview] = []  # the unit so far: start codes, NAL headers and payloads
        self._size = 0  # their length together
        self._kept = 0  # how many of them are copies of their own (`keep`)
        self._timestamp: int | None = None
        self._key = False
        self._spoilt = False
        self._fragment = False  # inside a fragmented NAL unit
        self._next_seq: int | None = None

    def push(self, packet: memoryview | bytes, out: list[Unit]) -> None:
        """One RTP packet; the access units it completes are appended to `out`."""
        size = len(packet)
        if size < 12 or packet[0] >> 6 != 2:
            self.ignored += 1
            return
        first = packet[0]
        offset = 12 + 4 * (first & 0x0F)  # CSRCs
        if first & 0x10:  # a header extension: 4 bytes, then its length in 32-bit words
            if size < offset + 4:
                self.ignored += 1
                return
            offset += 4 + 4 * ((packet[offset + 2] << 8) | packet[offset + 3])
        end = size - (packet[-1] if first & 0x20 else 0)  # padding, its length in the last byte
        seq = (packet[2] << 8) | packet[3]
        gap = self._next_seq is not None and seq != self._next_seq
        self._next_seq = (seq + 1) & 0xFFFF
        if end <= offset:  # padding alone (RFC 3550 allows it), or a header longer than the packet
            if gap:
                self._spoil()
            self.ignored += 1
            return
        timestamp = int.from_bytes(packet[4:8], "big")
        if self._timestamp is not None and timestamp != self._timestamp and (self._parts or self._spoilt):
            # A new unit began without the last one's marker. If packets are missing here, the lost one
            # most likely was that marker packet: the unit it ended is dropped, this one is kept.
            if gap:
                self._spoilt = True
                gap = False
            self._finish(out)
        if gap:
            self._spoil()  # a packet of this unit is missing
        self._timestamp = timestamp
        self._payload(packet, offset, end)
        if self._size > self.max_unit:
            size, self._parts, self._size, self._kept = self._size, [], 0, 0
            raise UnitTooLarge(f"an access unit of more than {size} bytes (the bound is {self.max_unit})")
        if packet[1] & 0x80:  # the marker: this unit's last packet
            self._finish(out)

    def push_all(self, packets: Iterable[memoryview | bytes], out: list[Unit]) -> None:
        """The packets in order, each taken as `push` takes it.

        Most packets of a camera's stream are middle fragments of a frame's large NAL units: in sequence, of the
        unit's timestamp, neither starting nor ending anything. Those are taken here in a few steps, with the
        state in local variables (bench/results/pipeline.md: `push` spent about 4 us a packet, the main stream's
        largest cost after decoding). Every other packet, or one that would pass a bound, goes through `push`.
        """
        head = self._head
        start, unpack, mask, fu_kind = head.size, head.unpack_from, self._fu_mask, self._fu_kind
        parts, size, next_seq, timestamp = self._parts, self._size, self._next_seq, self._timestamp
        fragment, max_unit = self._fragment, self.max_unit
        room = MAX_PARTS + self._kept - len(parts)  # parts the unit may take before `keep` is due
        for packet in packets:
            length = len(packet)
            if fragment and length > start and packet[0] == PLAIN and room > 0 and size + length - start <= max_unit:
                _, second, seq, stamp, kind, fu = unpack(packet)
                if (
                    kind & mask == fu_kind
                    and not fu & 0xC0  # neither the first fragment nor the last
                    and not second & 0x80  # no marker
                    and seq == next_seq
                    and stamp == timestamp
                ):
                    next_seq = (seq + 1) & 0xFFFF
                    parts.append(packet[start:])
                    size += length - start
                    room -= 1
                    continue
            self._size, self._next_seq = size, next_seq
            self.push(packet, out)
            parts, size, next_seq, timestamp = self._parts, self._size, self._next_seq, self._timestamp
            fragment = self._fragment
            room = MAX_PARTS + self._kept - len(parts)
        self._size, self._next_seq = size, next_seq

    def _payload(self, packet: memoryview | bytes, offset: int, end: int) -> None:
        raise NotImplementedError

    def _spoil(self) -> None:
        self._spoilt = True
        self._fragment = False

    def keep(self) -> None:
        """Copy what the unfinished unit holds of the packets given since the last call: their buffer is about
        to be reused. Each part is copied once, however many reads a unit spans."""
        parts, kept = self._parts, self._kept
        if len(parts) > kept:
            parts[kept:] = [b"".join(parts[kept:])]
            self._kept = len(parts)

    def _add(self, part: memoryview | bytes) -> None:
        self._parts.append(part)
        self._size += len(part)
        if len(self._parts) - self._kept > MAX_PARTS:  # tiny parts: each costs far more than its bytes
            self.keep()

    def _nal(self, packet: memoryview | bytes, start: int, end: int) -> None:
        """A whole NAL unit at packet[start:end]."""
        self._add(START_CODE)
        self._add(packet[start:end])

    def _finish(self, out: list[Unit]) -> None:
        parts, key, spoilt, timestamp = self._parts, self._key, self._spoilt or self._fragment, self._timestamp
        self._parts, self._size, self._kept, self._key, self._spoilt, self._fragment = [], 0, 0, False, False, False
        if spoilt or not parts or timestamp is None:
            if parts or spoilt:
                self.dropped += 1
            return
        out.append(Unit(b"".join(parts), timestamp, key))


class H264Depacketiser(Depacketiser):
    """Single NAL units, STAP-A and FU-A (packetization-mode 0 and 1); IDR pictures are keyframes."""

    # The header's first byte, marker byte, sequence number and timestamp; the SSRC; FU indicator and FU header.
    _head = struct.Struct(">BBHI4xBB")
    _fu_mask, _fu_kind = 0x1F, 28

    def _payload(self, packet: memoryview | bytes, offset: int, end: int) -> None:
        header = packet[offset]
        kind = header & 0x1F
        if 1 <= kind <= 23:
            if self._fragment:
                self._spoil()  # a fragmented NAL unit never got its end
            self._nal(packet, offset, end)
            self._key |= kind == 5
        elif kind == 24:  # STAP-A: 16-bit sizes, each followed by its NAL unit
            pos = offset + 1
            while pos + 2 < end:
                size = (packet[pos] << 8) | packet[pos + 1]
                pos += 2
                if size == 0 or pos + size > end:
                    self._spoil()
                    return
                self._nal(packet, pos, pos + size)
                self._key |= packet[pos] & 0x1F == 5
                pos += size
        elif kind == 28:  # FU-A: a fragment of one NAL unit
            if end - offset < 2:
                self._spoil()
                return
            fu = packet[offset + 1]
            if fu & 0x80:  # the first fragment: the NAL header is rebuilt from both headers
                if self._fragment:
                    self._spoil()
                self._add(STARTS[(header & 0xE0) | (fu & 0x1F)])
                self._key |= fu & 0x1F == 5
                self._fragment = True
            elif not self._fragment:
                self._spoilt = True  # a middle or end without its start
                return
            self._add(packet[offset + 2 : end])
            if fu & 0x40:
                self._fragment = False
        else:  # STAP-B, MTAP, FU-B (interleaved mode, refused at SETUP) and reserved kinds
            self.ignored += 1


# H.265 NAL unit types: aggregation packets, fragmentation units, and the IRAP pictures (BLA, IDR, CRA).
H265_AP, H265_FU = 48, 49
H265_IRAP = range(16, 22)


class H265Depacketiser(Depacketiser):
    """Single NAL units, aggregation packets and fragmentation units, without DONL (sprop-max-don-diff 0)."""

    # As H.264's, then the NAL unit header's first byte (its second skipped) and the FU header.
    _head = struct.Struct(">BBHI4xBxB")
    _fu_mask, _fu_kind = 0x7E, H265_FU << 1

    def _payload(self, packet: memoryview | bytes, offset: int, end: int) -> None:
        if end - offset < 3:
            self._spoil()
            return
        kind = (packet[offset] >> 1) & 0x3F
        if kind == H265_AP:  # 2-byte header, then 16-bit sizes each followed by its NAL unit
            pos = offset + 2
            while pos + 2 < end:
                size = (packet[pos] << 8) | packet[pos + 1]
                pos += 2
                if size < 2 or pos + size > end:
                    self._spoil()
                    return
                self._nal(packet, pos, pos + size)
                self._key |= (packet[pos] >> 1) & 0x3F in H265_IRAP
                pos += size
        elif kind == H265_FU:  # 2-byte header, 1-byte FU header (start, end, type), then the fragment
            fu = packet[offset + 2]
            nal_type = fu & 0x3F
            if fu & 0x80:
                if self._fragment:
                    self._spoil()
                self._add(START_CODE + bytes(((packet[offset] & 0x81) | (nal_type << 1), packet[offset + 1])))
                self._key |= nal_type in H265_IRAP
                self._fragment = True
            elif not self._fragment:
                self._spoilt = True
                return
            self._add(packet[offset + 3 : end])
            if fu & 0x40:
                self._fragment = False
        elif kind < 48:
            if self._fragment:
                self._spoil()
            self._nal(packet, offset, end)
            self._key |= kind in H265_IRAP
        else:  # PACI and unspecified kinds
            self.ignored += 1
