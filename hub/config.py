"""The hub's configuration: YAML in, typed and validated models out.

Every model forbids unknown keys. `load_config` turns pydantic's findings into
one `ConfigError` whose message names the file, the key path, the bad value
and what was expected. Camera URLs are redacted in every message; the value
is never shown for a key named like a secret (`password`, `token`, ...) nor
for an unknown key, which is named by its path with the keys valid there.

A camera input's `options:` belong to the integration that reads it, so they
are checked in a second step, against that integration's own schema from the
registry, and reported the same way (`cameras.front.inputs[0].options.x`).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from camhub.errors import ConfigError
from camhub.motion.zones import Masks, ZoneConfig, at_most_polygons
from camhub.redact import is_secret_key, redact, redact_url
from camhub.registry import InputNotClaimed, Registry, SourceIntegration, default_registry

Role = Literal["record", "detect"]
# Options of the built-in integrations that configs before 2026-11-29 gave at an input's top
# level; they are read there still and moved under `options:` (docs/config.md).
LEGACY_OPTIONS = ("format", "poll_interval")
CAMERA_NAME = r"^[a-z0-9][a-z0-9_-]{0,62}$"


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InputConfig(Model):
    """One stream of a camera: its URL, what it is used for, which integration reads it and how."""

    url: str = Field(description="a URL of a scheme some source integration claims, or a file path")
    roles: tuple[Role, ...] = Field(default=("record", "detect"), min_length=1)
    kind: str | None = Field(
        default=None, description="the source integration; when absent, the one whose manifest claims the URL"
    )
    username: str | None = None
    password: str | None = Field(default=None, repr=False)
    timeout: float = Field(default=10.0, gt=0, le=120, description="seconds to open or wait for data")
    options: dict[str, Any] = Field(
        default_factory=dict, repr=False, description="the integration's own options, checked by its schema"
    )

    @model_validator(mode="before")
    @classmethod
    def _move_legacy_options(cls, data: Any) -> Any:
        """Configs written before integrations had options put these at the input's top level: move them."""
        if not isinstance(data, dict) or not any(key in data for key in LEGACY_OPTIONS):
            return data
        options = data.get("options")
        if options is not None and not isinstance(options, dict):
            return data  # the options type error is reported as such
        data, options = dict(data), dict(options or {})
        for key in LEGACY_OPTIONS:
            if key in data:
                if key in options:
                    raise ValueError(f"{key} is given twice, at the input's top level and under options; keep one")
                options[key] = data.pop(key)
        data["options"] = options
        return data

    @field_validator("url")
    @classmethod
    def _url_not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the camera URL is empty; expected rtsp://host/path, http://host/path or a file path")
        return value

    @field_validator("roles")
    @classmethod
    def _unique_roles(cls, value: tuple[Role, ...]) -> tuple[Role, ...]:
        if len(set(value)) != len(value):
            raise ValueError("each role may be listed once")
        return value


# The longest `motion.batch`: beyond it the saving is small (docs/decisions.md, 2026-12-01) and motion reported
# seconds late is no use to an automation.
MAX_BATCH = 2.0


class MotionConfig(Model):
    """How `camhub.motion.engine` finds motion in a camera's detect frames, and `camhub.motion.detector` events."""

    enabled: bool = True
    analysis_fps: float = Field(default=5.0, gt=0, le=60, description="decoded frames per second analysed")
    frame_height: int = Field(default=90, ge=16, le=720, description="rows; frames are downscaled to this height")
    threshold: float = Field(
        default=10.0,
        gt=0,
        lt=255,
        description="luma levels (0-255) a pixel must change by; with auto_threshold, the least the learnt one may be",
    )
    auto_threshold: bool = Field(
        default=True, description="learn the camera's noise (night grain, compression) and set the threshold from it"
    )
    min_area: float = Field(default=0.0008, gt=0, le=1, description="fraction of the frame that must change for motion")
    global_change: float = Field(
        default=0.7,
        gt=0,
        le=1,
        description="fraction of the frame; a change this large is lighting or the camera, not motion",
    )
    batch: float = Field(
        default=0.0,
        ge=0,
        le=MAX_BATCH,
        description="seconds of detect frames read and analysed together: motion is reported up to this much later, "
        "for less CPU; 0 analyses each frame as it arrives",
    )
    start_frames: int = Field(default=2, ge=1, le=100, description="consecutive motion frames that start an event")
    post_roll: float = Field(default=5.0, ge=0, le=3600, description="seconds without motion that end an event")
    max_event_length: float = Field(
        default=300.0,
        gt=0,
        le=86400,
        description="seconds; a longer event is ended and a new one started",
    )
    # Zone names go into the clip index and a URL query, so they follow the camera names' rule.
    zones: Annotated[
        dict[Annotated[str, Field(pattern=CAMERA_NAME)], ZoneConfig], BeforeValidator(at_most_polygons)
    ] = Field(default_factory=dict, description="named areas; when given, motion counts only inside them")
    masks: Masks = Field(default=(), description="polygons where change never counts")


class RecordConfig(Model):
    enabled: bool = True
    pre_roll: float = Field(default=5.0, ge=0, le=60, description="seconds recorded before motion starts")
    retain_days: float | None = Field(
        default=None, gt=0, description="days to keep this camera's clips; default retention.days"
    )


class CameraMqttConfig(Model):
    snapshots: bool | None = Field(default=None, description="none: as mqtt.snapshots")


class CameraConfig(Model):
    inputs: tuple[InputConfig, ...] = Field(min_length=1)
    enabled: bool = True
    motion: MotionConfig = MotionConfig()
    record: RecordConfig = RecordConfig()
    mqtt: CameraMqttConfig = CameraMqttConfig()

    @model_validator(mode="after")
    def _roles_covered(self) -> CameraConfig:
        for role in ("record", "detect"):
            count = sum(role in i.roles for i in self.inputs)
            if count > 1:
                raise ValueError(f"role {role!r} is given to {count} inputs; give it to one")
        if not any("detect" in i.roles for i in self.inputs):
            raise ValueError("no input has the role 'detect'; add it to one input's roles")
        return self

    def input_for(self, role: Role) -> InputConfig | None:
        return next((i for i in self.inputs if role in i.roles), None)


class WebConfig(Model):
    """Where the dashboard and API listen, and what a connection may hold (camhub.http.connlimit)."""

    host: str = "127.0.0.1"
    port: int = Field(default=8971, ge=0, le=65535)
    max_connections: int = Field(
        default=256, ge=1, le=65536, description="connections held at once; lowered to leave recording its files"
    )
    max_connections_per_address: int = Field(default=32, ge=1, le=65536, description="connections from one address")
    header_timeout: float = Field(
        default=10.0, gt=0, le=300, description="seconds a new connection has to send its first request head"
    )
    keepalive_timeout: float = Field(default=30.0, gt=0, le=3600, description="seconds an idle connection is kept open")


class DiscoveryConfig(Model):
    enabled: bool = Field(default=True, description="find cameras over zeroconf and ONVIF, and announce the hub")
    interfaces: Literal["all"] | tuple[str, ...] = Field(
        default="all", description="'all', or the addresses of the only interfaces discovery may use"
    )
    onvif: bool = Field(default=True, description="also probe for ONVIF cameras with WS-Discovery")
    probe_interval: float = Field(default=300.0, ge=10, le=86400, description="seconds between ONVIF probes")
    max_devices: int = Field(default=256, ge=1, le=4096, description="devices the discovered table holds at most")

    @field_validator("interfaces")
    @classmethod
    def _addresses(cls, value: str | tuple[str, ...]) -> str | tuple[str, ...]:
        if isinstance(value, str):
            return value
        if not value:
            raise ValueError("give 'all' or at least one interface address, like [127.0.0.1]")
        for text in value:
            try:
                ipaddress.ip_address(text)
            except ValueError:
                raise ValueError(
                    f"{text!r} is not an IP address; give an interface's address, like 192.168.1.10"
                ) from None
        return value


# A topic level path: levels of printable characters without MQTT's wildcards, no empty level.
TOPIC_PREFIX = r"^[^/#+\s\x00-\x1f]{1,64}(/[^/#+\s\x00-\x1f]{1,64}){0,3}$"


class MqttTlsConfig(Model):
    """TLS to the broker: given, the connection is encrypted and the broker's certificate checked."""

    ca_file: Path | None = Field(default=None, description="CA certificates (PEM) the broker's is checked against")
    cert_file: Path | None = Field(default=None, description="client certificate (PEM), with key_file")
    key_file: Path | None = Field(default=None, description="the client certificate's private key (PEM)")

    @model_validator(mode="after")
    def _pair(self) -> MqttTlsConfig:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("give cert_file and key_file together (a client certificate needs its key)")
        for key in ("ca_file", "cert_file", "key_file"):
            path = getattr(self, key)
            if path is not None and not path.is_file():
                raise ValueError(f"{key}: {path} is not a readable file; give the path of a PEM file")
        return self


class MqttConfig(Model):
    """The MQTT client (integrations/mqtt, docs/mqtt.md): on when `host` is given, unless `enabled` is false."""

    enabled: bool | None = Field(default=None, description="none: on when host is given")
    host: str | None = None
    port: int = Field(default=1883, ge=1, le=65535)
    username: str | None = None
    password: str | None = Field(default=None, repr=False)
    tls: MqttTlsConfig | None = None
    client_id: str | None = Field(
        default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$", description="default camhub-<hub id>"
    )
    topic_prefix: str = Field(default="camhub", pattern=TOPIC_PREFIX)
    discovery: bool = Field(default=True, description="publish Home Assistant MQTT discovery")
    discovery_prefix: str = Field(default="homeassistant", pattern=TOPIC_PREFIX)
    snapshots: bool = Field(default=True, description="publish each clip's peak frame as a JPEG, retained")
    keepalive: int = Field(default=30, ge=5, le=3600, description="seconds between pings to the broker")
    queue: int = Field(default=1000, ge=10, le=100000, description="messages waiting to be sent, at most")

    @model_validator(mode="after")
    def _complete(self) -> MqttConfig:
        if self.enabled and self.host is None:
            raise ValueError("enabled is true but host is not given; give the broker's host name")
        if self.password is not None and self.username is None:
            raise ValueError("a password is given without a username; give the username too")
        return self

    @property
    def active(self) -> bool:
        return self.host is not None and self.enabled is not False


class RetentionConfig(Model):
    days: float = Field(default=14, gt=0, description="days a clip is kept")
    max_bytes: int | None = Field(default=None, gt=0, description="bytes all clips may take together")
    min_free_bytes: int = Field(
        default=1 << 30, ge=0, description="bytes to keep free on the data disk; recording pauses below it"
    )
    interval: float = Field(default=300.0, gt=0, description="seconds between retention runs")


class ReconnectConfig(Model):
    initial: float = Field(default=0.5, gt=0, description="seconds before the first retry")
    cap: float = Field(default=30.0, gt=0, description="seconds; the longest wait between retries")

    @model_validator(mode="after")
    def _ordered(self) -> ReconnectConfig:
        if self.cap < self.initial:
            raise ValueError(f"cap ({self.cap}) must be at least initial ({self.initial})")
        return self


class PrivacyConfig(Model):
    """Limits of the consent queue, overrides, share links and holds (docs/config.md)."""

    decision_policy: Literal["any", "all"] = Field(
        default="any", description="any: one owner decides a request; all: every owner must approve"
    )
    max_window_hours: float = Field(
        default=24, gt=0, le=24 * 31, description="longest time window one request or override may cover"
    )
    request_expiry_days: float = Field(
        default=7, gt=0, le=90, description="days an undecided request waits before it expires as denied"
    )
    max_request_bytes: int = Field(
        default=16384, ge=1024, le=1024**2, description="largest JSON body of a request or override"
    )
    share_link_days: float = Field(default=7, gt=0, le=90, description="days a share link works")
    share_link_downloads: int = Field(default=5, ge=1, le=100, description="downloads a share link allows")
    hold_days: float = Field(default=90, gt=0, le=365, description="days a hold keeps clips from retention, renewable")
    max_notice_delay_days: float = Field(
        default=90, gt=0, le=90, description="longest delay of owner notice one override may order"
    )
    emergency_follow_up_hours: float = Field(
        default=48, gt=0, le=720, description="hours an emergency override has to be followed by legal process"
    )
    max_document_bytes: int = Field(
        default=20 * 1024**2, ge=1024, le=200 * 1024**2, description="largest legal document (PDF) upload"
    )


# Detect processes a hub may start (docs/config.md): about one per core past the first helps.
MAX_DETECT_PROCESSES = 16


class HubConfig(Model):
    data_dir: Path = Path("data")
    web: WebConfig = WebConfig()
    discovery: DiscoveryConfig = DiscoveryConfig()
    mqtt: MqttConfig = MqttConfig()
    retention: RetentionConfig = RetentionConfig()
    reconnect: ReconnectConfig = ReconnectConfig()
    privacy: PrivacyConfig = PrivacyConfig()
    detect_processes: int = Field(
        default=0,
        strict=True,  # a count of processes: `true` is not 1
        ge=0,
        le=MAX_DETECT_PROCESSES,
        description="processes that read and analyse the cameras' own detect inputs; 0: the hub's process does",
    )
    cameras: dict[Annotated[str, Field(pattern=CAMERA_NAME)], CameraConfig] = Field(default_factory=dict)

    def secrets(self) -> tuple[str, ...]:
        """Every password in the config, so free text can be scrubbed of them."""
        found = [i.password for c in self.cameras.values() for i in c.inputs if i.password]
        found += [p for c in self.cameras.values() for i in c.inputs if (p := urlsplit(i.url).password)]
        found += [
            v for c in self.cameras.values() for i in c.inputs for k, v in i.options.items() if _secret_text(k, v)
        ]
        if self.mqtt.password:
            found.append(self.mqtt.password)
        return tuple(found)


def _secret_text(key: str, value: Any) -> bool:
    return is_secret_key(key) and isinstance(value, str) and bool(value)


def _key_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + _shown_key(str(part))
    return out or "(top level)"


def _shown_key(key: str) -> str:
    """A key as written, unless it is long or holds characters a terminal would hide or act on."""
    if len(key) <= 64 and key.isprintable():
        return key
    text = repr(key)
    return text if len(text) <= 64 else text[:60] + "...'"


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The config model whose keys sit at `loc` (dict keys and list indexes step into their values)."""
    current: Any = HubConfig
    for part in loc:
        if get_origin(current) in (dict, tuple):
            current = [a for a in get_args(current) if a is not Ellipsis][-1]  # a camera name or an index
        elif isinstance(current, type) and issubclass(current, BaseModel) and str(part) in current.model_fields:
            current = current.model_fields[str(part)].annotation
        else:
            return None
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _describe(error: Any) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        model = _model_at(tuple(error["loc"][:-1]))
        valid = f"; valid keys here: {', '.join(model.model_fields)}" if model else ""
        return f"is not a known key; check its spelling (see docs/config.md){valid}"
    if kind == "missing":
        return "is required but missing"
    if kind == "string_pattern_mismatch" and error["loc"][-3:-2] == ("zones",):
        return "is not a valid zone name; expected lower-case letters, digits, '_' or '-', as for camera names"
    if kind == "string_pattern_mismatch" and error["loc"][:1] == ("cameras",):
        return "is not a valid camera name; expected lower-case letters, digits, '_' or '-'"
    if kind == "string_pattern_mismatch" and error["loc"][-1:] in (("topic_prefix",), ("discovery_prefix",)):
        return "is not a topic prefix; expected 1 to 4 levels joined by '/', without '+', '#', spaces or empty levels"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def _shown_value(error: Any) -> str:
    # An unknown key may be a misspelt secret; a secret's value is never echoed, whatever its type.
    if error["type"] in ("missing", "extra_forbidden"):
        return ""
    # "[key]" is pydantic's mark for a mapping key (a camera or zone name), not a key named "key".
    if any(isinstance(part, str) and part != "[key]" and is_secret_key(part) for part in error["loc"]):
        return " (value not shown: the key holds a secret; put it in quotes if it is all digits)"
    value = error.get("input")
    if isinstance(value, (dict, list)):
        return ""
    shown = redact(repr(value)) if not isinstance(value, str) else repr(redact_url(value))
    return f" (got {shown[:120]})"


def parse_config(raw: Any, source: str = "<config>", integrations: Registry | None = None) -> HubConfig:
    """Validate an already-parsed YAML document; `source` names it in errors.

    Each camera input is checked against the source integrations of
    `integrations` (by default the built-in and installed ones): one must read
    it, and its `options:` must fit that integration's schema.
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of keys, got {type(raw).__name__}")
    try:
        config = HubConfig.model_validate(raw)
    except ValidationError as exc:
        lines = [f"{source}: {_key_path(tuple(e['loc']))} {_describe(e)}{_shown_value(e)}" for e in exc.errors()]
        raise ConfigError("\n".join(lines)) from None
    if lines := _input_errors(config, integrations, source):
        raise ConfigError("\n".join(lines))
    return config


def _input_errors(config: HubConfig, integrations: Registry | None, source: str) -> list[str]:
    """One line per input that no single integration reads or whose options its integration refuses."""
    inputs = [
        (("cameras", name, "inputs", n), given)
        for name, camera in config.cameras.items()
        for n, given in enumerate(camera.inputs)
    ]
    if not inputs:
        return []
    registry = integrations if integrations is not None else default_registry()
    lines = []
    for where, given in inputs:
        try:
            integration = registry.source_integration(given)
        except InputNotClaimed as exc:
            lines.append(f"{source}: {_key_path((*where, exc.key))} {exc.reason}")
            continue
        try:
            integration.options.model_validate(given.options)
        except ValidationError as exc:
            for e in exc.errors():
                loc = (*where, "options", *e["loc"])
                lines.append(
                    f"{source}: {_key_path(loc)} {_describe_option(e, integration, registry)}{_shown_value(e)}"
                )
    return lines


def _describe_option(error: Any, integration: SourceIntegration, registry: Registry) -> str:
    key = error["loc"][0] if error["loc"] else ""
    if error["type"] != "extra_forbidden" or len(error["loc"]) != 1:
        return _describe(error)
    own = ", ".join(integration.options.model_fields) or "none"
    text = f"is not an option of the {integration.domain} integration; its options: {own}"
    elsewhere = [d for d, s in sorted(registry.sources.items()) if key in s.options.model_fields]
    if elsewhere:
        text += f"; {key} is an option of {', '.join(elsewhere)} (choose one with kind:)"
    return text


def load_config(path: Path, integrations: Registry | None = None) -> HubConfig:
    """Read and validate a YAML config file. Relative data_dir is taken from the file's folder."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file; pass an existing YAML file with -c") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    except RecursionError:  # PyYAML builds nested lists and mappings by recursion
        raise ConfigError(
            f"{path}: lists or mappings are nested too deeply to read; a config needs a few levels"
        ) from None
    config = parse_config(raw, str(path), integrations)
    if not config.data_dir.is_absolute():
        config = config.model_copy(update={"data_dir": (path.parent / config.data_dir).resolve()})
    return config
