"""Messages from the broker: untrusted, checked, and acted on only when they are a known camera's `set`.

`Inbound.handle` runs for every message the client receives, on the event
loop; it never raises and never waits. What it cannot use is ignored and
counted by kind (shown in /api/health), with one log line for the first of
each kind. A valid `set` only records the value wanted; `run` applies the
wanted values one at a time through `CameraSettings.change` (audited first),
so a burst of commands costs one change per camera and setting, not one per
message. Approving or denying requests is not offered here: it needs an
owner's fresh password (docs/mqtt.md).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Collection

from camhub.audit import AuditUnavailable
from camhub.integrations.mqtt.homeassistant import CAMERA_ENTITIES
from camhub.integrations.mqtt.topics import NUMBERS, OFF, OFFLINE, ON, ONLINE, SWITCHES, Topics
from camhub.settings import CameraSettings, SettingRefused

log = logging.getLogger(__name__)

# The longest payload a `set` or the birth message can need ("254.5", "offline"); longer is ignored unread.
MAX_PAYLOAD = 32
# Home Assistant says it is online once per restart, but anyone on the broker can say it (or send stale
# configs) a thousand times a second: each is still acted on, the log says so once in this many seconds.
LOG_INTERVAL_S = 60.0
ACTOR = "mqtt"
# Why a message is ignored: the keys of `Inbound.ignored` and of /api/health's mqtt.ignored.
IGNORED_KINDS = (
    "oversized",  # longer than MAX_PAYLOAD
    "not_utf8",  # the payload is not UTF-8 text
    "malformed",  # not ON/OFF for a switch, not a number in range for a number, not online/offline for the birth
    "unknown_camera",  # no running camera of that name
    "unknown_topic",  # not a setting camhub has, or a topic it does not listen on
    "retained",  # a retained command: it would be applied again at every reconnect
    "not_logged",  # the audit log could not be written, so the change was not made
)


class Inbound:
    def __init__(
        self,
        topics: Topics,
        settings: CameraSettings,
        cameras: Callable[[], Collection[str]],
        on_birth: Callable[[], None],
        on_refused: Callable[[str, str], None],
        node_id: str,
        on_stale: Callable[[str], None],
    ) -> None:
        """`cameras` names the running cameras; `on_birth` runs when Home Assistant says it is online;
        `on_refused(camera, key)` when a wanted value was not applied (to publish the state in force again);
        `on_stale(topic)` for a retained discovery config of this hub's `node_id` whose camera is gone."""
        self.topics = topics
        self.node_id = node_id
        self._on_stale = on_stale
        self.settings = settings
        self._cameras = cameras
        self._on_birth = on_birth
        self._on_refused = on_refused
        self.ignored: Counter[str] = Counter()
        self.received = 0
        self.applied = 0
        self._wanted: dict[tuple[str, str], bool | float] = {}  # at most cameras x settings entries
        self._wake = asyncio.Event()
        self._logged: dict[str, float] = {}  # time.monotonic() of the last line of each rate-limited kind
        self.cleared = 0  # stale discovery configs cleared

    def _log_due(self, kind: str) -> bool:
        """Whether a line of this kind may be logged now (then it is counted as logged): one per LOG_INTERVAL_S."""
        now = time.monotonic()
        if now - self._logged.get(kind, -math.inf) < LOG_INTERVAL_S:
            return False
        self._logged[kind] = now
        return True

    @property
    def config_filter(self) -> str:
        """This hub's own discovery configs: retained ones of a camera that no longer runs are cleared."""
        return f"{self.topics.discovery_prefix}/+/{self.node_id}/+/config"

    def handle(self, topic: str, payload: bytes, retain: bool = False) -> None:
        self.received += 1
        if self._config_topic(topic, payload):
            return
        if len(payload) > MAX_PAYLOAD:
            self._ignore("oversized", topic, f"{len(payload)} bytes; a command is at most {MAX_PAYLOAD}")
            return
        try:
            text = payload.decode("utf-8").strip()
        except UnicodeDecodeError:
            self._ignore("not_utf8", topic, "the payload is not UTF-8 text")
            return
        if topic == self.topics.birth:
            if text not in (ONLINE, OFFLINE):
                self._ignore("malformed", topic, f"Home Assistant's status is {ONLINE} or {OFFLINE}")
            elif text == ONLINE and not retain:  # a retained one comes at each connect, which republishes anyway
                if self._log_due("birth"):
                    log.info("mqtt: Home Assistant is online; discovery and state are sent again")
                self._on_birth()
            return
        levels = topic.split("/")
        prefix = self.topics.prefix.split("/")
        if len(levels) != len(prefix) + 3 or levels[: len(prefix)] != prefix or levels[-1] != "set":
            self._ignore("unknown_topic", topic, "camhub listens only on <prefix>/<camera>/<setting>/set")
            return
        camera, key = levels[len(prefix)], levels[len(prefix) + 1]
        if key not in SWITCHES and key not in NUMBERS:
            self._ignore("unknown_topic", topic, f"{key!r} is not a setting; settings: {', '.join(SWITCHES + NUMBERS)}")
            return
        if camera not in self._cameras():
            self._ignore("unknown_camera", topic, "no running camera has that name")
            return
        if retain:
            self._ignore("retained", topic, "a command must not be retained; it would be applied at every reconnect")
            return
        value = _parse(key, text)
        if value is None:
            expected = "ON or OFF" if key in SWITCHES else "a number above 0 and below 255"
            self._ignore("malformed", topic, f"expected {expected}")
            return
        self._wanted[(camera, key)] = value
        self._wake.set()

    def _config_topic(self, topic: str, payload: bytes) -> bool:
        """Whether `topic` is one of this hub's discovery configs (read no further); a stale one is cleared."""
        levels = topic.split("/")
        prefix = self.topics.discovery_prefix.split("/")
        if len(levels) != len(prefix) + 4 or levels[: len(prefix)] != prefix or levels[-1] != "config":
            return False
        component, node, object_id = levels[len(prefix) : len(prefix) + 3]
        if node != self.node_id:
            return False
        if payload:  # an empty one is a config already cleared (or this hub's own clearing, heard back)
            for kind, entity in CAMERA_ENTITIES:
                camera = object_id.removesuffix(f"_{entity}")
                if kind == component and camera != object_id and camera not in self._cameras():
                    self.cleared += 1
                    # Anyone on the broker can send these (the hub id is in its configs): one line a minute.
                    if self._log_due("cleared"):
                        log.info(
                            "mqtt: clearing Home Assistant's %s of camera %s, which no longer runs", entity, camera
                        )
                    self._on_stale(topic)
                    break
        return True

    def _ignore(self, kind: str, topic: str, why: str) -> None:
        self.ignored[kind] += 1
        if self.ignored[kind] == 1:  # one line per kind; /api/health counts the rest
            log.warning(
                "mqtt: ignored a message on %r: %s (%s); further ones of this kind are counted", topic[:120], why, kind
            )

    async def run(self) -> None:
        """Apply the wanted values, one change at a time, until cancelled."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._wanted:
                (camera, key), value = next(iter(self._wanted.items()))
                del self._wanted[(camera, key)]
                await self._apply(camera, key, value)

    async def _apply(self, camera: str, key: str, value: bool | float) -> None:
        try:
            await self.settings.change(camera, key, value, actor=ACTOR, source=ACTOR)
            self.applied += 1
            return
        except SettingRefused as exc:
            kind, why = "unknown_camera" if "no running camera" in str(exc) else "malformed", str(exc)
        except AuditUnavailable as exc:
            kind, why = "not_logged", f"the audit log cannot be written ({exc.reason}); the setting is unchanged"
        except Exception:  # whatever it was, the next command must still be served
            log.exception("mqtt: %s of camera %s could not be set", key, camera)
            kind, why = "not_logged", "the change failed; the setting is unchanged"
        self._ignore(kind, self.topics.set(camera, key), why)
        self._on_refused(camera, key)


def _parse(key: str, text: str) -> bool | float | None:
    if key in SWITCHES:
        return {ON: True, OFF: False}.get(text.upper())
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) and 0 < number < 255 else None
