"""Recording a camera's record input into motion clips.

`CameraRecorder` lives on the record input's reader thread: each packet goes
into a pre-roll ring of whole GOPs and, while a clip is open, straight into
its `ClipWriter`, with no hop through the event loop. The loop only sends
commands (start a clip at time t, end it), which the thread applies at the
next packet. A closed clip goes to `ClipFinisher`, which makes it durable and
indexes it in Moonfire NVR's order: fsync, rename, fsync the directory,
snapshot files, then the row.
"""

from __future__ import annotations

import errno
import logging
import shutil
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import cv2

from camhub.capture.media import OpenStream, Packet, StreamInfo
from camhub.durable import durable_rename, unlink_durably, write_durably
from camhub.recording.clipwriter import ClipWriter, WrittenClip, make_writer
from camhub.store.db import Database
from camhub.store.files import PARTIAL, clip_path, sha256_of, sidecars
from camhub.store.index import MAX_CLIP_SECONDS, ClipRecord, insert_clip

log = logging.getLogger(__name__)
THUMB_WIDTH = 320


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


@dataclass(frozen=True)
class Peak:
    """The analysed frame with the most motion in an event."""

    frame: av.VideoFrame
    score: float


@dataclass
class RecorderStatus:
    recording: bool = False
    clips: int = 0
    last_clip_end: float | None = None
    error: str | None = None  # e.g. "disk full", cleared when recording works again
    paused: bool = False


class ClipFinisher:
    """Makes closed clips durable and indexes them, on its own threads."""

    def __init__(self, data_dir: Path, db: Database, on_saved: Callable[[ClipRecord], None]) -> None:
        self.data_dir = data_dir
        self.db = db
        self.on_saved = on_saved
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="clip-finisher")

    def submit(self, camera: str, written: WrittenClip, peak: Peak | None) -> None:
        self._pool.submit(self._finish_logged, camera, written, peak)

    def _finish_logged(self, camera: str, written: WrittenClip, peak: Peak | None) -> None:
        try:
            record = self.finish(camera, written, peak)
        except Exception:
            log.exception("camera %s: could not finish clip %s; start-up recovery will", camera, written.path.name)
            return
        if record is not None:
            self.on_saved(record)

    def finish(self, camera: str, written: WrittenClip, peak: Peak | None) -> ClipRecord | None:
        partial = written.path
        if written.packets == 0:
            unlink_durably([partial])
            return None
        final = partial.with_name(partial.name.removesuffix(PARTIAL))
        durable_rename(partial, final)
        snapshot, thumbnail = sidecars(final)
        if peak is not None:
            full, small = encode_snapshot(peak.frame)
            write_durably(snapshot, full)
            write_durably(thumbnail, small)
        record = ClipRecord(
            camera=camera,
            start_time=written.first_capture,
            end_time=written.first_capture + written.duration,
            duration=written.duration,
            bytes=final.stat().st_size,
            codec=written.codec,
            width=written.width,
            height=written.height,
            sha256=sha256_of(final),
            path=str(final.relative_to(self.data_dir)),
            snapshot_path=str(snapshot.relative_to(self.data_dir)) if peak else None,
            thumbnail_path=str(thumbnail.relative_to(self.data_dir)) if peak else None,
            peak_motion=peak.score if peak else None,
        )
        clip_id = self.db.write_blocking(lambda db: insert_clip(db, record))
        return ClipRecord(**{**record.as_json(), "id": clip_id})

    def close(self) -> None:
        self._pool.shutdown(wait=True)


def encode_snapshot(frame: av.VideoFrame) -> tuple[bytes, bytes]:
    image = frame.to_ndarray(format="bgr24")
    ok, full = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    height = max(2, round(image.shape[0] * THUMB_WIDTH / image.shape[1]))
    small_image = cv2.resize(image, (THUMB_WIDTH, height), interpolation=cv2.INTER_AREA)
    ok2, small = cv2.imencode(".jpg", small_image, [cv2.IMWRITE_JPEG_QUALITY, 75])
    if not (ok and ok2):
        raise RuntimeError("JPEG encoding of the snapshot failed")
    return full.tobytes(), small.tobytes()


class CameraRecorder:
    """Per camera; `on_*` run on the record reader thread, `start`/`end` on the loop."""

    def __init__(
        self,
        camera: str,
        data_dir: Path,
        finisher: ClipFinisher,
        pre_roll: float,
        min_free_bytes: int = 0,
        on_disk_full: Callable[[], None] | None = None,
    ) -> None:
        self.camera = camera
        self.data_dir = data_dir
        self.finisher = finisher
        self.ring = PacketRing(pre_roll + 0.5)
        self.pre_roll = pre_roll
        self.min_free_bytes = min_free_bytes
        self.on_disk_full = on_disk_full
        self.status = RecorderStatus()
        self._commands: deque[tuple[str, float, Peak | None]] = deque()
        self._info: StreamInfo | None = None
        self._template: Any = None
        self._writer: ClipWriter | None = None
        self._wanted = False  # an event is in progress: record whenever packets flow
        self._wanted_from = 0.0
        self._checked_space_at = 0.0
        self._not_before: float | None = None  # after a failed write: open the next clip only at a later keyframe

    # -- the event loop's side: commands only, never blocking
    def start(self, at: float) -> None:
        self._commands.append(("start", at, None))

    def end(self, at: float, peak: Peak | None = None) -> None:
        self._commands.append(("end", at, peak))

    # -- the reader thread's side
    def on_connect(self, stream: OpenStream) -> None:
        self._info = stream.info
        self._template = stream.copy_template  # None unless the source declares stream_copy: clips re-encode
        self.ring.clear()  # timestamps of a new connection do not continue the old ones

    def on_disconnect(self) -> None:
        self._apply_commands()
        self._close_clip(None)

    def on_packet(self, packet: Packet) -> None:
        self.ring.add(packet)
        self._apply_commands()
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

    def _apply_commands(self) -> None:
        while self._commands:
            kind, at, peak = self._commands.popleft()
            if kind == "start":
                self._wanted, self._wanted_from = True, at - self.pre_roll
            else:
                self._wanted = False
                self._close_clip(peak)

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
            self._writer = make_writer(path, self._info, self._template)
        except (OSError, av.FFmpegError) as exc:
            self._failed(exc, path)
            return
        self.status.recording = True
        self._not_before = None
        for p in packets:
            if self._writer is None:
                break
            self._guarded(self._writer.write, p)

    def _guarded(self, write: Callable[[Packet], None], packet: Packet) -> None:
        try:
            write(packet)
        except (OSError, av.FFmpegError) as exc:
            self._failed(exc, self._writer.path if self._writer else None)

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

    def _close_clip(self, peak: Peak | None) -> None:
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
        self.finisher.submit(self.camera, written, peak)
