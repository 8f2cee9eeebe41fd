"""Hostile messages on the broker cannot steer the hub, flood its log, grow its memory or stop its client.

A whole hub (a simulated MJPEG camera `porch`) on a real Mosquitto, attacked by another client with the
broker's credentials, which anyone on the household's broker may have. Each kind of message the hub
cannot use (docs/mqtt.md, "What camhub ignores") is sent several times: the setting it aims at stays
as it was, the kind is counted in health and logged once, and afterwards the same connection still
obeys a valid command. A burst of 10,000 mixed messages and a burst of Home Assistant birth messages
leave the client connected (no reconnect), the web server answering, the memory bounded and the audit
log with a few entries rather than thousands. A strict xfail holds a known gap: a command published
retained while the hub listens reaches it unflagged (MQTT 3.1.1) and is obeyed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import PIPE

import aiohttp
import aiomqtt
import pytest

from camhub.app import Hub
from camhub.config import parse_config
from camhub.integrations.mqtt.inbound import IGNORED_KINDS, Inbound
from camhub.integrations.mqtt.output import MqttOutput
from camhub.integrations.mqtt.publisher import text
from camhub.integrations.mqtt.topics import SETTINGS
from camhub.sim.http_server import SimHttpServer

from ..mqtt_broker import Broker, Subscriber

WAIT = 60.0  # generous: the machine is shared and busy
SET = "camhub/porch/{}/set"
STATE = "camhub/porch/{}/state"
BIRTH = "homeassistant/status"
MARKER = b"HOSTILE-PAYLOAD-"  # must never reach the log


@contextlib.asynccontextmanager
async def running_hub(
    broker: Broker, http_sim: SimHttpServer, data: Path, **mqtt: object
) -> AsyncIterator[tuple[Hub, MqttOutput]]:
    """A hub with the camera `porch`, connected to `broker` (more `mqtt` keys as given); stopped on leaving."""
    config = {
        "data_dir": str(data),
        "web": {"port": 0},
        "discovery": {"enabled": False},
        "retention": {"min_free_bytes": 0},
        "mqtt": {**broker.hub_mqtt(), **mqtt},
        "cameras": {"porch": {"inputs": [{"url": http_sim.url("cam", "mjpeg"), "roles": ["record", "detect"]}]}},
    }
    hub = Hub(parse_config(config))
    stop = asyncio.Event()
    task = asyncio.create_task(hub.run(stop))
    try:
        ready = asyncio.create_task(hub.ready.wait())
        await asyncio.wait({task, ready}, timeout=WAIT, return_when=asyncio.FIRST_COMPLETED)
        ready.cancel()
        assert hub.ready.is_set(), task
        output = hub.outputs["mqtt"]
        assert isinstance(output, MqttOutput)
        await until(lambda: output.connected, "the hub's client connected", output)
        yield hub, output
    finally:
        stop.set()
        await asyncio.wait_for(task, WAIT)


async def until(condition: Callable[[], object], what: str, output: MqttOutput) -> None:
    """Wait for `condition`, checked as the loop turns, up to WAIT s; fail naming `what` and the client's health."""
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"not within {WAIT:g} s: {what}; mqtt health: {output.health()}"
        await asyncio.sleep(0.02)


def settings_of(hub: Hub) -> dict[str, object]:
    """What the camera runs with, as the settings hold it and as its status shows it."""
    assert hub.settings is not None
    values = hub.settings.current("porch")
    assert values is not None
    motion = hub.cameras["porch"].status()["motion"]
    return {
        **{key: values.get(key) for key in SETTINGS},
        "detecting": motion["detecting"],
        "threshold": motion["threshold"],
    }


async def started(sub: Subscriber) -> None:
    """Once the hub's first state is out: from then on, nothing but a command may change it."""
    for key in SETTINGS:
        await sub.wait_for(lambda m, k=key: m.topic == STATE.format(k), timeout=WAIT)


def heard(inbound: Inbound) -> Callable[[], int]:
    """How many messages the client has read or dropped since now."""
    received, dropped = inbound.received, inbound.ignored["queue_full"]
    return lambda: inbound.received - received + inbound.ignored["queue_full"] - dropped


def warnings_of(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    mqtt = [r for r in caplog.records if r.name.startswith("camhub.integrations.mqtt")]
    return [r.getMessage() for r in mqtt if r.levelno >= logging.WARNING and text in r.getMessage()]


class Attacker:
    """Another client of the broker; `fence()` makes the hub prove it has acted on everything sent before."""

    def __init__(self, client: aiomqtt.Client, sub: Subscriber, output: MqttOutput) -> None:
        self.client, self.sub, self.output = client, sub, output
        self.record = True

    async def send(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        await self.client.publish(topic, payload, qos=1, retain=retain)

    async def fence(self) -> None:
        """Flip recording through the same path a command takes: once its state is out, so is any earlier
        change's (one change at a time, the bus and the outbox in order)."""
        self.record = not self.record
        value = b"ON" if self.record else b"OFF"
        after = len(self.sub.messages)
        await self.send(SET.format("record"), value)
        await self.sub.wait_for(
            lambda m: m.topic == STATE.format("record") and m.payload == value, after=after, timeout=WAIT
        )


# topic, payload: each kind, several times, aimed at detection and the threshold (recording is the fence).
# The first of each kind is the one logged: a 60,000-character camera name must be cut in the log, and a
# line separator and right-to-left override in a setting's name escaped. (Mosquitto itself disconnects a
# client whose topic holds a control character: \n, \x1b, \x7f, \x85.)
ODD_CAMERAS = ["x" * 60000, "nosuch", "PORCH", "porch ", "ポーチ", ".."]
ODD_KEYS = ["evil\u2028forged\u202eline", "delete_all", "approve", "__class__", "", "DETECT", "detect "]
HOSTILE: dict[str, list[tuple[str, bytes]]] = {
    "oversized": [
        (SET.format("detect"), MARKER * (1 << 16)),  # the first of its kind: the one logged
        (SET.format("detect"), b"OFF" + b" " * (1 << 20)),  # what a size check alone keeps from being obeyed
        (SET.format("motion_threshold"), b"1" + b" " * 40),
        (BIRTH, b"online" + b" " * 100),
    ],
    "not_utf8": [
        (SET.format("detect"), b"\xff\xfeOFF"),
        (SET.format("detect"), b"OF\xc0F"),
        (SET.format("motion_threshold"), b"1\x80"),
        (BIRTH, b"onl\xffine"),
    ],
    "malformed": [
        *((SET.format("detect"), p) for p in (b"MAYBE", b"", b"true", b"1", b"ON OFF", b"\x00OFF")),
        *(
            (SET.format("motion_threshold"), p)
            for p in (b"nan", b"inf", b"-inf", b"-1", b"0", b"255", b"1e999", b'{"a":1}', b"", b"0x10", b"12abc")
        ),
        (BIRTH, b"garbage"),
        (BIRTH, b"ONLINE please"),
    ],
    "unknown_camera": [(f"camhub/{name}/detect/set", b"OFF") for name in ODD_CAMERAS],
    "unknown_topic": [(SET.format(key), b"ON") for key in ODD_KEYS],
}
# Sent retained before the hub connects: the broker hands them over at every (re)subscription.
RETAINED = [(SET.format("detect"), b"OFF"), (SET.format("motion_threshold"), b"1")]


async def test_each_kind_of_hostile_message_is_ignored_counted_and_logged_once(
    mosquitto: Broker, http_sim: SimHttpServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with mosquitto.client(identifier="hostile") as client:
        for topic, payload in RETAINED:
            await client.publish(topic, payload, qos=1, retain=True)
        async with (
            Subscriber(mosquitto, "camhub/+/+/state") as sub,
            running_hub(mosquitto, http_sim, tmp_path / "data") as (hub, output),
        ):
            await started(sub)
            await until(lambda: output.inbound.ignored["retained"] == len(RETAINED), "retained commands", output)
            before = settings_of(hub)
            attacker = Attacker(client, sub, output)
            for kind, messages in HOSTILE.items():
                mark = len(sub.messages)
                for _ in range(3):
                    for topic, payload in messages:
                        await attacker.send(topic, payload)
                sent = 3 * len(messages)
                await until(lambda k=kind, n=sent: output.inbound.ignored[k] >= n, f"{sent} {kind} counted", output)
                await attacker.fence()
                assert output.inbound.ignored[kind] == sent, output.health()
                assert settings_of(hub) == {**before, "record": attacker.record}, kind
                await sub.barrier()
                aimed = (STATE.format("detect"), STATE.format("motion_threshold"))
                assert [m for m in sub.messages[mark:] if m.topic in aimed] == [], kind
            for kind in (*HOSTILE, "retained"):
                assert len(warnings_of(caplog, f"({kind})")) == 1, (kind, warnings_of(caplog, f"({kind})"))
            lines = [r.getMessage() for r in caplog.records]
            assert not [line for line in lines if MARKER.decode() in line or "x" * 200 in line]
            assert not [line for line in lines if "\u2028" in line or "\u202e" in line]
            health = output.health()
            assert (health["connected"], health["connects"]) == (True, 1), health
            assert set(output.inbound.ignored) == {*HOSTILE, "retained"}, health

            # The loop survived: the same connection still obeys a valid command.
            mark = len(sub.messages)
            await attacker.send(SET.format("detect"), b"OFF")
            await sub.wait_for(lambda m: m.topic == STATE.format("detect") and m.payload == b"OFF", after=mark)
            await until(lambda: settings_of(hub)["detecting"] is False, "detection off in the camera", output)
            assert output.health()["connects"] == 1


@pytest.mark.xfail(
    strict=True,
    reason="the hub's client speaks MQTT 3.1.1, where the broker clears the retain flag of a message it passes "
    "on to a client already subscribed: a command published retained while the hub listens is obeyed, and "
    "ignored only at the next connect (MQTT 5 with retain-as-published would tell the hub)",
)
async def test_a_command_retained_while_the_hub_listens_is_ignored_too(
    mosquitto: Broker, http_sim: SimHttpServer, tmp_path: Path
) -> None:
    async with (
        Subscriber(mosquitto, "camhub/+/+/state") as sub,
        running_hub(mosquitto, http_sim, tmp_path / "data") as (hub, output),
        mosquitto.client(identifier="hostile") as client,
    ):
        await started(sub)
        attacker = Attacker(client, sub, output)
        mark = len(sub.messages)
        await attacker.send(SET.format("detect"), b"OFF", retain=True)
        await attacker.fence()
        await sub.barrier()
        assert not sub.on(STATE.format("detect"), after=mark), output.health()
        assert output.inbound.ignored["retained"] == 1, output.health()
        assert settings_of(hub)["detect"] is True


def spy_on_commands(inbound: Inbound) -> dict[str, list[bytes]]:
    """The valid payloads the hub reads on its detection and threshold `set` topics, in order."""
    read: dict[str, list[bytes]] = {SET.format("detect"): [], SET.format("motion_threshold"): []}
    handle = inbound.handle

    def spy(topic: str, payload: bytes, retain: bool = False) -> None:
        if topic in read and payload not in (b"nan",):
            read[topic].append(payload)
        handle(topic, payload, retain)

    inbound.handle = spy  # type: ignore[method-assign]
    return read


def changes_in(payloads: list[bytes], first: bytes) -> int:
    return sum(1 for before, after in zip([first, *payloads], payloads, strict=False) if before != after)


def mixed_burst(count: int) -> list[tuple[str, bytes]]:
    """Valid commands toggling detection and moving the threshold, among unknown and malformed ones."""
    messages = []
    for i in range(count):
        match i % 5:
            case 0:
                messages.append((SET.format("detect"), b"ON" if i % 10 else b"OFF"))
            case 1:
                messages.append((SET.format("motion_threshold"), str(10 + i % 97).encode()))
            case 2:
                messages.append((f"camhub/porch/x{i}/set", b"ON"))
            case 3:
                messages.append((f"camhub/cam{i}/detect/set", b"OFF"))
            case _:
                messages.append((SET.format("motion_threshold"), b"nan"))
    return messages


# Another program, as fast as paho can write: QoS 0, nothing awaited per message.
PUBLISHER = """
import json, os, sys, threading
import paho.mqtt.client as mqtt
host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
messages = [(topic, bytes.fromhex(payload)) for topic, payload in json.loads(open(path).read())]
connected = threading.Event()
client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="hostile-burst")
client.username_pw_set(os.environ["BROKER_USER"], os.environ["BROKER_PASSWORD"])
client.on_connect = lambda *args: connected.set()
client.connect(host, port)
client.loop_start()
assert connected.wait(60), "no CONNACK"
for info in [client.publish(topic, payload, qos=0) for topic, payload in messages]:
    info.wait_for_publish(60)
client.disconnect()
client.loop_stop()
"""


async def publish(broker: Broker, messages: list[tuple[str, bytes]], folder: Path) -> None:
    """Send `messages` from another process."""
    path = folder / "burst.json"
    path.write_text(json.dumps([(topic, payload.hex()) for topic, payload in messages]))
    env = {**os.environ, "BROKER_USER": broker.username, "BROKER_PASSWORD": broker.password}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", PUBLISHER, broker.host, str(broker.port), str(path), env=env, stdout=PIPE, stderr=PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), WAIT)
    assert process.returncode == 0, (out, err)


async def answers(http: aiohttp.ClientSession, hub: Hub) -> float:
    """Seconds /api/health took; it must answer, within WAIT, with the client connected."""
    started = time.monotonic()
    async with asyncio.timeout(WAIT), http.get(f"{hub.url}/api/health") as response:
        assert response.status == 200
        body = await response.json()
    assert body["outputs"]["mqtt"]["connected"] is True, body
    return time.monotonic() - started


@dataclass
class Polls:
    answers: list[float] = field(default_factory=list)  # seconds each /api/health took
    wanted: int = 0  # the most wanted values waiting at once
    queued: int = 0  # the most messages in the outbox at once


async def poll_while(busy: Callable[[], bool], http: aiohttp.ClientSession, hub: Hub, output: MqttOutput) -> Polls:
    """Ask /api/health every 50 ms while `busy()`, up to WAIT s, noting how much the client holds meanwhile."""
    polls, deadline = Polls(), time.monotonic() + WAIT
    while busy():
        assert time.monotonic() < deadline, f"still busy after {WAIT:g} s; {output.health()}"
        polls.answers.append(await answers(http, hub))
        polls.wanted = max(polls.wanted, len(output.inbound._wanted))
        polls.queued = max(polls.queued, len(output._outbox))
        await asyncio.sleep(0.05)  # between polls
    return polls


BURST = 10_000


async def test_a_burst_of_10000_messages_leaves_the_hub_connected_responsive_and_consistent(
    mosquitto: Broker, http_sim: SimHttpServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    messages = mixed_burst(BURST)
    last = {
        key: next(p for t, p in reversed(messages) if t == SET.format(key)) for key in ("detect", "motion_threshold")
    }
    async with (
        Subscriber(mosquitto, "camhub/+/+/state") as sub,
        # Without discovery configs, which the hub hears back, every message it reads is the attacker's.
        running_hub(mosquitto, http_sim, tmp_path / "data", discovery=False) as (hub, output),
        aiohttp.ClientSession() as http,
        mosquitto.client(identifier="hostile") as client,
    ):
        await started(sub)
        assert hub.audit is not None
        audit_start, inbound, count = hub.audit.size, output.inbound, heard(output.inbound)
        read, initial = spy_on_commands(inbound), settings_of(hub)
        burst = asyncio.create_task(publish(mosquitto, messages, tmp_path))
        polls = await poll_while(lambda: not burst.done() or count() < BURST, http, hub, output)
        await burst
        assert count() == BURST, output.health()
        await until(lambda: not inbound._wanted, "every wanted value applied", output)
        polls.answers.append(await answers(http, hub))
        health = output.health()
        assert (health["connected"], health["connects"]) == (True, 1), health
        assert set(inbound.ignored) <= {*IGNORED_KINDS, "queue_full"}, health  # kinds, not one key per topic
        for kind in inbound.ignored:
            assert len(warnings_of(caplog, f"({kind})" if kind != "queue_full" else "faster than")) == 1, kind
        assert polls.wanted <= len(hub.cameras) * len(SETTINGS) and polls.queued <= hub.config.mqtt.queue, polls

        # The last value read is in force, on the camera and on the state topics; it is the last one sent
        # unless the burst's tail was dropped from the full incoming queue.
        await Attacker(client, sub, output).fence()
        values = settings_of(hub)
        for key in ("detect", "motion_threshold"):
            assert text(values[key]) == read[SET.format(key)][-1], (key, values)
            assert sub.on(STATE.format(key))[-1].payload == text(values[key]), (key, values)
            if "queue_full" not in inbound.ignored:
                assert text(values[key]) == last[key], (key, values)
        # Had every command read been applied in turn, each that differs from the one before would be a change.
        turns = sum(changes_in(read[SET.format(key)], text(initial[key])) for key in ("detect", "motion_threshold"))
        entries = [json.loads(await hub.audit.entry(i)) for i in range(audit_start, hub.audit.size)]
        changes = [e for e in entries if e["event"] == "setting_changed"]
        assert len(changes) <= inbound.applied and len(changes) < turns / 2, (len(changes), turns, health)


BIRTHS = 1000


async def test_a_burst_of_birth_messages_brings_a_few_republishes_and_one_log_line(
    mosquitto: Broker, http_sim: SimHttpServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with (
        Subscriber(mosquitto, "camhub/+/+/state") as sub,
        # Without discovery configs (see above), every message the hub reads is a birth.
        running_hub(mosquitto, http_sim, tmp_path / "data", discovery=False) as (hub, output),
        aiohttp.ClientSession() as http,
        mosquitto.client(identifier="hostile") as client,
    ):
        await started(sub)
        inbound, mark, count = output.inbound, len(sub.messages), heard(output.inbound)
        received = inbound.received
        burst = asyncio.create_task(publish(mosquitto, [(BIRTH, b"online")] * BIRTHS, tmp_path))
        polls = await poll_while(lambda: not burst.done() or count() < BIRTHS, http, hub, output)
        await burst
        assert count() == BIRTHS, output.health()
        await Attacker(client, sub, output).fence()  # sent after every republish the births asked for
        health = output.health()
        assert (health["connected"], health["connects"]) == (True, 1), health
        assert polls.queued <= hub.config.mqtt.queue and health["dropped"] == 0, (polls, health)
        republished = len(sub.on(STATE.format("detect"), after=mark))
        born = [r for r in caplog.records if "Home Assistant is online" in r.getMessage()]
        births = inbound.received - received - 1  # all but the fence
        assert 1 <= republished <= births / 4, (republished, births)  # those during a republish make one more
        assert len(born) == 1, len(born)
