"""The hub on a real Mosquitto: motion, clip events, switches, reconnection and Home Assistant discovery.

Each test runs a hub in-process with a simulated MJPEG camera whose scene
moves from 2 to 5 s of every 10 s loop, against the test's own broker (a
password file, no persistence: tests/mqtt_broker.py), and watches what a
separate subscriber receives.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from camhub.app import Hub
from camhub.audit.note import verify_checkpoint
from camhub.config import parse_config
from camhub.integrations.mqtt.homeassistant import HubInfo, camera_configs, camera_removal, hub_configs
from camhub.integrations.mqtt.output import MqttOutput
from camhub.integrations.mqtt.topics import Topics
from camhub.motion.detector import MotionEnded
from camhub.recording.finisher import ClipSaved
from camhub.sim.http_server import SimHttpServer
from camhub.sim.loop_thread import LoopThread
from camhub.sim.render import Rendering

from ...mqtt_broker import Broker, Received, Subscriber

WAIT = 60.0  # seconds; generous, the machine is shared
TOPICS = Topics("camhub", "homeassistant")


def hub_config(
    data: Path,
    broker: Broker,
    sim: SimHttpServer,
    cameras: tuple[str, ...] = ("porch",),
    zones: dict[str, Any] | None = None,
    **mqtt: Any,
) -> Any:
    return parse_config(
        {
            "data_dir": str(data),
            "web": {"port": 0},
            "discovery": {"enabled": False},
            "retention": {"min_free_bytes": 0},
            "reconnect": {"initial": 0.2, "cap": 2.0},
            "mqtt": {**broker.hub_mqtt(), **mqtt},
            "cameras": {
                name: {
                    "inputs": [{"url": sim.url("cam", "mjpeg")}],
                    "motion": {"post_roll": 1, "zones": zones or {}},
                    "record": {"pre_roll": 1},
                }
                for name in cameras
            },
        }
    )


@contextlib.asynccontextmanager
async def running(config: Any) -> AsyncIterator[Hub]:
    hub = Hub(config)
    stop = asyncio.Event()
    task = asyncio.create_task(hub.run(stop))
    ready = asyncio.create_task(hub.ready.wait())
    await asyncio.wait([task, ready], timeout=WAIT, return_when=asyncio.FIRST_COMPLETED)
    assert hub.ready.is_set(), task.exception() if task.done() else "the hub did not start"
    try:
        yield hub
    finally:
        stop.set()
        done, _ = await asyncio.wait([task], timeout=WAIT)
        if not done:  # say what the hub still waits for, rather than hang in the cancellation
            stacks = "\n".join(f"{t.get_name()}: {t.get_stack(limit=3)}" for t in asyncio.all_tasks() if not t.done())
            raise AssertionError(f"the hub did not stop within {WAIT:g} s; tasks:\n{stacks}")
        task.result()


def output(hub: Hub) -> MqttOutput:
    found = hub.outputs["mqtt"]
    assert isinstance(found, MqttOutput)
    return found


async def until(condition: Callable[[], object], what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def payload_on(topic: str, payload: bytes) -> Callable[[Received], bool]:
    return lambda m: m.topic == topic and m.payload == payload


async def test_motion_clip_events_snapshot_and_discovery(
    mosquitto: Broker, http_sim: SimHttpServer, tmp_path: Path
) -> None:
    # One zone over the whole picture: motion is as without zones, and every event names it.
    whole = {"yard": {"points": [[0, 0], [1, 0], [1, 1], [0, 1]]}}
    config = hub_config(tmp_path / "data", mosquitto, http_sim, zones=whole)
    dead = {"inputs": [{"url": "http://127.0.0.1:9/dead.mjpeg", "timeout": 2}]}
    config = config.model_copy(
        update={"cameras": {**config.cameras, "dead": parse_config({"cameras": {"dead": dead}}).cameras["dead"]}}
    )
    async with (
        Subscriber(mosquitto, "camhub/#", "homeassistant/#") as sub,
        running(config) as hub,
    ):
        online = await sub.wait_for(payload_on("camhub/status", b"online"), what="status online")
        assert online.retain
        await sub.wait_for(payload_on("camhub/porch/availability", b"online"), what="porch online")
        await sub.wait_for(payload_on("camhub/dead/availability", b"offline"), what="the dead camera offline")
        # The audit log's checkpoint, retained, verifies with the log's key (a witness needs nothing else).
        assert hub.audit is not None
        note = await sub.wait_for(lambda m: m.topic == "camhub/audit/checkpoint", what="a checkpoint")
        assert note.retain
        assert verify_checkpoint(note.payload.decode(), hub.audit.verifier_key).size >= 1
        on = await sub.wait_for(payload_on("camhub/porch/motion", b"ON"), what="motion ON")
        start = sub.messages.index(on)
        attributes = json.loads((await sub.wait_for(lambda m: m.topic.endswith("motion/attributes"))).payload)
        assert attributes["start_s"] <= attributes["raised_at_s"] and 0 < attributes["score"] <= 1
        assert attributes["zones"] == ["yard"]
        off = await sub.wait_for(payload_on("camhub/porch/motion", b"OFF"), what="motion OFF", after=start)
        assert on.retain and off.retain
        saved = await sub.wait_for(
            lambda m: m.topic == "camhub/events" and json.loads(m.payload)["type"] == "clip", what="a clip event"
        )
        clip = json.loads(saved.payload)
        assert clip["zones"] == ["yard"]
        assert hub.db is not None
        row = await hub.db.read(
            lambda db: db.execute("SELECT id FROM clips WHERE id = ?", [clip["clip_id"]]).fetchone()
        )
        assert row is not None, f"clip {clip['clip_id']} is not in the index"
        kinds = [json.loads(m.payload)["type"] for m in sub.on("camhub/events", after=start)]
        assert kinds[:1] == ["new"] and kinds.index("end") < kinds.index("clip"), kinds
        assert not saved.retain
        await sub.wait_for(lambda m: m.topic == "camhub/porch/events" and b'"clip_saved"' in m.payload)
        per_camera = [json.loads(m.payload)["event_type"] for m in sub.on("camhub/porch/events", after=start)]
        assert {"motion_start", "motion_end", "clip_saved"} <= set(per_camera)
        snapshot = await sub.wait_for(lambda m: m.topic == "camhub/porch/snapshot", what="a snapshot")
        assert snapshot.payload[:3] == b"\xff\xd8\xff" and snapshot.retain
        last_clip = await sub.wait_for(lambda m: m.topic == "camhub/porch/last_clip", what="last clip")
        assert last_clip.payload.decode().endswith("+00:00")

        # Every discovery config on the broker is the one the builder gives, and nothing else of this hub's.
        info = HubInfo(output(hub).ctx.hub_id, output(hub).ctx.version)
        expected = dict(
            hub_configs(TOPICS, info)
            + camera_configs(TOPICS, info, "porch", snapshots=True)
            + camera_configs(TOPICS, info, "dead", snapshots=True)
        )
        await sub.barrier()
        published = {m.topic: m.payload.decode() for m in sub.messages if m.topic.startswith("homeassistant/")}
        assert published == expected
        # Each state topic a config names carries a payload that entity accepts.
        for topic, text in expected.items():
            config = json.loads(text)
            state = config.get("state_topic")
            if state is None or state in ("camhub/events", "camhub/requests") or state.endswith("/events"):
                continue
            shown = [m.payload.decode() for m in sub.on(state)]
            if state == "camhub/dead/last_clip":  # a camera that never recorded has no last clip (unknown)
                assert not shown
                continue
            assert shown, f"nothing on {state} ({topic})"
            for value in shown:
                if "payload_on" in config:
                    assert value in (
                        config.get("state_on", config["payload_on"]),
                        config.get("state_off", config["payload_off"]),
                    )
                elif topic.startswith("homeassistant/number/"):
                    assert config["min"] <= float(value) <= config["max"]
        health = output(hub).health()
        assert health["connected"] and health["connects"] == 1 and health["dropped"] == 0, health


async def test_switches_and_threshold_apply_are_audited_and_survive_a_restart(
    mosquitto: Broker, http_sim: SimHttpServer, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    async with Subscriber(mosquitto, "camhub/#") as sub:
        async with running(hub_config(data, mosquitto, http_sim)) as hub:
            await sub.wait_for(payload_on("camhub/porch/detect/state", b"ON"), what="detect ON")
            assert hub.audit is not None
            before = hub.audit.size
            async with mosquitto.client() as client:
                await client.publish("camhub/porch/detect/set", "OFF")
                await client.publish("camhub/porch/record/set", "off")
                await client.publish("camhub/porch/motion_threshold/set", "12.5")
            mark = len(sub.messages)
            for topic, value in (("detect", b"OFF"), ("record", b"OFF"), ("motion_threshold", b"12.5")):
                state = await sub.wait_for(payload_on(f"camhub/porch/{topic}/state", value), after=mark, what=topic)
                assert state.retain
            camera = hub.cameras["porch"]
            await until(
                lambda: (
                    camera.status()["motion"]["detecting"] is False and camera.status()["motion"]["threshold"] == 12.5
                ),
                "the watcher to follow the settings",
            )
            await until(lambda: camera.status()["recording"]["enabled"] is False, "the recorder to follow")
            entries = [json.loads(await hub.audit.entry(i)) for i in range(before, hub.audit.size)]
            changed = [e for e in entries if e["event"] == "setting_changed"]
            assert {(e["fields"]["key"], str(e["fields"]["new"]).lower()) for e in changed} == {
                ("cameras.porch.detect", "false"),
                ("cameras.porch.record", "false"),
                ("cameras.porch.motion_threshold", "12.5"),
            }, changed
            assert all(e["actor"] == "mqtt" and e["fields"]["source"] == "mqtt" for e in changed), changed
        mark = len(sub.messages)
        async with running(hub_config(data, mosquitto, http_sim)) as hub:
            await sub.wait_for(payload_on("camhub/status", b"online"), after=mark, what="online again")
            again = len(sub.messages)
            for topic, value in (("detect", b"OFF"), ("record", b"OFF"), ("motion_threshold", b"12.5")):
                await sub.wait_for(payload_on(f"camhub/porch/{topic}/state", value), after=mark, what=topic)
            status = hub.cameras["porch"].status()
            assert status["motion"]["detecting"] is False and status["motion"]["threshold"] == 12.5
            assert status["recording"]["enabled"] is False
            # Switched back on, detection finds the scene's motion again.
            async with mosquitto.client() as client:
                await client.publish("camhub/porch/detect/set", "ON")
            assert hub.bus is not None
            with hub.bus.subscribe(MotionEnded, ClipSaved) as events:
                await sub.wait_for(payload_on("camhub/porch/detect/state", b"ON"), after=again, what="detect ON")
                await sub.wait_for(payload_on("camhub/porch/motion", b"ON"), after=again, what="motion, detect ON")
                # Recording is still off: two motion events end (a clip would be saved between them), no clip.
                seen: list[object] = []
                while sum(isinstance(e, MotionEnded) for e in seen) < 2:
                    seen.append(await asyncio.wait_for(events.get(), WAIT))
                assert not [e for e in seen if isinstance(e, ClipSaved)], seen


async def test_the_broker_goes_away_the_hub_records_on_reconnects_and_republishes(
    mosquitto: Broker, http_sim: SimHttpServer, tmp_path: Path
) -> None:
    # A small outbox, so that what waits while the broker is away overflows it and is counted.
    async with running(hub_config(tmp_path / "data", mosquitto, http_sim, queue=10)) as hub:
        mqtt = output(hub)
        await until(lambda: mqtt.connected, "the first connection")
        assert hub.bus is not None
        with hub.bus.subscribe(MotionEnded, ClipSaved) as events:
            mosquitto.kill()
            await until(lambda: not mqtt.connected, "the hub to notice the broker is gone")
            ended: list[MotionEnded] = []
            saved: list[ClipSaved] = []
            while len(saved) < 2:  # two motion events recorded while the broker is away
                event = await asyncio.wait_for(events.get(), WAIT)
                (ended if isinstance(event, MotionEnded) else saved).append(event)  # type: ignore[arg-type]
            assert not mqtt.connected and mqtt.last_error, mqtt.health()
            assert len(saved) >= len(ended) - 1, (ended, saved)  # each ended event's clip (the last may be finishing)
            mosquitto.restart()
            async with Subscriber(mosquitto, "camhub/#", "homeassistant/#") as sub:
                # The restarted broker kept nothing (no persistence): all of this is the hub publishing again.
                await sub.wait_for(payload_on("camhub/status", b"online"), what="online after the restart")
                await sub.wait_for(lambda m: m.topic.endswith("/porch_motion/config"), what="discovery again")
                await sub.wait_for(lambda m: m.topic == "camhub/porch/detect/state", what="state again")
                await sub.wait_for(lambda m: m.topic == "camhub/porch/last_clip", what="the last clip again")
            async with aiohttp.ClientSession() as http, http.get(f"{hub.url}/api/health") as r:
                health = (await r.json())["outputs"]["mqtt"]
        assert health["connected"] and health["connects"] == 2, health
        assert health["dropped"] > 0 and health["queued"] <= 10, health


async def test_home_assistants_birth_message_brings_everything_again(
    mosquitto: Broker, http_sim: SimHttpServer, tmp_path: Path
) -> None:
    async with (
        Subscriber(mosquitto, "camhub/+/detect/state", "homeassistant/+/+/+/config") as sub,
        running(hub_config(tmp_path / "data", mosquitto, http_sim)) as hub,
    ):
        await sub.wait_for(lambda m: m.topic.endswith("porch_motion/config"), what="the first configs")
        await until(lambda: output(hub).health()["queued"] == 0, "the first publish to drain")
        await sub.barrier()
        mark = len(sub.messages)
        async with mosquitto.client() as client:
            await client.publish("homeassistant/status", "online")
        await sub.wait_for(lambda m: m.topic.endswith("porch_motion/config"), after=mark, what="configs again")
        await sub.wait_for(lambda m: m.topic == "camhub/porch/detect/state", after=mark, what="state again")


async def test_a_removed_camera_s_entities_are_cleared(
    mosquitto: Broker, http_sim: SimHttpServer, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    async with Subscriber(mosquitto, "homeassistant/#") as sub:
        async with running(hub_config(data, mosquitto, http_sim, cameras=("porch", "yard", "gate"))) as hub:
            info = HubInfo(output(hub).ctx.hub_id, output(hub).ctx.version)
            await sub.wait_for(lambda m: m.topic.endswith("/gate_last_clip/config") and bool(m.payload))
            # Removed while the hub runs (as an owner removes an adopted camera).
            await hub.fleet.remove("yard")
            for topic in camera_removal(TOPICS, info, "yard"):
                await sub.wait_for(lambda m, t=topic: m.topic == t and m.payload == b"", what=f"{topic} cleared")
        # Gone from the config between two runs: found among the broker's retained configs and cleared.
        mark = len(sub.messages)
        async with running(hub_config(data, mosquitto, http_sim, cameras=("porch",))):
            for topic in camera_removal(TOPICS, info, "gate"):
                await sub.wait_for(lambda m, t=topic: m.topic == t and m.payload == b"", after=mark, what=topic)
            await sub.barrier()
            porch = [m for m in sub.messages[mark:] if "/porch_" in m.topic]
            assert porch and all(m.payload for m in porch), "porch's entities must stay"


async def test_a_wrong_password_is_a_clear_error_and_is_retried(
    mosquitto: Broker, http_sim: SimHttpServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "not-the-password-8c1f"
    config = hub_config(tmp_path / "data", mosquitto, http_sim, password=wrong)
    async with running(config) as hub:
        mqtt = output(hub)
        await until(lambda: mqtt.last_error is not None, "the refused login")
        assert "refused the login of user 'camhub'" in str(mqtt.last_error)
        assert "mqtt.username and mqtt.password" in str(mqtt.last_error)
        await until(lambda: mosquitto.log_text().count("not authori") >= 3, "the hub to try again")
        assert not mqtt.connected and mqtt.connects == 0
        assert hub.cameras["porch"].status()["name"] == "porch"  # the hub runs on without its broker
    errors = [r for r in caplog.records if r.name.startswith("camhub.integrations.mqtt") and r.levelname == "ERROR"]
    assert len(errors) == 1, [r.getMessage() for r in errors]  # said once, not at every retry
    assert wrong not in caplog.text


async def test_availability_follows_the_camera(mosquitto: Broker, sim_rendering: Rendering, tmp_path: Path) -> None:
    with LoopThread("mqtt-availability-sim") as loop:
        server = SimHttpServer({"cam": sim_rendering})
        loop.run(server.start())
        try:
            async with (
                Subscriber(mosquitto, "camhub/porch/availability") as sub,
                running(hub_config(tmp_path / "data", mosquitto, server)),
            ):
                await sub.wait_for(payload_on("camhub/porch/availability", b"online"), what="online")
                mark = len(sub.messages)
                loop.run(server.stop())  # the camera goes away
                gone = await sub.wait_for(payload_on("camhub/porch/availability", b"offline"), after=mark)
                assert gone.retain
        finally:
            loop.run(server.stop())
