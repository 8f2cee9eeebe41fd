"""Home Assistant MQTT discovery: every retained config message camhub publishes (docs/mqtt.md).

Pure: from `Topics` and the hub's identity it builds `(config topic, JSON
payload)` pairs; the publisher sends them retained, again whenever Home
Assistant's birth message arrives, and clears a removed camera's with
empty retained payloads (`camera_removal`).

Each camera is a device (via the hub's device) with a motion binary sensor,
a snapshot image, detection and recording switches, a motion threshold
number, a clip event entity and frame rate and last clip sensors. The hub
is a device of its own with pending request and active override counts and
an event entity for owner notices. Camera entities are available only while
both the hub's status and the camera's availability say `online`.

Payloads use full key names (Home Assistant also takes abbreviations) and
sorted keys, so one state of the hub always gives byte-identical messages
and a republish changes nothing in Home Assistant. The keys each platform
accepts, and the state payloads each entity takes, are held to Home
Assistant's own schemas by tests/integrations/mqtt/test_homeassistant_schema.py.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from camhub.config import CAMERA_NAME
from camhub.integrations.mqtt import topics as names
from camhub.integrations.mqtt.topics import Topics
from camhub.settings import THRESHOLD_HIGH, THRESHOLD_LOW

MANUFACTURER = "camhub"
HUB_NAME = "camhub"
HUB_MODEL = "camhub hub"
CAMERA_MODEL = "camhub camera"
# The number's step: its bounds sit one step inside the range the hub accepts
# (above THRESHOLD_LOW, below THRESHOLD_HIGH), as Home Assistant's bounds are inclusive.
THRESHOLD_STEP = 0.5
THRESHOLD_UNIT = "luma"  # the threshold counts luma levels (0-255) a pixel must change by

_HUB_ID = re.compile(r"^[0-9a-f]{32}$")
_CAMERA_NAME = re.compile(CAMERA_NAME)

# (component, entity) of every camera entity, in publishing order; the entity is the last part
# of the object id (`<camera>_<entity>`) and of the unique id.
CAMERA_ENTITIES: tuple[tuple[str, str], ...] = (
    ("binary_sensor", "motion"),
    ("image", "snapshot"),
    *(("switch", key) for key in names.SWITCHES),
    *(("number", key) for key in names.NUMBERS),
    ("event", "events"),
    ("sensor", "fps"),
    ("sensor", "last_clip"),
)
HUB_ENTITIES: tuple[tuple[str, str], ...] = (
    ("sensor", "pending_requests"),
    ("sensor", "active_overrides"),
    ("event", "notices"),
)
_SWITCH_NAMES = {"detect": "Detection", "record": "Recording"}


@dataclass(frozen=True)
class HubInfo:
    """Who publishes: the hub's id (32 hex digits, stable per data folder) and camhub's version."""

    hub_id: str
    version: str

    def __post_init__(self) -> None:
        if not _HUB_ID.match(self.hub_id):
            raise ValueError(
                f"hub id {self.hub_id!r} is not 32 lowercase hex digits (camhub.discovery.announce.hub_id)"
            )


def node_id(hub: HubInfo) -> str:
    """The node id of every config topic, and the hub device's identifier."""
    return f"camhub_{hub.hub_id}"


def hub_configs(topics: Topics, hub: HubInfo) -> list[tuple[str, str]]:
    """The hub device's entities: pending requests and active overrides counts, owner notices."""
    node = node_id(hub)
    device = {
        "identifiers": [node],
        "name": HUB_NAME,
        "manufacturer": MANUFACTURER,
        "model": HUB_MODEL,
        "sw_version": hub.version,
    }
    availability = [_available_on(topics.status)]
    specific: dict[tuple[str, str], dict[str, Any]] = {
        ("sensor", "pending_requests"): {
            "name": "Pending requests",
            "state_topic": topics.pending_requests,
            "state_class": "measurement",
        },
        ("sensor", "active_overrides"): {
            "name": "Active overrides",
            "state_topic": topics.active_overrides,
            "state_class": "measurement",
        },
        ("event", "notices"): {
            "name": "Notices",
            "state_topic": topics.requests,
            "event_types": list(names.NOTICE_EVENT_TYPES),
        },
    }
    configs = []
    for (component, entity), config in specific.items():
        config |= {
            "unique_id": f"{node}_{entity}",
            "device": device,
            "origin": _origin(hub),
            "availability": availability,
        }
        configs.append((topics.config(component, node, entity), _payload(config)))
    return configs


def camera_configs(topics: Topics, hub: HubInfo, camera: str, *, snapshots: bool) -> list[tuple[str, str]]:
    """A camera device's entities; the snapshot image's payload is empty (removed) when `snapshots` is off."""
    _check_camera(camera)
    node = node_id(hub)
    device = {
        "identifiers": [f"{node}_{camera}"],
        "name": camera,
        "manufacturer": MANUFACTURER,
        "model": CAMERA_MODEL,
        "sw_version": hub.version,
        "via_device": node,
    }
    availability = [_available_on(topics.status), _available_on(topics.availability(camera))]
    configs = []
    for (component, entity), config in _camera_specifics(topics, camera).items():
        topic = topics.config(component, node, f"{camera}_{entity}")
        if component == "image" and not snapshots:
            configs.append((topic, ""))
            continue
        config |= {
            "unique_id": f"{node}_{camera}_{entity}",
            "device": device,
            "origin": _origin(hub),
            "availability": availability,
            "availability_mode": "all",
        }
        configs.append((topic, _payload(config)))
    return configs


def camera_removal(topics: Topics, hub: HubInfo, camera: str) -> list[str]:
    """Every config topic of a camera, each to be cleared with an empty retained payload."""
    _check_camera(camera)
    node = node_id(hub)
    return [topics.config(component, node, f"{camera}_{entity}") for component, entity in CAMERA_ENTITIES]


def _camera_specifics(topics: Topics, camera: str) -> dict[tuple[str, str], dict[str, Any]]:
    """What each camera entity says beyond the keys all of them share, keyed and ordered as CAMERA_ENTITIES
    (camera_removal clears CAMERA_ENTITIES' topics, so an entity added here must be named there too)."""
    specific: dict[tuple[str, str], dict[str, Any]] = {
        ("binary_sensor", "motion"): {
            "name": "Motion",
            "device_class": "motion",
            "state_topic": topics.motion(camera),
            "payload_on": names.ON,
            "payload_off": names.OFF,
            "json_attributes_topic": topics.motion_attributes(camera),
        },
        ("image", "snapshot"): {
            "name": "Snapshot",
            "image_topic": topics.snapshot(camera),
            "content_type": "image/jpeg",
        },
    }
    for key in names.SWITCHES:
        specific["switch", key] = {
            "name": _SWITCH_NAMES[key],
            "command_topic": topics.set(camera, key),
            "state_topic": topics.state(camera, key),
            "payload_on": names.ON,
            "payload_off": names.OFF,
            "state_on": names.ON,
            "state_off": names.OFF,
        }
    for key in names.NUMBERS:
        specific["number", key] = {
            "name": "Motion threshold",
            "command_topic": topics.set(camera, key),
            "state_topic": topics.state(camera, key),
            "min": THRESHOLD_LOW + THRESHOLD_STEP,
            "max": THRESHOLD_HIGH - THRESHOLD_STEP,
            "step": THRESHOLD_STEP,
            "mode": "box",
            "unit_of_measurement": THRESHOLD_UNIT,
            "entity_category": "config",
        }
    specific["event", "events"] = {
        "name": "Clip events",
        "state_topic": topics.camera_events(camera),
        "event_types": list(names.CLIP_EVENT_TYPES),
    }
    specific["sensor", "fps"] = {
        "name": "Frame rate",
        "state_topic": topics.fps(camera),
        "unit_of_measurement": "fps",
        "state_class": "measurement",
        "suggested_display_precision": 1,
        "entity_category": "diagnostic",
    }
    specific["sensor", "last_clip"] = {
        "name": "Last clip",
        "state_topic": topics.last_clip(camera),
        "device_class": "timestamp",
    }
    return specific


def _available_on(topic: str) -> dict[str, str]:
    return {"topic": topic, "payload_available": names.ONLINE, "payload_not_available": names.OFFLINE}


def _origin(hub: HubInfo) -> dict[str, str]:
    return {"name": MANUFACTURER, "sw_version": hub.version}


def _payload(config: dict[str, Any]) -> str:
    return json.dumps(config, sort_keys=True, separators=(",", ":"))


def _check_camera(camera: str) -> None:
    if not _CAMERA_NAME.match(camera):
        raise ValueError(f"camera name {camera!r} does not match {CAMERA_NAME} (cameras.<name> in the config)")
