"""The full-quality live stream: the record input's own packets, remuxed once per camera into fragmented MP4.

A `LiveStream` is one of its camera's packet consumers, given to the camera at
construction beside the recorder: the record input's reader thread hands it
every packet. Nothing is decoded or encoded for a viewer. While somebody
watches, the reader thread stream-copies each packet into one shared MP4
muxer per camera (started at a keyframe, stopped when the last viewer leaves),
which cuts a fragment per frame: a packet's fragment is complete when the next
packet arrives, so a viewer is one frame behind the camera, not one GOP. A
record input whose reads are batched to save CPU (`PacedStream`) is read as
packets come while somebody watches.

Each fragment goes to the event loop once, where every viewer queues it. A
viewer starts with the muxer's init segment and then the first fragment that
begins at a keyframe. Its queue is bounded in bytes: a viewer that falls behind
loses what it has not been sent and resumes at the next keyframe, and one that
keeps falling behind is ended. A new connection to the camera ends every
viewer (its timestamps and parameter sets start again); players reconnect.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import av
from av.container import OutputContainer
from av.video.stream import VideoStream

from camhub.capture.media import OpenStream, PacedStream, Packet, StreamInfo, mux_shared
from camhub.errors import HubError
from camhub.http.mse_codec import mse_codec, parameter_sets

log = logging.getLogger(__name__)

# A fragment per frame (latency of one frame), each self-contained for Media Source Extensions.
MOVFLAGS = "frag_every_frame+empty_moov+default_base_moof"
COPYABLE = ("h264", "hevc")
CAPTURE_TIME_BASE = Fraction(1, 1000)  # for sources whose packets carry no time base
# Viewers at once per camera: each costs a queue and a socket, never a codec.
MAX_VIEWERS = 6
# Bytes queued for one viewer and not yet handed to its socket; past this it resumes at the next keyframe.
MAX_BACKLOG = 2 << 20
# Times a viewer may fall behind like that before it is ended.
MAX_DROPS = 3


class LiveUnavailable(HubError):
    """The full-quality stream cannot be served now (too many viewers, no keyframe yet, a codec not copied)."""

    key = "live_unavailable"
    status = 503


class Viewer:
    """One viewer's queue of fragments, on the event loop; the route sends them in order."""

    def __init__(self, on_too_slow: Callable[[], None] | None = None) -> None:
        self.init: tuple[bytes, str] | None = None  # (init segment, MSE codecs string) once the muxer runs
        self.ended = False
        self.drops = 0
        self.peak_backlog = 0  # the most bytes ever queued, for tests and status
        self._chunks: deque[bytes] = deque()
        self._backlog = 0
        self._at_keyframe = False  # a fragment that starts at a keyframe has been queued since (re)starting
        self._wake = asyncio.Event()
        # Ends the viewer's connection: its sender may be stuck writing to a socket that never drains.
        self._on_too_slow = on_too_slow

    def start(self, init: bytes, codec: str) -> None:
        self.init = (init, codec)
        self._wake.set()

    def offer(self, fragment: bytes, keyframe: bool) -> None:
        if self.ended or self.init is None:
            return
        if not self._at_keyframe and not keyframe:
            return  # a decoder cannot start mid-GOP
        if self._chunks and self._backlog + len(fragment) > MAX_BACKLOG:
            # Too slow for this stream: forget what it has not been sent and resume at the next keyframe.
            self._chunks.clear()
            self._backlog = 0
            self.drops += 1
            self._at_keyframe = False
            if self.drops > MAX_DROPS:
                self.end()
                if self._on_too_slow is not None:
                    self._on_too_slow()
                return
            if not keyframe:
                return
        self._at_keyframe = True
        self._chunks.append(fragment)
        self._backlog += len(fragment)
        self.peak_backlog = max(self.peak_backlog, self._backlog)
        self._wake.set()

    def end(self) -> None:
        self.ended = True
        self._chunks.clear()
        self._backlog = 0
        self._wake.set()

    async def wait(self, timeout: float) -> None:
        """Until something new (the init segment, a fragment, the end) or `timeout` seconds pass."""
        if not self._chunks and not self.ended:
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                pass

    def take(self) -> bytes:
        """Every queued fragment, joined, emptying the queue."""
        data = b"".join(self._chunks)
        self._chunks.clear()
        self._backlog = 0
        return data


class _Sink:
    """Where the muxer writes: the bytes of the current `mux` call, taken after it."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


class FragmentMuxer:
    """Stream copy of one connection's packets into fragmented MP4; on the reader thread only."""

    def __init__(self, info: StreamInfo, template: VideoStream, first: Packet) -> None:
        self._sink = _Sink()
        self._out: OutputContainer = av.open(self._sink, "w", format="mp4", options={"movflags": MOVFLAGS})
        self._stream = self._out.add_stream_from_template(template)
        extradata = template.codec_context.extradata or parameter_sets(info.codec, bytes(first.packet))
        if extradata and not template.codec_context.extradata:
            # Parameter sets sent in-band only (no SDP sprop): the init segment needs them up front.
            self._stream.codec_context.extradata = extradata
        self.codec = mse_codec(info.codec, extradata or b"")
        self._out.start_encoding()  # writes ftyp and the empty moov; template streams open no codec
        self.init = self._sink.take()
        self._pending: deque[bool] = deque()  # keyframe flags of packets muxed, their fragments not yet out
        # Decided by the first packet: the source's clock, or capture time when its packets carry none.
        self._by_capture = not first.packet.time_base
        self._time_base: Fraction = first.packet.time_base or CAPTURE_TIME_BASE
        self._origin: int | None = None
        self._first_capture = first.capture_time
        self._last_dts = -1
        self._step = 1

    def write(self, packet: Packet) -> list[tuple[bytes, bool]]:
        """Mux one packet; returns the fragments it completed, each with whether it starts at a keyframe."""
        pts, dts = self._timestamps(packet)
        duration = 0 if self._by_capture else packet.packet.duration or 0
        self._pending.append(packet.keyframe)
        mux_shared(self._out, self._stream, packet, pts, dts, self._time_base, duration)
        return self._fragments(self._sink.take())

    def _fragments(self, data: bytes) -> list[tuple[bytes, bool]]:
        """Split written bytes into fragments (a moof and what follows it up to the next moof)."""
        fragments: list[tuple[bytes, bool]] = []
        start = None
        at = 0
        while at + 8 <= len(data):
            size = int.from_bytes(data[at : at + 4], "big")
            if data[at + 4 : at + 8] == b"moof":
                if start is not None:
                    fragments.append((data[start:at], self._pending.popleft()))
                start = at
            if size < 8:
                break  # a box "to the end of file": nothing of ours writes one
            at += size
        if start is not None:
            fragments.append((data[start:], self._pending.popleft()))
        return fragments

    def _timestamps(self, packet: Packet) -> tuple[int, int]:
        """(pts, dts) from 0, increasing: the source's clock, or capture time when its packets have none."""
        src = packet.packet
        if self._by_capture:
            ts = max(int((packet.capture_time - self._first_capture) / CAPTURE_TIME_BASE), self._last_dts + 1)
            self._last_dts = ts
            return ts, ts
        if src.duration:
            self._step = src.duration
        dts = src.dts if src.dts is not None else src.pts
        pts = src.pts if src.pts is not None else dts
        if dts is None or pts is None:  # RTSP gives the first keyframe of a session no timestamps
            self._last_dts += self._step
            return self._last_dts, self._last_dts
        if self._origin is None:
            self._origin = dts - (self._last_dts + self._step if self._last_dts >= 0 else 0)
        elif dts - self._origin <= self._last_dts:
            self._origin = dts - self._last_dts - self._step  # the camera's clock went back: carry on from here
        self._last_dts = dts - self._origin
        return max(pts, dts) - self._origin, self._last_dts

    def close(self) -> None:
        try:
            self._out.close()
        except (av.FFmpegError, OSError):
            pass  # only the trailer, which no viewer reads, is lost


class LiveStream:
    """One camera's full-quality live stream, shared by its viewers (see the module's docstring)."""

    def __init__(self, camera: str, loop: asyncio.AbstractEventLoop) -> None:
        self.camera = camera
        self._loop = loop
        # The reader thread's side.
        self._info: StreamInfo | None = None
        self._template: VideoStream | None = None
        self._muxer: FragmentMuxer | None = None
        self._watched = False  # set on the loop, read by the reader thread at each packet (one assignment)
        self._paced: PacedStream | None = None  # the connected stream, if it may read in batches
        self._pace = 0.0  # its own pace, restored when the last viewer leaves
        # The loop's side.
        self.viewers: set[Viewer] = set()
        self.codec: str | None = None  # the connected input's codec, None before the first connection
        self.copyable = True  # its packets can be copied: a codec MP4 takes, from a source that gives a template
        self._init: tuple[bytes, str] | None = None

    # -- the record input's reader thread
    def on_connect(self, stream: OpenStream) -> None:
        self._stop_muxer()
        self._paced = stream if isinstance(stream, PacedStream) else None
        self._pace = self._paced.pace if self._paced is not None else 0.0
        self._info = stream.info
        self._template = stream.copy_template if stream.info.codec in COPYABLE else None
        self._post(self._connected, stream.info.codec, self._template is not None)

    def on_disconnect(self) -> None:
        self._stop_muxer()
        self._paced = None

    def on_packet(self, packet: Packet) -> None:
        paced = self._paced
        if paced is not None:
            # Watched, every packet goes out as it comes; the reads are batched again when nobody watches.
            wanted = 0.0 if self._watched else self._pace
            if paced.pace != wanted:
                paced.pace = wanted
        if not self._watched:
            self._stop_muxer()
            return
        try:
            muxer = self._muxer
            if muxer is None:
                if not packet.keyframe or self._template is None or self._info is None:
                    return
                muxer = self._muxer = FragmentMuxer(self._info, self._template, packet)
                self._post(self._started, muxer.init, muxer.codec)
            fragments = muxer.write(packet)
        except (av.FFmpegError, ValueError, OSError) as exc:
            log.warning("camera %s: full-quality live stream stopped: %s", self.camera, exc)
            self._stop_muxer()
            return
        if fragments:
            self._post(self._deliver, fragments)

    def _stop_muxer(self) -> None:
        if self._muxer is not None:
            self._muxer.close()
            self._muxer = None
            self._post(self._stopped)

    def _post(self, callback: Callable[..., None], *args: Any) -> None:
        try:
            self._loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:
            pass  # the loop is closed: the viewers are gone

    # -- the event loop
    def join(self, on_too_slow: Callable[[], None] | None = None) -> Viewer:
        """A new viewer, served from the next keyframe; LiveUnavailable when the camera cannot take one.
        `on_too_slow` is called if the viewer is ended for falling behind again and again."""
        if not self.copyable:
            raise LiveUnavailable(
                f"camera {self.camera!r} sends {self.codec} from a source that does not hand its packets on "
                "for stream copy, so it is not streamed at full quality; use the low-rate view (live.mjpeg)"
            )
        if len(self.viewers) >= MAX_VIEWERS:
            raise LiveUnavailable(
                f"camera {self.camera!r} already has {MAX_VIEWERS} full-quality viewers; "
                "close one, or use the low-rate view (live.mjpeg)"
            )
        viewer = Viewer(on_too_slow)
        if self._init is not None:
            viewer.start(*self._init)
        self.viewers.add(viewer)
        self._watched = True
        paced = self._paced
        if paced is not None:
            paced.wake()  # a reader waiting out its pace reads now; its next packet sets the pace to 0
        return viewer

    def leave(self, viewer: Viewer) -> None:
        viewer.end()
        self.viewers.discard(viewer)
        self._watched = bool(self.viewers)

    def _connected(self, codec: str, copyable: bool) -> None:
        self.codec, self.copyable = codec, copyable

    def _started(self, init: bytes, codec: str) -> None:
        self._init = (init, codec)
        for viewer in self.viewers:
            if viewer.init is None:
                viewer.start(init, codec)

    def _deliver(self, fragments: list[tuple[bytes, bool]]) -> None:
        for viewer in list(self.viewers):
            for fragment, keyframe in fragments:
                viewer.offer(fragment, keyframe)

    def _stopped(self) -> None:
        """The muxer stopped (no viewers, a new connection, a failure): its viewers' streams end."""
        self._init = None
        for viewer in self.viewers:
            if viewer.init is not None:
                viewer.end()
