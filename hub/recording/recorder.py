"""A camera's recorder: the record input's packets into motion clips.

`CameraRecorder` lives on the record input's reader thread: each packet goes
into the pre-roll ring of whole GOPs and, while a clip is open, straight into
its `ClipWriter`, with no hop through the event loop. The motion watcher,
on the detect input's reader thread, only queues commands (start a clip at
time t, end it at time t), which this thread applies at its next packet, an
end at the first packet captured after its time; the deque they pass through
is safe between the two threads. A closed clip goes to the
`ClipFinisher` (camhub.recording.finisher), which makes it durable and
indexes it, with the motion zones the watcher's end command named. A clip
split at the maximum length, or cut by a disconnect or by recording switched
off, closes before its event ends: its zones are not known then, and it has
none. A failed write drops that clip's file and, when the disk is full,
pauses recording and wakes retention, so the hub keeps running.
"""

from __future__ import annotations

import errno
import logging
import shutil
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import av

from camhub.capture.media import OpenStream, Packet, StreamInfo
from camhub.durable import unlink_durably
from camhub.recording.clipwriter import ClipWriter, make_writer
from camhub.recording.finisher import ClipFinisher, Peak
from camhub.recording.ring import PacketRing
from camhub.store.files import PARTIAL, clip_path
from camhub.store.index import MAX_CLIP_SECONDS

log = logging.getLogger(__name__)


@dataclass
class RecorderStatus:
    enabled: bool = True  # off: motion opens no clip (switched off while the hub runs)
    recording: bool = False
    clips: int = 0
    last_clip_end: float | None = None
    error: str | None = None  # e.g. "disk full", cleared when recording works again
    paused: bool = False


class CameraRecorder:
    """Per camera; `on_*` run on the record input's reader thread, `start`/`end` on the detect input's."""

    def __init__(
        self,
        camera: str,
        data_dir: Path,
        finisher: ClipFinisher,
        pre_roll: float,
        min_free_bytes: int = 0,
        on_disk_full: Callable[[], None] | None = None,
        *,
        enabled: bool = True,
        motion_delay: float = 0.0,
    ) -> None:
        """`motion_delay`: seconds the motion watcher may hear of a frame after it came (`motion.batch`); the
        pre-roll ring keeps that much more, so a start reported late still finds its pre-roll."""
        self.camera = camera
        self.data_dir = data_dir
        self.finisher = finisher
        self._ring_extra = 0.5 + motion_delay
        self.ring = PacketRing(pre_roll + self._ring_extra)
        self.pre_roll = pre_roll
        self.min_free_bytes = min_free_bytes
        self.on_disk_full = on_disk_full
        self.status = RecorderStatus(enabled=enabled)
        self._enabled = enabled  # set from the event loop, followed at the next packet
        self._commands: deque[tuple[str, float, Peak | None, tuple[str, ...]]] = deque()
        self._info: StreamInfo | None = None
        self._template: Any = None
        self._writer: ClipWriter | None = None
        self._wanted = False  # an event is in progress: record whenever packets flow
        self._wanted_from = 0.0
        self._checked_space_at = 0.0
        self._not_before: float | None = None  # after a failed write: open the next clip only at a later keyframe

    # -- the motion watcher's side: commands only, never blocking
    def start(self, at: float) -> None:
        self._commands.append(("start", at, None, ()))

    def end(self, at: float, peak: Peak | None = None, zones: tuple[str, ...] = ()) -> None:
        """The event ended at `at`; `zones`: the names of the motion zones it touched, kept with its clip."""
        self._commands.append(("end", at, peak, tuple(zones)))

    def report(self) -> dict[str, object]:
        return asdict(self.status)

    # -- the event loop's side
    def set_enabled(self, on: bool) -> None:
        """Record motion clips or not, from the next packet on; switching off closes an open clip."""
        self._enabled = on

    def set_pre_roll(self, seconds: float) -> None:
        """Keep `seconds` before motion from the next event on. Two plain assignments the reader thread reads
        at its next packet; a longer pre-roll fills as packets come, a shorter one trims the ring at once."""
        self.ring.seconds = seconds + self._ring_extra
        self.pre_roll = seconds

    # -- the record input's reader thread
    def on_connect(self, stream: OpenStream) -> None:
        self._info = stream.info
        self._template = stream.copy_template  # None unless the source declares stream_copy: clips re-encode
        self.ring.clear()  # timestamps of a new connection do not continue the old ones

    def on_disconnect(self) -> None:
        self._apply_commands()
        self._close_clip(None)

    def on_packet(self, packet: Packet) -> None:
        self.ring.add(packet)
        self._apply_commands(packet.capture_time)
        if self._writer is None and self._wanted:  # _open_clip re-checks space while paused
            self._open_clip(self._wanted_from)
            return
        writer = self._writer
        if writer is None:
            return
        # Split a little before the index's maximum, so a clip never outgrows its range scan.
        if (
            packet.keyframe
            and writer.packets
            and packet.capture_time - (writer._first_capture or 0) > MAX_CLIP_SECONDS - 60
        ):
            self._close_clip(None)
            self._open_clip(packet.capture_time)
            return
        self._guarded(writer.write, packet)

    def _apply_commands(self, now: float | None = None) -> None:
        """Apply the watcher's commands in order. An end waits for the first packet captured after it
        (`now`): a paced record input reads a second of packets at once (`RECORD_PACE`), often after
        the watcher said the event ended, and those captured up to the end belong in its clip. Without
        `now` (a disconnect), everything is applied."""
        if self._enabled != self.status.enabled:
            self.status.enabled = self._enabled
            if not self._enabled:
                self._wanted = False
                self._close_clip(None)
        while self._commands:
            kind, at, peak, zones = self._commands[0]
            if kind == "end" and now is not None and now <= at:
                return
            self._commands.popleft()
            if kind == "start":
                # Switched off, motion opens no clip; an event that began before stays unrecorded.
                self._wanted, self._wanted_from = self._enabled, at - self.pre_roll
            else:
                self._wanted = False
                self._close_clip(peak, zones)

    def _open_clip(self, since: float) -> None:
        if self._info is None:
            return
        packets = self.ring.since(since)
        if not packets or (self._not_before is not None and packets[0].capture_time <= self._not_before):
            return  # no (new) keyframe yet: try again at the next packet
        if not self._space_ok():
            return
        path = self.data_dir / clip_path(self.data_dir, self.camera, packets[0].capture_time)
        path = path.with_name(path.name + PARTIAL)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            writer = self._writer = make_writer(path, self._info, self._template)
        except (OSError, av.FFmpegError) as exc:
            self._failed(exc, path)
            return
        self.status.recording = True
        self._not_before = None
        for p in packets:
            if not self._guarded(writer.write, p):
                break  # the clip failed and was dropped

    def _guarded(self, write: Callable[[Packet], None], packet: Packet) -> bool:
        """Whether `packet` was written; a failure drops the clip (`_failed`)."""
        try:
            write(packet)
        except (OSError, av.FFmpegError) as exc:
            self._failed(exc, self._writer.path if self._writer else None)
            return False
        return True

    def _failed(self, exc: BaseException, path: Path | None) -> None:
        """A write failed: drop this clip's file, pause when the disk is full, keep the hub running."""
        full = getattr(exc, "errno", None) == errno.ENOSPC or "No space left" in str(exc)
        if self._writer is not None:
            self._writer.abort()
            self._writer = None
        if path is not None:
            try:
                unlink_durably([path])
            except OSError:
                pass
        self.status.recording = False
        if full:
            self.status.paused = True
            self.status.error = "disk full: recording paused until space is freed"
            log.error("camera %s: %s", self.camera, self.status.error)
            if self.on_disk_full is not None:
                self.on_disk_full()
        else:
            self.status.error = f"clip write failed: {exc}"
            log.error("camera %s: %s", self.camera, self.status.error)
            # Try again from the next keyframe, not from the same pre-roll that just failed.
            self._not_before = self.ring.newest_time()

    def _space_ok(self) -> bool:
        if not self.status.paused and not self.min_free_bytes:
            return True
        now = time.monotonic()
        if self.status.paused and now - self._checked_space_at < 2.0:
            return False
        self._checked_space_at = now
        free = shutil.disk_usage(self.data_dir).free
        if free < self.min_free_bytes:
            if not self.status.paused:
                self.status.paused = True
                self.status.error = f"disk full: {free} bytes free, below retention.min_free; recording paused"
                log.error("camera %s: %s", self.camera, self.status.error)
                if self.on_disk_full is not None:
                    self.on_disk_full()
            return False
        if self.status.paused:
            log.info("camera %s: space is free again; recording resumes", self.camera)
        self.status.paused, self.status.error = False, None
        return True

    def _close_clip(self, peak: Peak | None, zones: tuple[str, ...] = ()) -> None:
        writer, self._writer = self._writer, None
        self.status.recording = False
        if writer is None:
            return
        try:
            written = writer.close()
        except (OSError, av.FFmpegError) as exc:
            self._failed(exc, writer.path)
            return
        self.status.clips += 1
        self.status.last_clip_end = written.first_capture + written.duration
        self.finisher.submit(self.camera, written, peak, zones)
