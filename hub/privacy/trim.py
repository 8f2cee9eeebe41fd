"""Cutting a clip down to an approved time window, by stream copy.

When footage leaves the hub for [start, end) (Unix seconds), a clip that
straddles the window must not carry a single frame from outside it. The cut
can only begin at a keyframe, so the output begins at the first keyframe at or
after `start` (never the one before: that would show footage from before the
window), and ends with the last packet, in decode order, that ends by `end`.
Packets are copied unchanged; nothing is decoded or re-encoded.

Times are compared as exact fractions of each stream's time base: a window
edge that falls on a frame boundary keeps that frame on one side only.

A clip's wall time is anchored at its first packet: packet time t is at
`clip_start + (t - t0)`, where t0 is the presentation time of the first
packet (in file order) of its first video stream. `span_of` reads a file the
same way, so `span_of(dst, result.start_time)` is the trimmed file's span.

Both functions block on file I/O: call them from a worker thread, not the event loop.
"""

from __future__ import annotations

import contextlib
import math
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from itertools import pairwise
from pathlib import Path
from typing import Any

import av
from av.stream import Stream

from camhub.capture.media import describe_av_error
from camhub.durable import TMP_SUFFIX, durable_rename
from camhub.errors import BadRequest, HubError, NotFound

OUTPUT_OPTIONS = {"movflags": "+faststart"}


class TrimError(HubError):
    """A clip cannot be read or its trimmed copy cannot be written; the message names the file."""

    key = "clip_trim_failed"
    status = 500


@dataclass(frozen=True)
class TrimResult:
    start_time: float  # Unix seconds of the first kept packet of the video (the new clip's start)
    end_time: float  # Unix seconds where the last kept packet ends
    packets: int  # packets written, all streams
    bytes: int  # size of the written file


class _Gate:
    """One input stream's cut: which of its packets fall inside the window, in decode order."""

    def __init__(self, stream: Any) -> None:
        self.time_base = Fraction(stream.time_base)
        rate = (stream.average_rate or stream.guessed_rate) if stream.type == "video" else None
        # Used only when a packet and those before it carry no duration (MP4 samples always do): one frame.
        self.nominal = round(1 / (rate * self.time_base)) if rate else 0
        self.last_duration = 0
        self.started = False
        self.stopped = False
        self.output: Any = None
        self.offset = 0  # ticks subtracted when writing, so the output starts at 0

    def span(self, pts: int, duration: int | None) -> tuple[Fraction, Fraction]:
        """(start, end) of a packet in seconds of media time; end uses a stand-in duration if it has none."""
        if duration:
            self.last_duration = duration
        duration = duration or self.last_duration or self.nominal
        return pts * self.time_base, (pts + duration) * self.time_base


def _open(src: Path) -> Any:
    try:
        return av.open(str(src))
    except FileNotFoundError:
        raise NotFound(f"cannot read clip {src}: no such file") from None
    except (av.FFmpegError, OSError) as exc:
        raise TrimError(f"cannot read clip {src}: {describe_av_error(exc)}") from None


def _footage_streams(container: Any, src: Path) -> list[Any]:
    """Video and audio streams, the first video stream first; other tracks are never copied."""
    video, audio = list(container.streams.video), list(container.streams.audio)
    if not video:
        raise TrimError(f"cannot trim clip {src}: it has no video stream")
    return video + audio


def _packets(container: Any, streams: list[Any], src: Path) -> Iterator[tuple[av.Packet[Stream], int]]:
    """Each timed packet of `streams` in file order, with its presentation time (never None here)."""
    try:
        for packet in container.demux(streams):
            pts = packet.pts
            if packet.size == 0 or pts is None:
                continue  # flush packets at end of stream; an untimed packet has no place in a window
            if packet.is_corrupt:
                raise TrimError(f"cannot trim clip {src}: a packet of stream {packet.stream.index} is corrupt")
            yield packet, pts
    except (av.FFmpegError, OSError) as exc:
        raise TrimError(f"cannot read clip {src}: {describe_av_error(exc)}") from None


def span_of(path: Path, clip_start: float) -> tuple[float, float]:
    """Wall-time span [first packet, end of last packet) of an MP4's video and audio, without decoding.

    A video frame is shown until the next one, so the last frame ends one frame interval (the
    smallest step between presentation times) after it starts. MP4 sample durations are not
    used for video: they are steps in decode order, and where frames are reordered or some
    were cut out before the keyframe, a kept frame's sample can look several frames long.
    """
    with _open(path) as container:
        streams = _footage_streams(container, path)
        gates = {s.index: _Gate(s) for s in streams}
        primary = streams[0].index
        origin: Fraction | None = None
        first: Fraction | None = None
        last: Fraction | None = None
        shown: dict[int, list[tuple[Fraction, Fraction]]] = {}
        for packet, pts in _packets(container, streams, path):
            gate = gates[packet.stream.index]
            begin, end = gate.span(pts, packet.duration)
            if origin is None and packet.stream.index == primary:
                origin = begin
            first = begin if first is None else min(first, begin)
            if packet.stream.type == "video":
                shown.setdefault(packet.stream.index, []).append((begin, end))
            else:
                last = end if last is None else max(last, end)
        for frames in shown.values():
            starts = sorted({begin for begin, _ in frames})
            steps = [b - a for a, b in pairwise(starts)]
            # One frame alone: its own sample duration is all there is to go by.
            interval = min(steps) if steps else max(end for _, end in frames) - starts[0]
            end = starts[-1] + interval
            last = end if last is None else max(last, end)
    if origin is None or first is None or last is None:
        raise TrimError(f"cannot read clip {path}: it has no video packets")
    base = Fraction(clip_start) - origin
    # float() rounds to nearest, which is monotonic: a span inside a window of floats stays inside it.
    return float(base + first), float(base + last)


def trim_clip(src: Path, dst: Path, clip_start: float, start: float, end: float) -> TrimResult | None:
    """Write to `dst` the part of `src` inside [start, end); None (and no file) when no keyframe is inside.

    `clip_start` is the Unix time of the first packet of `src`. The copy starts
    at the first keyframe at or after `start` and is written under a temporary
    name, then fsynced and renamed, so `dst` is either whole or absent. An
    existing `dst` is replaced on success and left alone otherwise.
    """
    for name, value in (("clip_start", clip_start), ("start", start), ("end", end)):
        if not math.isfinite(value):
            raise BadRequest(f"{name} must be a finite number of Unix seconds, not {value}")
    if end <= start:
        return None
    # Not `<name>.partial`: in a clips folder that is an interrupted recording,
    # which start-up recovery would keep and index as a clip.
    tmp = dst.with_name(f"{dst.name}.{secrets.token_hex(4)}.trim{TMP_SUFFIX}")
    try:
        with _open(src) as container:
            cut = _Cut(container, src, dst, tmp)
            cut.run(Fraction(start) - Fraction(clip_start), Fraction(end) - Fraction(clip_start))
        if not cut.written:
            return None
        durable_rename(tmp, dst)
        base = Fraction(clip_start) - cut.origin
        return TrimResult(float(base + cut.first), float(base + cut.last), cut.written, dst.stat().st_size)
    except OSError as exc:
        raise TrimError(f"cannot write trimmed clip {dst}: {exc.strerror or exc}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


class _Cut:
    """One pass over the input's packets in file order, writing those inside the window.

    The window is placed in media time by the first video packet. Audio read
    before the video's first keyframe inside the window is held until that
    keyframe comes, since the cut starts there for every stream.
    """

    def __init__(self, container: Any, src: Path, dst: Path, tmp: Path) -> None:
        self.container, self.src, self.dst, self.tmp = container, src, dst, tmp
        self.streams = _footage_streams(container, src)
        self.gates = {s.index: _Gate(s) for s in self.streams}
        self.primary = self.gates[self.streams[0].index]
        self.output: Any = None
        self.held: list[tuple[av.Packet[Stream], int, Fraction, Fraction]] = []
        self.origin = Fraction(0)  # media time of the first video packet, which is at clip_start
        self.lo = self.hi = Fraction(0)  # the window in media time
        self.first = self.last = Fraction(0)  # media time of the cut's keyframe, and where the last kept packet ends
        self.written = 0

    def run(self, start: Fraction, end: Fraction) -> None:
        """Copy the window [start, end), given in seconds after the first packet, into `tmp`."""
        placed = False
        try:
            for packet, pts in _packets(self.container, self.streams, self.src):
                gate = self.gates[packet.stream.index]
                begin, finish = gate.span(pts, packet.duration)
                if not placed and gate is self.primary:
                    self.origin, placed = begin, True
                    self.lo, self.hi = begin + start, begin + end
                if self.output is None:
                    if gate is not self.primary:
                        if not placed or (begin >= self.lo and finish <= self.hi):
                            self.held.append((packet, pts, begin, finish))
                        continue
                    if not packet.is_keyframe or begin < self.lo:
                        continue
                    if finish > self.hi:
                        return  # the first keyframe inside the window ends after it: nothing fits
                    self._open_output(begin)
                    held, self.held = self.held, []
                    for earlier in held:
                        self._pass(*earlier)
                self._pass(packet, pts, begin, finish)
                if all(g.stopped for g in self.gates.values()):
                    break
            if self.output is not None:
                self.output.close()
                self.output = None
        except (av.FFmpegError, OSError) as exc:
            # Reading errors are raised by _packets, naming the source; these come from writing.
            raise TrimError(f"cannot write trimmed clip {self.dst}: {describe_av_error(exc)}") from None
        finally:
            if self.output is not None:
                with contextlib.suppress(av.FFmpegError, OSError):
                    self.output.close()  # the temporary file is deleted next

    def _open_output(self, begin: Fraction) -> None:
        """The output container, its streams copied from the input's with the same time bases."""
        self.output = av.open(str(self.tmp), "w", format="mp4", options=OUTPUT_OPTIONS)
        self.first = self.last = begin
        for stream in self.streams:
            gate = self.gates[stream.index]
            gate.output = self.output.add_stream_from_template(stream)
            gate.output.time_base = stream.time_base
            # Rounding up keeps each packet at or before its true time (nothing drifts
            # past the window's end) and at or after the keyframe (nothing goes negative).
            gate.offset = math.ceil(begin / gate.time_base)

    def _pass(self, packet: av.Packet[Stream], pts: int, begin: Fraction, finish: Fraction) -> None:
        """Write `packet` if it belongs in the cut. Each stream's packets come in decode order."""
        gate = self.gates[packet.stream.index]
        if gate.stopped or begin < self.first:
            # Before the cut: an open GOP's leading pictures need the GOP before
            # the keyframe to decode, and are shown before it anyway.
            return
        if finish > self.hi:
            gate.stopped = True  # what follows in decode order may depend on this packet
            return
        if not gate.started:
            if not packet.is_keyframe:
                return
            gate.started = True
        dts = packet.dts if packet.dts is not None else pts
        packet.duration = int((finish - begin) / gate.time_base)
        packet.pts, packet.dts = pts - gate.offset, dts - gate.offset
        packet.stream = gate.output
        self.output.mux(packet)
        self.written += 1
        self.last = max(self.last, finish)
