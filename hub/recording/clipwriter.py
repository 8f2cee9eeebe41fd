"""Writing one clip file: stream copy into fragmented MP4, or H.264 for MJPEG.

`CopyWriter` muxes the camera's own compressed packets without decoding or
re-encoding them; each packet's bytes go into the file unchanged. Sources
whose codec browsers cannot play as video (MJPEG, snapshots) go through
`TranscodeWriter`, which encodes H.264 with libx264's ultrafast preset.
Both write fragmented MP4 (a fragment per keyframe), so a clip cut short by a
crash is playable up to its last complete fragment.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from av.video.codeccontext import VideoCodecContext
from av.video.stream import VideoStream

from camhub.capture.media import Packet, StreamInfo, mux_shared

MOVFLAGS = "frag_keyframe+empty_moov+default_base_moof"
COPYABLE = ("h264", "hevc")
# Time base used when a source gives packets without timestamps (milliseconds).
CAPTURE_TIME_BASE = Fraction(1, 1000)


@dataclass(frozen=True)
class WrittenClip:
    path: Path
    first_capture: float  # Unix seconds of the first packet
    duration: float  # seconds, from media timestamps
    packets: int
    codec: str
    width: int
    height: int


class ClipWriter:
    """Common bookkeeping; subclasses put packets into `self._out`."""

    def __init__(self, path: Path, info: StreamInfo) -> None:
        self.path = path
        self.info = info
        self._out = av.open(str(path), "w", format="mp4", options={"movflags": MOVFLAGS})
        self._first_capture: float | None = None
        self._origin: int | None = None  # timestamp of the first packet, in its time base
        self._last_ts = 0  # highest presentation timestamp written, in _time_base
        self._first_ts: int | None = None  # lowest presentation timestamp written
        self._last_dts = -1
        self._last_duration = 0
        self._time_base: Fraction = CAPTURE_TIME_BASE
        self._by_capture = False  # decided by the first packet: True when the source has no timestamps
        self.packets = 0

    def _timestamps(self, packet: Packet) -> tuple[int, int, Fraction]:
        """(pts, dts) rebased to start at 0, increasing, and their time base.

        A source without a time base (nothing to copy) is timed by capture
        time. Otherwise the clip keeps the source's clock, and a packet that
        lacks timestamps (RTSP gives none to the first keyframe of a session)
        gets the next timestamp in line, so one such packet never mixes clocks
        or fails the clip.
        """
        src = packet.packet
        if self.packets == 0:
            self._by_capture = not src.time_base
            if not self._by_capture:
                self._time_base = src.time_base
        if self._by_capture:
            assert self._first_capture is not None
            ts = int((packet.capture_time - self._first_capture) / CAPTURE_TIME_BASE)
            ts = max(ts, self._last_ts + 1 if self.packets else 0)
            return ts, ts, CAPTURE_TIME_BASE
        dts = src.dts if src.dts is not None else src.pts
        pts = src.pts if src.pts is not None else dts
        step = max(self._last_duration or src.duration or 0, 1)
        if dts is None or pts is None:
            self._last_dts = self._last_dts + step if self._last_dts >= 0 else 0
            return self._last_dts, self._last_dts, self._time_base
        if self._origin is None:
            # Continue after any untimed packets already written (none: origin = dts).
            self._origin = dts - (self._last_dts + step if self._last_dts >= 0 else 0)
        elif dts - self._origin <= self._last_dts:
            # The camera's clock jumped back (a restart, a looped file): continue
            # from where the clip is, since MP4 needs increasing timestamps.
            self._origin = dts - self._last_dts - step
        self._last_dts = dts - self._origin
        return max(pts, dts) - self._origin, dts - self._origin, self._time_base

    def write(self, packet: Packet) -> None:
        if self._first_capture is None:
            self._first_capture = packet.capture_time
        self._write(packet)
        self.packets += 1

    def _write(self, packet: Packet) -> None:
        raise NotImplementedError

    def _finish(self) -> None:
        pass

    def close(self) -> WrittenClip:
        self._finish()
        self._out.close()
        span = self._last_ts - (self._first_ts or 0) + self._last_duration
        duration = float(span * self._time_base) if self.packets else 0.0
        return WrittenClip(
            self.path, self._first_capture or 0.0, duration, self.packets, self.codec, self.info.width, self.info.height
        )

    def abort(self) -> None:
        try:
            self._out.close()
        except (av.FFmpegError, OSError):
            pass  # the file is deleted next; a failed flush changes nothing

    @property
    def codec(self) -> str:
        return self.info.codec


class CopyWriter(ClipWriter):
    def __init__(self, path: Path, info: StreamInfo, template: Any) -> None:
        super().__init__(path, info)
        self._stream = self._out.add_stream_from_template(template)

    def _write(self, packet: Packet) -> None:
        pts, dts, time_base = self._timestamps(packet)
        duration = packet.packet.duration
        self._last_ts = max(self._last_ts, pts)
        self._first_ts = pts if self._first_ts is None else min(self._first_ts, pts)
        if duration and not self._by_capture:
            self._last_duration = duration
        elif self.info.fps:
            self._last_duration = int(1 / (self.info.fps * time_base))
        mux_shared(self._out, self._stream, packet, pts, dts, time_base, duration or 0)


class TranscodeWriter(ClipWriter):
    """Decodes the source's packets and encodes H.264: MJPEG, snapshots, any source without stream_copy."""

    def __init__(self, path: Path, info: StreamInfo) -> None:
        super().__init__(path, info)
        decoder = av.CodecContext.create(info.codec, "r")
        if not isinstance(decoder, VideoCodecContext):
            raise ValueError(f"codec {info.codec!r} of the record input is not a video codec")
        if info.extradata:
            decoder.extradata = info.extradata
        self._decoder = decoder
        rate = Fraction(round(info.fps or 10)).limit_denominator(1000)
        self._stream = self._out.add_stream(
            "libx264", rate=rate, options={"preset": "ultrafast", "tune": "zerolatency"}
        )
        self._stream.width = info.width - info.width % 2
        self._stream.height = info.height - info.height % 2
        self._stream.pix_fmt = "yuv420p"
        self._stream.codec_context.time_base = CAPTURE_TIME_BASE

    def _write(self, packet: Packet) -> None:
        assert self._first_capture is not None
        for frame in self._decoder.decode(packet.packet):
            image = frame.reformat(width=self._stream.width, height=self._stream.height, format="yuv420p")
            ts = max(
                int((packet.capture_time - self._first_capture) / CAPTURE_TIME_BASE),
                self._last_ts + 1 if self.packets else 0,
            )
            image.pts, image.time_base = ts, CAPTURE_TIME_BASE
            self._last_ts = ts
            if self._first_ts is None:
                self._first_ts = ts
            self._mux(self._stream.encode(image))
        self._time_base = CAPTURE_TIME_BASE
        self._last_duration = int(1 / ((self.info.fps or 10) * CAPTURE_TIME_BASE))

    def _mux(self, packets: list[av.Packet[VideoStream]]) -> None:
        for out in packets:
            self._out.mux(out)

    def _finish(self) -> None:
        self._mux(self._stream.encode(None))

    @property
    def codec(self) -> str:
        return "h264"


def make_writer(path: Path, info: StreamInfo, template: Any | None) -> ClipWriter:
    if info.codec in COPYABLE and template is not None:
        return CopyWriter(path, info, template)
    return TranscodeWriter(path, info)
