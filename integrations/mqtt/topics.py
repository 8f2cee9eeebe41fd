"""Every MQTT topic camhub publishes or listens on, from the configured prefixes (docs/mqtt.md).

One place names them, so the publisher, the inbound handler and the Home
Assistant discovery payloads cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

ON, OFF = "ON", "OFF"
ONLINE, OFFLINE = "online", "offline"
# The settings an MQTT client may change, each with its `set` and `state` topics.
SWITCHES = ("detect", "record")
NUMBERS = ("motion_threshold",)
SETTINGS = SWITCHES + NUMBERS
# `event_type` of the JSON on a camera's events topic (Home Assistant's event entity requires one).
CLIP_EVENT_TYPES = ("motion_start", "motion_update", "motion_end", "clip_saved")
# `event_type` of the JSON on the requests topic.
NOTICE_EVENT_TYPES = ("request_received", "override")
# State payloads: ON/OFF for motion and the switches; the threshold and the frame rate as decimal text
# ("12.5"); last_clip as ISO 8601 with its UTC offset ("2026-11-30T05:12:00+00:00"); the counts as integers.


@dataclass(frozen=True)
class Topics:
    prefix: str  # mqtt.topic_prefix
    discovery_prefix: str  # mqtt.discovery_prefix (Home Assistant's)

    # -- the hub
    @property
    def status(self) -> str:
        """online / offline, retained; offline is the last will."""
        return f"{self.prefix}/status"

    @property
    def events(self) -> str:
        """JSON per clip event of every camera (new, update, end, clip); not retained."""
        return f"{self.prefix}/events"

    @property
    def requests(self) -> str:
        """JSON notice of an outside request or a (non-sealed) override; not retained."""
        return f"{self.prefix}/requests"

    @property
    def pending_requests(self) -> str:
        """Requests waiting for an owner, a count, retained."""
        return f"{self.prefix}/requests/pending"

    @property
    def active_overrides(self) -> str:
        """Overrides in force, a count, retained."""
        return f"{self.prefix}/overrides/active"

    @property
    def checkpoint(self) -> str:
        """The audit log's latest signed checkpoint (a C2SP signed note), retained."""
        return f"{self.prefix}/audit/checkpoint"

    @property
    def birth(self) -> str:
        """Home Assistant's own status: `online` asks for discovery and state again."""
        return f"{self.discovery_prefix}/status"

    # -- a camera
    def camera(self, camera: str, leaf: str) -> str:
        return f"{self.prefix}/{camera}/{leaf}"

    def availability(self, camera: str) -> str:
        """online / offline as the camera's inputs deliver, retained."""
        return self.camera(camera, "availability")

    def motion(self, camera: str) -> str:
        """ON / OFF, retained."""
        return self.camera(camera, "motion")

    def motion_attributes(self, camera: str) -> str:
        """JSON: when the motion started, its score and box, retained."""
        return self.camera(camera, "motion/attributes")

    def snapshot(self, camera: str) -> str:
        """The JPEG of the last clip's peak frame, retained."""
        return self.camera(camera, "snapshot")

    def camera_events(self, camera: str) -> str:
        """JSON with `event_type` for Home Assistant's event entity; not retained."""
        return self.camera(camera, "events")

    def fps(self, camera: str) -> str:
        """Frames per second the detect input delivers, retained."""
        return self.camera(camera, "fps")

    def last_clip(self, camera: str) -> str:
        """ISO 8601 time (UTC) the last clip ended, retained."""
        return self.camera(camera, "last_clip")

    def state(self, camera: str, setting: str) -> str:
        """A setting's value (ON/OFF, or a number), retained."""
        return self.camera(camera, f"{setting}/state")

    def set(self, camera: str, setting: str) -> str:
        """Where a client asks for a setting's new value."""
        return self.camera(camera, f"{setting}/set")

    @property
    def set_filter(self) -> str:
        """The subscription for every camera's `set` topics (unknown settings are ignored when they come)."""
        return f"{self.prefix}/+/+/set"

    # -- Home Assistant discovery
    def config(self, component: str, node_id: str, object_id: str) -> str:
        return f"{self.discovery_prefix}/{component}/{node_id}/{object_id}/config"
