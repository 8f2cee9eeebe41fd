"""The pre-roll ring: a camera's newest packets, kept as whole GOPs, bounded in time and bytes.

A clip must start at a keyframe at or before its pre-roll point, so the
ring drops a GOP only once the next one already starts before the horizon.
It also never holds more than `max_bytes` of packets: a camera whose GOPs
are huge (a hostile or broken stream, or a very long pre-roll at a high bit
rate) loses its oldest GOPs first, and a single GOP larger than the bound is
not kept at all, so a clip then starts at the next keyframe. Packets before
the first keyframe are not kept: no clip can start with them. Each packet
costs O(1): the ring is a deque of GOPs, not a deque of packets scanned for
keyframes. Used on the record input's reader thread only; no locking.
"""

from __future__ import annotations

from collections import deque

from camhub.capture.media import Packet

# 10 s of pre-roll plus a 4 s GOP at 24 Mbit/s (a 4K camera): far above what a 1080p camera fills
# (2.5 MB for 2 s of pre-roll at 5 Mbit/s), and a ceiling on what one camera's stream can make the hub hold.
MAX_RING_BYTES = 48 << 20


class _Gop:
    __slots__ = ("packets", "size", "start")

    def __init__(self, key: Packet) -> None:
        self.packets = [key]
        self.size = key.packet.size
        self.start = key.capture_time


class PacketRing:
    """The newest packets, kept as whole GOPs covering at least `seconds`, at most `max_bytes`."""

    def __init__(self, seconds: float, max_bytes: int = MAX_RING_BYTES) -> None:
        self.seconds = seconds
        self.max_bytes = max_bytes
        self._gops: deque[_Gop] = deque()
        self._bytes = 0

    @property
    def bytes(self) -> int:
        """The packet bytes held now."""
        return self._bytes

    def add(self, packet: Packet) -> None:
        size = packet.packet.size
        if packet.keyframe:
            self._gops.append(_Gop(packet))
        elif self._gops:
            gop = self._gops[-1]
            gop.packets.append(packet)
            gop.size += size
        else:
            return  # before the first keyframe: nothing a clip could start with
        self._bytes += size
        horizon = packet.capture_time - self.seconds
        gops = self._gops
        # Drop a GOP only when the next one already starts before the horizon, or to stay in bytes.
        while len(gops) > 1 and (gops[1].start <= horizon or self._bytes > self.max_bytes):
            self._bytes -= gops.popleft().size
        if self._bytes > self.max_bytes:  # one GOP alone is too big: keep nothing until the next keyframe
            self.clear()

    def since(self, t: float) -> list[Packet]:
        """Packets from the last keyframe at or before `t` (or the oldest keyframe)."""
        gops = list(self._gops)
        first = 0
        for i, gop in enumerate(gops):
            if gop.start <= t:
                first = i
            else:
                break
        return [p for gop in gops[first:] for p in gop.packets]

    def newest_time(self) -> float | None:
        return self._gops[-1].packets[-1].capture_time if self._gops else None

    def clear(self) -> None:
        self._gops.clear()
        self._bytes = 0
