"""What an input reports in its camera's status: its state, stream, rates, last error (`InputStatus`)."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

from camhub.capture.media import StreamInfo
from camhub.clock import Clock

InputState = Literal["starting", "connecting", "online", "retrying", "stopped"]


class RateMeter:
    """Events per second over the last few seconds, safe to read from any thread."""

    def __init__(self, window: float = 5.0, clock: Clock = time.monotonic) -> None:
        self._window = window
        self._clock = clock
        self._samples: deque[tuple[float, int]] = deque()
        self.count = 0

    def tick(self) -> None:
        now = self._clock()
        self.count += 1
        if not self._samples or now - self._samples[-1][0] >= 0.5:
            self._samples.append((now, self.count))
            while self._samples and now - self._samples[0][0] > self._window:
                self._samples.popleft()

    def rate(self) -> float:
        now = self._clock()
        samples = list(self._samples)
        if not samples or now - samples[-1][0] > self._window:
            return 0.0
        t0, c0 = samples[0]
        span = now - t0
        return (self.count - c0) / span if span > 0.5 else 0.0


@dataclass
class InputStatus:
    roles: tuple[str, ...]
    source: str
    state: InputState = "starting"
    info: StreamInfo | None = None
    last_packet_time: float | None = None
    last_frame_time: float | None = None
    last_error: str | None = None
    last_error_time: float | None = None
    connects: int = 0
    failures: int = 0
    packets: RateMeter = field(default_factory=RateMeter)
    frames: RateMeter = field(default_factory=RateMeter)
    decode_errors: int = 0
    retry_in: float | None = None

    def as_dict(self) -> dict[str, Any]:
        info = self.info
        return {
            "roles": list(self.roles),
            "source": self.source,
            "state": self.state,
            "codec": info.codec if info else None,
            "width": info.width if info else None,
            "height": info.height if info else None,
            "stream_fps": round(info.fps, 3) if info and info.fps else None,
            "packets_per_second": round(self.packets.rate(), 2),
            "frames_analysed_per_second": round(self.frames.rate(), 2),
            "packets_received": self.packets.count,
            "frames_analysed": self.frames.count,
            "last_packet_time": self.last_packet_time,
            "last_frame_time": self.last_frame_time,
            "last_error": self.last_error,
            "last_error_time": self.last_error_time,
            "connects": self.connects,
            "failures": self.failures,
            "decode_errors": self.decode_errors,
            "retry_in": self.retry_in,
        }
