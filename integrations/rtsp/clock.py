"""When each frame of a camera arrived, from the RTP timestamps, whatever the reader's pace.

A reader that sleeps between reads (`RtspStream.pace`) gets up to a second of frames at once: the
wall clock at the read tells when the read returned, not when each frame came. The RTP timestamps tell
how far apart the frames are, so one offset between the camera's media time and the host's wall clock
places them all. Each read gives a bound on that offset (the read's time less its newest frame's media
time: no frame is read before it arrives), and the least bound seen is the best estimate: the read
that came right after its newest frame. The estimate creeps up by `DRIFT` of the time passed so a
camera clock that runs slow is followed, and starts over when a read is later than the pace can
explain (the camera's clock jumped back, or the network held frames back). The capture times handed out
never lie in the future and never go back.
"""

from __future__ import annotations

DRIFT = 0.002  # seconds a second the offset may rise by: twenty times a camera crystal's 100 ppm
RESYNC = 1.0  # seconds a read may come after its newest frame, beyond the pace, before the offset starts over
MAX_AGE = 5.0  # seconds a frame's capture time may lie before its read's, beyond the pace


class ArrivalClock:
    """Capture times for the frames of one connection (`RtspStream.packets`)."""

    def __init__(self) -> None:
        self._offset: float | None = None  # wall-clock seconds less media seconds, at the best read so far
        self._synced = 0.0  # the wall-clock time the offset was last set or crept up
        self._latest = 0.0  # the capture time handed out last

    def read(self, now: float, newest: float, pace: float) -> None:
        """A read at wall-clock time `now` whose newest frame has media time `newest` (seconds)."""
        seen = now - newest
        offset = self._offset
        if offset is not None:
            offset += DRIFT * max(0.0, now - self._synced)
        if offset is None or seen < offset or seen - offset > pace + RESYNC:
            offset = seen
        self._offset, self._synced = offset, now

    def capture_time(self, media: float, now: float, pace: float) -> float:
        """The capture time of a frame of the last read with media time `media` (seconds)."""
        assert self._offset is not None, "read() first"
        at = min(now, max(media + self._offset, now - pace - MAX_AGE))
        self._latest = at = max(self._latest, at)
        return at
