"""What the hub's events become on the broker: state kept retained, events sent once.

`Publisher` turns bus events into messages and hands them to `emit`, which
never blocks (the client's bounded outbox, camhub.integrations.mqtt.output).
Retained state (motion, availability, switches, snapshots, Home Assistant
configs, the audit checkpoint) is also kept in the client's `retained`
table, so that all of it is sent again on reconnecting and when Home
Assistant says it is back. No message carries footage other than a clip's
snapshot, nor a token, a password or a legal document's contents.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from camhub.bus import AuditCheckpointSigned, OwnerNotice
from camhub.capture.camera import CameraStateChanged
from camhub.fleet import FleetChanged
from camhub.integrations.mqtt.homeassistant import HubInfo, camera_configs, camera_removal, hub_configs
from camhub.integrations.mqtt.topics import OFF, OFFLINE, ON, ONLINE, SETTINGS, Topics
from camhub.motion.detector import Box, MotionEnded, MotionStarted
from camhub.motion.watcher import MotionUpdated
from camhub.outputs import OutputContext
from camhub.recording.finisher import ClipSaved
from camhub.settings import SettingApplied, Value

log = logging.getLogger(__name__)

# The bus events the publisher follows.
EVENTS = (
    MotionStarted,
    MotionUpdated,
    MotionEnded,
    ClipSaved,
    CameraStateChanged,
    SettingApplied,
    FleetChanged,
    OwnerNotice,
    AuditCheckpointSigned,
)
# A snapshot larger than this is not published (a peak frame's JPEG is tens to hundreds of kB).
MAX_SNAPSHOT_BYTES = 4 * 1024 * 1024
# Owner notices that change the counts without being told on the requests topic themselves.
COUNTED_NOTICES = ("request_expired", "follow_up_missed")

Emit = Callable[[str, bytes, bool], None]  # topic, payload, retain


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


def text(value: Value) -> bytes:
    if isinstance(value, bool):
        return (ON if value else OFF).encode()
    return f"{value:g}".encode()


def as_json(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


def box_of(box: Box | None) -> list[float] | None:
    return None if box is None else [round(v, 4) for v in box]


class Publisher:
    def __init__(self, ctx: OutputContext, topics: Topics, emit: Emit) -> None:
        self.ctx = ctx
        self.topics = topics
        self.emit = emit
        self.hub = HubInfo(ctx.hub_id, ctx.version)
        self._peaks: dict[str, tuple[float, Box | None]] = {}  # camera -> (score, box) of its open or last event

    # -- everything, as it is now: at start, and for a camera that joins
    def hub_state(self) -> None:
        if self.ctx.config.mqtt.discovery:
            for topic, payload in hub_configs(self.topics, self.hub):
                self.emit(topic, payload.encode(), True)
        note = self.ctx.latest_checkpoint()
        if note:
            self.emit(self.topics.checkpoint, note.encode(), True)
        for camera in self.ctx.cameras.names():
            self.camera_state(camera)

    def camera_state(self, camera: str) -> None:
        status = self.ctx.cameras.status(camera)
        if status is None:
            return
        if self.ctx.config.mqtt.discovery:
            for topic, payload in camera_configs(self.topics, self.hub, camera, snapshots=self.snapshots(camera)):
                self.emit(topic, payload.encode(), True)
        # A camera still "starting" (held until its stream can exist) has no picture yet: not available.
        # Its first CameraStateChanged says when it is.
        available = status["state"] not in ("offline", "starting")
        self.emit(self.topics.availability(camera), (ONLINE if available else OFFLINE).encode(), True)
        motion = status.get("motion") or {}
        self.emit(self.topics.motion(camera), (ON if motion.get("active") else OFF).encode(), True)
        values = self.ctx.settings.current(camera)
        if values is not None:
            for key in SETTINGS:
                self.emit(self.topics.state(camera, key), text(values.get(key)), True)
        self.fps(camera, status)
        recording = status.get("recording") or {}
        if recording.get("last_clip_end"):
            self.emit(self.topics.last_clip(camera), iso(recording["last_clip_end"]).encode(), True)

    def fps(self, camera: str, status: Mapping[str, Any] | None = None) -> None:
        status = status if status is not None else self.ctx.cameras.status(camera)
        if status is not None:
            self.emit(self.topics.fps(camera), f"{float(status.get('fps_in') or 0.0):.2f}".encode(), True)

    def counts(self, counts: dict[str, int]) -> None:
        self.emit(self.topics.pending_requests, str(counts["pending_requests"]).encode(), True)
        self.emit(self.topics.active_overrides, str(counts["active_overrides"]).encode(), True)

    def snapshots(self, camera: str) -> bool:
        cfg = self.ctx.config.cameras.get(camera)
        own = cfg.mqtt.snapshots if cfg is not None else None
        return own if own is not None else self.ctx.config.mqtt.snapshots

    # -- one bus event; returns a snapshot file the caller reads off the loop and publishes (`snapshot`)
    def on_event(self, event: object) -> Path | None:
        if isinstance(event, MotionStarted):
            self._motion_started(event)
        elif isinstance(event, MotionUpdated):
            self._peaks[event.camera] = (event.score, event.box)
            body = {
                "camera": event.camera,
                "start_s": event.start,
                "time_s": event.time,
                "score": round(event.score, 4),
            }
            body |= {"box": box_of(event.box), "zones": list(event.zones)}
            self._clip_event(event.camera, "update", "motion_update", body)
        elif isinstance(event, MotionEnded):
            self._motion_ended(event)
        elif isinstance(event, ClipSaved):
            return self._clip_saved(event)
        elif isinstance(event, CameraStateChanged):
            state = ONLINE if event.state != "offline" else OFFLINE
            self.emit(self.topics.availability(event.camera), state.encode(), True)
        elif isinstance(event, SettingApplied):
            self.emit(self.topics.state(event.camera, event.key), text(event.value), True)
        elif isinstance(event, FleetChanged):
            self._fleet_changed(event)
        elif isinstance(event, OwnerNotice):
            self._notice(event)
        elif isinstance(event, AuditCheckpointSigned):
            self.emit(self.topics.checkpoint, event.note.encode(), True)
        return None

    def snapshot(self, camera: str, jpeg: bytes) -> None:
        self.emit(self.topics.snapshot(camera), jpeg, True)

    def _motion_started(self, event: MotionStarted) -> None:
        camera = event.camera
        self._peaks[camera] = (event.score, event.box)
        attributes = {
            "start": iso(event.time),
            "start_s": event.time,
            "raised_at_s": event.raised_at,  # capture time of the frame that started it
            "score": round(event.score, 4),
            "box": box_of(event.box),
            "zones": list(event.zones),  # zones touched so far
        }
        self.emit(self.topics.motion(camera), ON.encode(), True)
        self.emit(self.topics.motion_attributes(camera), as_json(attributes), True)
        body = {
            "camera": camera,
            "start_s": event.time,
            "score": round(event.score, 4),
            "box": box_of(event.box),
            "zones": list(event.zones),
        }
        self._clip_event(camera, "new", "motion_start", body)

    def _motion_ended(self, event: MotionEnded) -> None:
        camera = event.camera
        _, box = self._peaks.get(camera, (0.0, None))
        self.emit(self.topics.motion(camera), OFF.encode(), True)
        body = {
            "camera": camera,
            "start_s": event.start,
            "end_s": event.end,
            "score": round(event.peak_score, 4),
            "peak_s": event.peak_time,
            "box": box_of(box),
            "zones": list(event.zones),  # every zone the event touched
        }
        self._clip_event(camera, "end", "motion_end", body)

    def _clip_saved(self, event: ClipSaved) -> Path | None:
        clip = event.clip
        _, box = self._peaks.get(clip.camera, (0.0, None))
        body = {
            "camera": clip.camera,
            "clip_id": clip.id,
            "start_s": clip.start_time,
            "end_s": clip.end_time,
            "duration": round(clip.duration, 3),
            "score": round(clip.peak_motion, 4) if clip.peak_motion is not None else None,
            "box": box_of(box),
            "zones": list(clip.zones),
        }
        self._clip_event(clip.camera, "clip", "clip_saved", body)
        self.emit(self.topics.last_clip(clip.camera), iso(clip.end_time).encode(), True)
        if clip.snapshot_path and self.snapshots(clip.camera):
            return self.ctx.data_dir / clip.snapshot_path
        return None

    def _clip_event(self, camera: str, kind: str, event_type: str, body: dict[str, Any]) -> None:
        self.emit(self.topics.events, as_json({"type": kind, **body}), False)
        self.emit(self.topics.camera_events(camera), as_json({"event_type": event_type, **body}), False)

    def _fleet_changed(self, event: FleetChanged) -> None:
        if event.change == "added":
            self.camera_state(event.camera)
            return
        self._peaks.pop(event.camera, None)
        if self.ctx.config.mqtt.discovery:
            for topic in camera_removal(self.topics, self.hub, event.camera):
                self.emit(topic, b"", True)

    def _notice(self, event: OwnerNotice) -> None:
        body = event.body
        if event.kind == "request_received":
            notice = {
                "event_type": "request_received",
                "id": event.subject,
                "requester": body.get("requester"),
                "organisation": body.get("organisation"),
                "cameras": body.get("cameras"),
                "start_s": body.get("start_s"),
                "end_s": body.get("end_s"),
            }
        elif event.kind == "override":  # sent only once the owners are told: never while a sealed notice waits
            notice = {
                "event_type": "override",
                "id": event.subject,
                "kind": body.get("kind"),
                "requester": body.get("agency"),
                "cameras": body.get("cameras"),
                "start_s": body.get("start_s"),
                "end_s": body.get("end_s"),
            }
        else:
            return
        self.emit(self.topics.requests, as_json(notice), False)


def read_snapshot(path: Path) -> bytes | None:
    """Blocking (run it in a thread): a clip's snapshot file, None when it is too large or unreadable."""
    try:
        size = path.stat().st_size
        if size > MAX_SNAPSHOT_BYTES:
            log.warning("mqtt: %s is %d bytes, above %d; not published", path.name, size, MAX_SNAPSHOT_BYTES)
            return None
        return path.read_bytes()
    except OSError as exc:
        log.warning("mqtt: the snapshot %s cannot be read (%s); not published", path.name, exc.strerror)
        return None
