"""Every discovery payload camhub publishes, held to Home Assistant's MQTT discovery schema.

What Home Assistant requires was read in its source: Home Assistant Core 2026.11.0, the release
wheel homeassistant-2026.11.0-py3-none-any.whl from PyPI (sha256 7ca5fbde9dea879ac7723949fc84347a
ac5182e6309c357b2e4973fd391b00f7). The `fetch` of github:home-assistant/core was refused (its
snapshot is 2 GB) and the stored copies of its files were of mixed years, so the release is the one
consistent tree that was read:
homeassistant/components/mqtt/{schemas,config,binary_sensor,image,switch,number,event,sensor,
discovery,util,const,abbreviations,entity}.py, with sensor/{const,entity}.py, number/const.py,
binary_sensor/const.py, switch/, event/const.py and homeassistant/util/dt.py for the enums and for
how states are parsed. Documentation: https://www.home-assistant.io/integrations/mqtt/ and its
platform pages (binary_sensor.mqtt, image.mqtt, switch.mqtt, number.mqtt, event.mqtt, sensor.mqtt).

The tables below are that reading written down as data (Home Assistant is not a dependency).
Home Assistant drops unknown keys without a word (REMOVE_EXTRA), so an unknown key here is an
error: whatever camhub meant by it would be lost. Where camhub asks more than Home Assistant
(unique_id, device, origin, name, availability on every entity; min < max; no wildcard topics),
the check says so.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlparse

import pytest

from camhub.integrations.mqtt import topics as names
from camhub.integrations.mqtt.homeassistant import (
    CAMERA_ENTITIES,
    HUB_ENTITIES,
    HubInfo,
    camera_configs,
    camera_removal,
    hub_configs,
    node_id,
)
from camhub.integrations.mqtt.topics import Topics
from camhub.settings import MOTION_THRESHOLD, SettingRefused, checked_value

HUB = HubInfo(hub_id="3f2a9c1e0b7d4e5f8a6b1c2d3e4f5a6b", version="0.1.0")
TOPICS = (Topics(prefix="camhub", discovery_prefix="homeassistant"), Topics(prefix="home/cams", discovery_prefix="ha"))
CAMERAS = ("front-door", "a", "garage_2", "x" * 63)

# -- Home Assistant's tables (mqtt/const.py, discovery.py and the enums named above)
# fmt: off
SUPPORTED_COMPONENTS = {
    "alarm_control_panel", "binary_sensor", "button", "camera", "climate", "cover", "date", "datetime",
    "device_automation", "device_tracker", "event", "fan", "humidifier", "image", "infrared", "lawn_mower",
    "light", "lock", "notify", "number", "scene", "siren", "select", "sensor", "switch", "tag", "text", "time",
    "update", "vacuum", "valve", "water_heater",
}
BINARY_SENSOR_CLASSES = {
    "battery", "battery_charging", "carbon_monoxide", "cold", "connectivity", "door", "garage_door", "gas",
    "glass_break", "heat", "light", "lock", "moisture", "motion", "moving", "occupancy", "opening", "plug",
    "power", "presence", "problem", "running", "safety", "smoke", "sound", "tamper", "update", "vibration", "window",
}
# fmt: on
DISCOVERY_TOPIC = re.compile(
    r"(?P<component>\w+)/(?:(?P<node_id>[a-zA-Z0-9_-]+)/)?(?P<object_id>[a-zA-Z0-9_-]+)/config"
)
NON_NUMERIC_SENSOR_CLASSES = {"date", "enum", "timestamp", "uptime"}
STATE_CLASSES = {"measurement", "measurement_angle", "total", "total_increasing"}
PAYLOAD_NONE = "None"  # a state payload that makes the state unknown
MAX_STATE_LENGTH = 255
NUMBER_MIN, NUMBER_MAX = 0.0, 100.0  # a number's bounds when its config gives none

Check = Callable[[Any], bool]
Rule = Callable[[dict[str, Any]], str | None]


def is_str(value: Any) -> bool:
    return isinstance(value, str)


def is_bool(value: Any) -> bool:
    return isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def is_positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def one_of(*allowed: Any) -> Check:
    return lambda value: isinstance(value, str | int) and not isinstance(value, bool) and value in allowed


def optional(check: Check) -> Check:
    return lambda value: value is None or check(value)


def str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def is_url(value: Any) -> bool:
    return isinstance(value, str) and urlparse(value).scheme in ("http", "https") and bool(urlparse(value).hostname)


def is_topic(value: Any) -> bool:
    """util.valid_topic: UTF-8, 1 to 65535 bytes, no NUL, control characters or non-characters."""
    if not isinstance(value, str) or not 0 < len(value.encode()) <= 65535:
        return False
    return not any(
        c <= "\x1f" or "\x7f" <= c <= "\x9f" or "\ufdd0" <= c <= "\ufdef" or (ord(c) & 0xFFFF) in (0xFFFE, 0xFFFF)
        for c in value
    )


def plain_topic(value: Any) -> bool:
    """A topic HA publishes or subscribes to. HA allows whole-level wildcards in subscriptions;
    camhub's topics are plain names, so any wildcard is a bug."""
    return is_topic(value) and "+" not in value and "#" not in value


def availability_list(value: Any) -> bool:
    return isinstance(value, list) and len(value) > 0 and all(block(e, AVAILABILITY_KEYS, {"topic"}) for e in value)


def connection_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(c, list) and len(c) == 2 and str_list(c) for c in value)


def block(value: Any, keys: dict[str, Check], required: set[str]) -> bool:
    return (
        isinstance(value, dict)
        and required <= set(value) <= set(keys)
        and all(keys[key](item) for key, item in value.items())
    )


def device_block(value: Any) -> bool:
    """schemas.MQTT_ENTITY_DEVICE_INFO_SCHEMA, and a name, which HA logs about when it is missing."""
    return block(value, DEVICE_KEYS, {"name"}) and bool(value.get("identifiers") or value.get("connections"))


# fmt: off
DEVICE_KEYS: dict[str, Check] = {
    "identifiers": str_list, "connections": connection_list, "configuration_url": is_url,
    "manufacturer": is_str, "model": is_str, "model_id": is_str, "name": is_str, "hw_version": is_str,
    "serial_number": is_str, "sw_version": is_str, "via_device": is_str, "suggested_area": is_str,
}
ORIGIN_KEYS: dict[str, Check] = {"name": is_str, "sw_version": is_str, "support_url": is_url}
AVAILABILITY_KEYS: dict[str, Check] = {
    "topic": plain_topic, "payload_available": is_str, "payload_not_available": is_str, "value_template": is_str,
}

# -- the keys each platform accepts: schemas.py (MQTT_ENTITY_COMMON_SCHEMA and availability), config.py
# (MQTT_BASE_SCHEMA, MQTT_RO_SCHEMA, MQTT_RW_SCHEMA) and each platform module's _PLATFORM_SCHEMA_BASE
COMMON: dict[str, Check] = {
    "availability": availability_list, "availability_mode": one_of("all", "any", "latest"),
    "availability_template": is_str, "availability_topic": plain_topic,
    "payload_available": is_str, "payload_not_available": is_str,
    "device": device_block, "origin": lambda v: block(v, ORIGIN_KEYS, {"name"}),
    "entity_picture": is_url, "enabled_by_default": is_bool, "visible_by_default": is_bool,
    "entity_category": one_of("config", "diagnostic"), "icon": lambda v: is_str(v) and ":" in v,
    "json_attributes_topic": plain_topic, "json_attributes_template": is_str,
    "default_entity_id": is_str, "message_expiry_interval": is_positive_int, "unique_id": is_str,
    "name": optional(is_str),
}
BASE: dict[str, Check] = {"qos": one_of(0, 1, 2), "encoding": is_str, "group": str_list}
READ_ONLY = BASE | {"state_topic": plain_topic, "value_template": is_str}
READ_WRITE = BASE | {"command_topic": plain_topic, "optimistic": is_bool, "retain": is_bool, "state_topic": plain_topic}
NO_CONFIG_CATEGORY: dict[str, Check] = {"entity_category": one_of("diagnostic")}  # binary sensors and sensors
# fmt: on


@dataclass(frozen=True)
class Platform:
    keys: dict[str, Check]
    required: frozenset[str]
    rules: tuple[Rule, ...] = ()


def _image_source(c: dict[str, Any]) -> str | None:
    if ("image_topic" in c) == ("url_topic" in c):
        return "needs exactly one of image_topic and url_topic"
    return "content_type cannot go with url_topic" if "content_type" in c and "url_topic" in c else None


def _number_range(c: dict[str, Any]) -> str | None:
    low, high = c.get("min", NUMBER_MIN), c.get("max", NUMBER_MAX)
    return None if low < high else f"min {low} must be below max {high} (HA: not above)"


def _sensor_classes(c: dict[str, Any]) -> str | None:
    device_class, state_class, unit = c.get("device_class"), c.get("state_class"), c.get("unit_of_measurement")
    if device_class in NON_NUMERIC_SENSOR_CLASSES and (state_class or unit):
        return f"device class {device_class} takes neither a state class nor a unit"
    if "options" in c and (device_class != "enum" or state_class or unit or not c["options"]):
        return "options need device class enum, no state class or unit, and at least one option"
    if state_class == "measurement_angle" and unit != "°":
        return "state class measurement_angle needs the unit °"
    if "last_reset_value_template" in c and state_class != "total":
        return "last_reset_value_template needs state class total"
    return None


# fmt: off
PLATFORMS: dict[str, Platform] = {
    "binary_sensor": Platform(READ_ONLY | COMMON | NO_CONFIG_CATEGORY | {
        "device_class": optional(lambda v: v in BINARY_SENSOR_CLASSES), "expire_after": is_positive_int,
        "force_update": is_bool, "off_delay": is_positive_int, "payload_on": is_str, "payload_off": is_str,
    }, frozenset({"state_topic"})),
    "image": Platform(BASE | COMMON | {
        "content_type": is_str, "image_topic": plain_topic, "url_topic": plain_topic,
        "image_encoding": one_of("b64", "raw"), "url_template": is_str,
    }, frozenset(), (_image_source,)),
    "switch": Platform(READ_WRITE | COMMON | {
        "command_template": is_str, "payload_on": is_str, "payload_off": is_str, "state_on": is_str,
        "state_off": is_str, "value_template": is_str, "device_class": optional(one_of("outlet", "switch")),
    }, frozenset({"command_topic"})),
    "number": Platform(READ_WRITE | COMMON | {
        "command_template": is_str, "min": is_number, "max": is_number, "step": lambda v: is_number(v) and v >= 1e-3,
        "mode": one_of("auto", "box", "slider"), "payload_reset": is_str,
        "unit_of_measurement": optional(is_str), "value_template": is_str,
        # a device class binds the unit (number/const.py DEVICE_CLASS_UNITS): table those before using one
        "device_class": lambda v: False,
    }, frozenset({"command_topic"}), (_number_range,)),
    "event": Platform(READ_ONLY | COMMON | {
        "device_class": one_of("doorbell", "button", "motion"),
        # HA takes an empty list; an event entity with no types could never fire, so camhub asks for one
        "event_types": lambda v: str_list(v) and len(v) > 0 and len(set(v)) == len(v),
    }, frozenset({"state_topic", "event_types"})),
    "sensor": Platform(READ_ONLY | COMMON | NO_CONFIG_CATEGORY | {
        # numeric device classes bind units (sensor/const.py DEVICE_CLASS_UNITS): table those before using one
        "device_class": optional(lambda v: v in NON_NUMERIC_SENSOR_CLASSES),
        "expire_after": is_positive_int, "force_update": is_bool, "last_reset_value_template": is_str,
        "options": str_list, "suggested_display_precision": is_positive_int,
        "state_class": optional(lambda v: v in STATE_CLASSES), "unit_of_measurement": optional(is_str),
    }, frozenset({"state_topic"}), (_sensor_classes,)),
}
# fmt: on
CAMHUB_REQUIRED = frozenset({"unique_id", "device", "origin", "name", "availability"})


def problems(topics: Topics, topic: str, payload: str) -> list[str]:
    """Everything Home Assistant (or camhub, where it asks more) would find wrong with one config message."""
    prefix = topics.discovery_prefix + "/"
    if not topic.startswith(prefix) or not (match := DISCOVERY_TOPIC.fullmatch(topic.removeprefix(prefix))):
        return [f"{topic}: not <discovery_prefix>/<component>/<node_id>/<object_id>/config with ids [a-zA-Z0-9_-]"]
    component = match["component"]
    if component not in SUPPORTED_COMPONENTS or component not in PLATFORMS:
        return [f"{topic}: component {component} is not one this table knows"]
    config = json.loads(payload)
    if not isinstance(config, dict):
        return [f"{topic}: the payload is not a JSON object"]
    platform = PLATFORMS[component]
    found = [f"unknown key {key!r} (HA drops it)" for key in sorted(set(config) - set(platform.keys))]
    found += [f"missing {key!r}" for key in sorted((platform.required | CAMHUB_REQUIRED) - set(config))]
    found += [
        f"{key}={value!r} is not valid"
        for key, value in config.items()
        if key in platform.keys and not platform.keys[key](value)
    ]
    if "availability" in config and "availability_topic" in config:
        found.append("availability and availability_topic exclude each other")
    found += [broken for rule in platform.rules if (broken := rule(config))]
    return [f"{topic}: {problem}" for problem in found]


def every_config(topics: Topics, snapshots: bool = True) -> list[tuple[str, str]]:
    return hub_configs(topics, HUB) + [
        c for cam in CAMERAS for c in camera_configs(topics, HUB, cam, snapshots=snapshots)
    ]


def by_object(topics: Topics, camera: str) -> dict[str, dict[str, Any]]:
    """A camera's configs by entity (the object id's last part), decoded."""
    return {
        topic.split("/")[-2].removeprefix(f"{camera}_"): json.loads(payload)
        for topic, payload in camera_configs(topics, HUB, camera, snapshots=True)
    }


@pytest.mark.parametrize("topics", TOPICS)
def test_every_payload_meets_its_platforms_schema(topics: Topics) -> None:
    configs = every_config(topics)
    assert len(configs) == len(HUB_ENTITIES) + len(CAMERAS) * len(CAMERA_ENTITIES)
    assert [p for topic, payload in configs for p in problems(topics, topic, payload)] == []
    for _, payload in configs:  # compact, sorted, full key names: identical bytes for an identical hub
        assert payload == json.dumps(json.loads(payload), sort_keys=True, separators=(",", ":"))


def test_the_schema_check_finds_what_home_assistant_would_refuse() -> None:
    topics = TOPICS[0]
    good = {topic.split("/")[1]: (topic, json.loads(payload)) for topic, payload in every_config(topics)}
    breakages: list[tuple[str, Callable[[dict[str, Any]], object]]] = [
        ("event", lambda c: c.pop("event_types")),
        ("event", lambda c: c.update(event_types=[])),
        ("image", lambda c: c.update(url_topic="camhub/x/url")),
        ("image", lambda c: c.pop("image_topic")),
        ("number", lambda c: c.update(min=300)),
        ("number", lambda c: c.update(step=0)),
        ("number", lambda c: c.update(mode="dial")),
        ("switch", lambda c: c.update(command_topic="camhub/+/detect/set")),
        ("switch", lambda c: c.pop("command_topic")),
        ("switch", lambda c: c.update(stat_t="camhub/x")),  # an abbreviation where full names are promised
        ("binary_sensor", lambda c: c.update(device_class="movement")),
        ("binary_sensor", lambda c: c.update(entity_category="config")),
        ("binary_sensor", lambda c: c.pop("state_topic")),
        ("sensor", lambda c: c.update(device_class="timestamp", unit_of_measurement="s")),
        ("sensor", lambda c: c.update(device={"name": "no identifiers"})),
        ("sensor", lambda c: c.update(availability=[{"payload_available": "online"}])),
        ("sensor", lambda c: c.update(availability_topic="camhub/status")),
        ("sensor", lambda c: c.update(origin={"sw_version": "0.1.0"})),
        ("sensor", lambda c: c.pop("unique_id")),
    ]
    for component, breakage in breakages:
        topic, config = good[component]
        config = json.loads(json.dumps(config))
        breakage(config)
        assert problems(topics, topic, json.dumps(config)), f"{component}: {config} passed"
    assert problems(topics, topics.config("sensor", "camhub.hub", "x"), "{}")  # a dot is not an id character
    assert problems(topics, topics.config("camera_feed", "n", "x"), "{}")


def test_ids_devices_and_availability() -> None:
    topics = TOPICS[0]
    configs = [json.loads(p) for _, p in every_config(topics)]
    unique_ids = [c["unique_id"] for c in configs]
    assert len(set(unique_ids)) == len(unique_ids)
    hub = node_id(HUB)
    assert hub == f"camhub_{HUB.hub_id}"
    assert [t for t, _ in hub_configs(topics, HUB)] == [topics.config(c, hub, e) for c, e in HUB_ENTITIES]
    for topic, payload in hub_configs(topics, HUB):
        config = json.loads(payload)
        assert topic.split("/")[2] == hub
        assert config["device"]["identifiers"] == [hub] and "via_device" not in config["device"]
        assert config["availability"] == [
            {"topic": topics.status, "payload_available": "online", "payload_not_available": "offline"}
        ]
    for camera in CAMERAS:
        for topic, payload in camera_configs(topics, HUB, camera, snapshots=True):
            config = json.loads(payload)
            entity = topic.split("/")[3].removeprefix(f"{camera}_")
            assert topic == topics.config(topic.split("/")[1], hub, f"{camera}_{entity}")
            assert config["unique_id"] == f"{hub}_{camera}_{entity}"
            assert re.fullmatch(r"[a-zA-Z0-9_-]+", config["unique_id"])
            assert config["device"]["identifiers"] == [f"{hub}_{camera}"] and config["device"]["name"] == camera
            assert config["device"]["via_device"] == hub and config["device"]["sw_version"] == HUB.version
            assert config["origin"]["name"] == "camhub"
            assert config["availability_mode"] == "all"
            assert [entry["topic"] for entry in config["availability"]] == [topics.status, topics.availability(camera)]


def test_state_payloads_camhub_publishes_are_accepted() -> None:
    """Each entity fed the payloads the hub publishes, parsed as Home Assistant parses them."""
    topics = TOPICS[0]
    camera = "front-door"
    configs = by_object(topics, camera) | {
        topic.split("/")[3]: json.loads(payload) for topic, payload in hub_configs(topics, HUB)
    }
    for config in configs.values():  # availability: per entry, HA's defaults being online/offline too
        for entry in config["availability"]:
            assert (entry.get("payload_available", "online"), entry.get("payload_not_available", "offline")) == (
                names.ONLINE,
                names.OFFLINE,
            )

    motion = configs["motion"]
    assert binary_sensor_state(motion, names.ON) is True and binary_sensor_state(motion, names.OFF) is False
    assert motion["state_topic"] == topics.motion(camera) and motion[
        "json_attributes_topic"
    ] == topics.motion_attributes(camera)
    for key in names.SWITCHES:
        switch = configs[key]
        assert switch_state(switch, names.ON) is True and switch_state(switch, names.OFF) is False
        assert (switch["command_topic"], switch["state_topic"]) == (topics.set(camera, key), topics.state(camera, key))
        assert {switch.get("payload_on", "ON"), switch.get("payload_off", "OFF")} == {names.ON, names.OFF}  # commands

    threshold = configs[MOTION_THRESHOLD]
    for value in (threshold["min"], 10.0, 12.25, threshold["max"]):  # 12.25: the hub keeps two decimals
        for text in (str(value), f"{value:g}"):
            assert number_state(threshold, text) == value
    # What HA sends when set (integral values without a decimal point) is in the hub's range, and min/max
    # are the last steps inside it: one step further out the hub refuses.
    for value in (threshold["min"], threshold["min"] + threshold["step"], 10.0, threshold["max"]):
        command = str(int(value)) if float(value).is_integer() else str(value)
        assert checked_value(MOTION_THRESHOLD, float(command)) == value
    for outside in (threshold["min"] - threshold["step"], threshold["max"] + threshold["step"]):
        with pytest.raises(SettingRefused):
            checked_value(MOTION_THRESHOLD, outside)
    with pytest.raises(ValueError):
        number_state(threshold, "255.5")

    for text in ("14.9", "0", "25"):
        assert sensor_state(configs["fps"], text) == float(text)
    for key in ("pending_requests", "active_overrides"):
        assert sensor_state(configs[key], "3") == 3
    ended = datetime(2026, 11, 30, 5, 12, tzinfo=UTC)
    for text in (
        ended.isoformat(),
        ended.isoformat(timespec="milliseconds"),
        ended.astimezone(timezone(timedelta(hours=1))).isoformat(),
    ):
        assert sensor_state(configs["last_clip"], text) == ended
    with pytest.raises(ValueError, match="time zone"):
        sensor_state(configs["last_clip"], "2026-11-30T05:12:00")

    for key, types in (("events", names.CLIP_EVENT_TYPES), ("notices", names.NOTICE_EVENT_TYPES)):
        assert configs[key]["event_types"] == list(types)
        for event_type in types:
            assert event_fired(configs[key], json.dumps({"event_type": event_type, "camera": camera})) == event_type
        with pytest.raises(ValueError):
            event_fired(configs[key], json.dumps({"event_type": "not_a_type"}))
    assert configs["snapshot"]["image_topic"] == topics.snapshot(camera)
    assert "image_encoding" not in configs["snapshot"]  # raw JPEG bytes, as the hub sends them


def test_snapshots_off_leaves_the_image_entity_removed() -> None:
    topics = TOPICS[0]
    on = dict(camera_configs(topics, HUB, "porch", snapshots=True))
    off = dict(camera_configs(topics, HUB, "porch", snapshots=False))
    image = topics.config("image", node_id(HUB), "porch_snapshot")
    assert on.keys() == off.keys() and json.loads(on[image])["image_topic"] == topics.snapshot("porch")
    assert off[image] == ""
    assert {t: p for t, p in off.items() if t != image} == {t: p for t, p in on.items() if t != image}


@pytest.mark.parametrize("snapshots", [True, False])
def test_camera_removal_clears_exactly_what_was_published(snapshots: bool) -> None:
    for topics in TOPICS:
        for camera in CAMERAS:
            published = [topic for topic, _ in camera_configs(topics, HUB, camera, snapshots=snapshots)]
            assert camera_removal(topics, HUB, camera) == published
    assert not set(camera_removal(TOPICS[0], HUB, "a")) & {
        t for t, _ in camera_configs(TOPICS[0], HUB, "b", snapshots=True)
    }


def test_names_that_would_make_bad_ids_are_refused() -> None:
    for bad in ("3F2A9C1E0B7D4E5F8A6B1C2D3E4F5A6B", "3f2a", "3f2a9c1e-0b7d-4e5f-8a6b-1c2d3e4f5a6b"):
        with pytest.raises(ValueError, match="hub id"):
            HubInfo(hub_id=bad, version="0.1.0")
    for camera in ("Front Door", "front.door", "-front", "x" * 64, ""):
        with pytest.raises(ValueError, match="camera name"):
            camera_configs(TOPICS[0], HUB, camera, snapshots=True)
        with pytest.raises(ValueError, match="camera name"):
            camera_removal(TOPICS[0], HUB, camera)


# -- how Home Assistant reads a state payload, per platform (its *_message_received handlers)
def binary_sensor_state(config: dict[str, Any], payload: str) -> bool | None:
    if payload == config.get("payload_on", "ON"):
        return True
    if payload == config.get("payload_off", "OFF"):
        return False
    if payload == PAYLOAD_NONE:
        return None
    raise ValueError(f"binary_sensor ignores {payload!r}")


def switch_state(config: dict[str, Any], payload: str) -> bool | None:
    if payload == (config.get("state_on") or config.get("payload_on", "ON")):
        return True
    if payload == (config.get("state_off") or config.get("payload_off", "OFF")):
        return False
    if payload == PAYLOAD_NONE:
        return None
    raise ValueError(f"switch ignores {payload!r}")


def number_state(config: dict[str, Any], payload: str) -> float | None:
    if payload == config.get("payload_reset", PAYLOAD_NONE):
        return None
    value = int(payload) if payload.isnumeric() else float(payload)
    if not config.get("min", NUMBER_MIN) <= value <= config.get("max", NUMBER_MAX):
        raise ValueError(f"number refuses {value}: out of {config.get('min')}..{config.get('max')}")
    return value


def sensor_state(config: dict[str, Any], payload: str) -> Any:
    device_class = config.get("device_class")
    if device_class == "timestamp":
        parsed = datetime.fromisoformat(payload)
        if parsed.tzinfo is None:
            raise ValueError(f"timestamp {payload!r} has no time zone")
        return parsed
    numeric = device_class not in NON_NUMERIC_SENSOR_CLASSES and any(
        key in config for key in ("state_class", "unit_of_measurement", "suggested_display_precision", "device_class")
    )
    if not numeric:
        if len(payload) > MAX_STATE_LENGTH:
            raise ValueError("state longer than 255 characters")
        return payload
    value = int(payload) if "." not in payload and "e" not in payload else float(payload)
    if not math.isfinite(value):
        raise ValueError(f"sensor refuses non-finite {payload!r}")
    return value


def event_fired(config: dict[str, Any], payload: str) -> str:
    attributes = json.loads(payload)
    if not isinstance(attributes, dict) or "event_type" not in attributes:
        raise ValueError("event payload is not a JSON object with event_type")
    if (event_type := str(attributes.pop("event_type"))) not in config["event_types"]:
        raise ValueError(f"event type {event_type!r} is not in {config['event_types']}")
    return event_type
