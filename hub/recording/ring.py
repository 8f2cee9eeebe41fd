"""The pre-roll ring: a camera's newest packets, kept as whole GOPs.

A clip must start at a keyframe at or before its pre-roll point, so the
ring drops a GOP only once the next one already starts before the horizon.
Used on the record input's reader thread only; no locking.
"""

from __future__ import annotations

from collections import deque

from camhub.capture.media import Packet


class PacketRing:
    """The newest packets, kept as whole GOPs covering at least `seconds`."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._packets: deque[Packet] = deque()

    def add(self, packet: Packet) -> None:
        self._packets.append(packet)
        horizon = packet.capture_time - self.seconds
        # Drop a GOP only when the next one already starts before the horizon.
        while True:
            second_key = next((i for i, p in enumerate(self._packets) if p.keyframe and i > 0), None)
            if second_key is None or self._packets[second_key].capture_time > horizon:
                break
            for _ in range(second_key):
                self._packets.popleft()

    def since(self, t: float) -> list[Packet]:
        """Packets from the last keyframe at or before `t` (or the oldest keyframe)."""
        start = None
        for i, p in enumerate(self._packets):
            if p.keyframe and (start is None or p.capture_time <= t):
                start = i
            if p.capture_time > t and start is not None:
                break
        return list(self._packets)[start:] if start is not None else []

    def newest_time(self) -> float | None:
        return self._packets[-1].capture_time if self._packets else None

    def clear(self) -> None:
        self._packets.clear()
