"""Finishing a closed clip: durable on disk, then indexed, then announced.

`ClipFinisher` runs on its own small pool, so a slow fsync never stalls a
camera's reader. It keeps Moonfire NVR's order of operations: fsync the
partial file, rename it, fsync the directory (`durable_rename`), write the
snapshot and thumbnail of the event's peak frame, hash the clip (and let the
kernel drop its pages from the cache), and only then insert the row; a
crash anywhere before the row leaves what start-up recovery mends.
Once the row is in, `ClipSaved` goes on the bus. The clip's record carries
the motion zones its event touched, as the motion watcher gave them when the
event ended (none for a clip split at the maximum length or cut by a
disconnect before its event ended).
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import av

from camhub.bus import Bus
from camhub.durable import durable_rename, unlink_durably, write_durably
from camhub.jpeg import encode_jpeg
from camhub.recording.clipwriter import WrittenClip
from camhub.store.db import Database
from camhub.store.files import PARTIAL, release_cached, sha256_of, sidecars
from camhub.store.index import ClipRecord, insert_clip

log = logging.getLogger(__name__)

SNAPSHOT_QUALITY = 85
THUMBNAIL_QUALITY = 75
THUMBNAIL_WIDTH = 320  # pixels; the height keeps the frame's shape


@dataclass(frozen=True)
class Peak:
    """The analysed frame with the most motion in an event."""

    frame: av.VideoFrame
    score: float


@dataclass(frozen=True)
class ClipSaved:
    """A clip is durable on disk and in the index; `clip.zones`: the motion zones its event touched."""

    clip: ClipRecord


class ClipFinisher:
    """Makes closed clips durable and indexes them, on its own threads."""

    def __init__(self, data_dir: Path, db: Database, bus: Bus) -> None:
        self.data_dir = data_dir
        self.db = db
        self.bus = bus
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="clip-finisher")

    def submit(self, camera: str, written: WrittenClip, peak: Peak | None, zones: tuple[str, ...] = ()) -> None:
        self._pool.submit(self._finish_logged, camera, written, peak, zones)

    def _finish_logged(self, camera: str, written: WrittenClip, peak: Peak | None, zones: tuple[str, ...]) -> None:
        try:
            record = self.finish(camera, written, peak, zones)
        except Exception:
            log.exception("camera %s: could not finish clip %s; start-up recovery will", camera, written.path.name)
            return
        if record is not None:
            self.bus.publish_threadsafe(ClipSaved(record))

    def finish(
        self, camera: str, written: WrittenClip, peak: Peak | None, zones: tuple[str, ...] = ()
    ) -> ClipRecord | None:
        partial = written.path
        if written.packets == 0:
            unlink_durably([partial])
            return None
        final = partial.with_name(partial.name.removesuffix(PARTIAL))
        durable_rename(partial, final)
        snapshot, thumbnail = sidecars(final)
        if peak is not None:
            write_durably(snapshot, encode_jpeg(peak.frame, SNAPSHOT_QUALITY))
            write_durably(thumbnail, encode_jpeg(peak.frame, THUMBNAIL_QUALITY, width=THUMBNAIL_WIDTH))
        digest = sha256_of(final)
        release_cached(final)
        record = ClipRecord(
            camera=camera,
            start_time=written.first_capture,
            end_time=written.first_capture + written.duration,
            duration=written.duration,
            bytes=final.stat().st_size,
            codec=written.codec,
            width=written.width,
            height=written.height,
            sha256=digest,
            path=str(final.relative_to(self.data_dir)),
            snapshot_path=str(snapshot.relative_to(self.data_dir)) if peak else None,
            thumbnail_path=str(thumbnail.relative_to(self.data_dir)) if peak else None,
            peak_motion=peak.score if peak else None,
            zones=tuple(sorted(set(zones))),
        )
        clip_id = self.db.write_blocking(lambda db: insert_clip(db, record))
        return replace(record, id=clip_id)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
