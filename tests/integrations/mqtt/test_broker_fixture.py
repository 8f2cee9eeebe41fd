"""The `mosquitto` fixture is a real broker: authentication, retained messages, a crash and a restart.

The MQTT tests build on these facts, so they are shown here first: the
right password is let in and the wrong one is refused; a retained message
reaches a late subscriber but not a restarted broker (persistence is off,
so the hub must publish its state again after a restart); and a killed
broker comes back on the same address.
"""

from __future__ import annotations

import socket
import stat

import aiomqtt
import pytest

from ...mqtt_broker import Broker, Subscriber


async def test_a_client_with_the_password_publishes_and_the_subscriber_receives(mosquitto: Broker) -> None:
    async with Subscriber(mosquitto, "camhub/#") as sub:
        async with mosquitto.client() as publisher:
            await publisher.publish("camhub/porch/motion", b"ON", qos=1)
            await publisher.publish("elsewhere/porch", b"not ours", qos=1)
            await publisher.publish("camhub/porch/motion", b"OFF", qos=1)
        off = await sub.wait_for(lambda m: m.payload == b"OFF", what="OFF on camhub/porch/motion")
        await sub.barrier()
    assert off.topic == "camhub/porch/motion" and not off.retain
    assert [(m.topic, m.payload) for m in sub.messages] == [
        ("camhub/porch/motion", b"ON"),
        ("camhub/porch/motion", b"OFF"),
    ]


async def test_a_wrong_password_is_refused_as_not_authorised(mosquitto: Broker) -> None:
    with pytest.raises(aiomqtt.MqttCodeError) as refused:
        async with mosquitto.client(password="not the password"):
            pass
    assert "not authori" in str(refused.value).lower(), refused.value
    # No anonymous clients either.
    with pytest.raises(aiomqtt.MqttCodeError):
        async with aiomqtt.Client(mosquitto.host, mosquitto.port, timeout=30):
            pass
    assert "not authorised" in mosquitto.log_text()
    # The password file holds a hash, readable by its owner only.
    assert mosquitto.password not in mosquitto.password_path.read_text()
    assert stat.S_IMODE(mosquitto.password_path.stat().st_mode) == 0o600


async def test_wait_for_names_what_arrived_when_it_times_out(mosquitto: Broker) -> None:
    async with Subscriber(mosquitto, "camhub/#") as sub:
        async with mosquitto.client() as publisher:
            await publisher.publish("camhub/status", b"offline", qos=1)
        await sub.wait_for(lambda m: m.topic == "camhub/status")
        with pytest.raises(AssertionError) as missing:
            await sub.wait_for(lambda m: m.payload == b"online", what="camhub/status online", timeout=0.5)
    report = str(missing.value)
    assert "no message camhub/status online within 0.5 s" in report
    assert "camhub/status b'offline'" in report


async def test_retained_messages_reach_late_subscribers_but_not_a_restarted_broker(mosquitto: Broker) -> None:
    async with Subscriber(mosquitto, "camhub/#") as live:
        async with mosquitto.client() as publisher:
            await publisher.publish("camhub/status", b"online", qos=1, retain=True)
        # Retain as published: a live message shows the publisher's flag too.
        assert (await live.wait_for(lambda m: m.topic == "camhub/status")).retain
    async with Subscriber(mosquitto, "camhub/#") as late:
        status = await late.wait_for(lambda m: m.topic == "camhub/status", what="the retained status")
    assert (status.payload, status.retain) == (b"online", True)

    mosquitto.restart()
    async with Subscriber(mosquitto, "camhub/#") as after_restart:
        # Retained messages come right after the SUBACK, before the barrier's marker: none came.
        await after_restart.barrier()
    assert after_restart.messages == [], "persistence is off: a restart forgets retained messages"


async def test_a_killed_broker_comes_back_on_the_same_port(mosquitto: Broker) -> None:
    port = mosquitto.port
    async with Subscriber(mosquitto, "camhub/#") as sub:
        mosquitto.kill()
        assert not mosquitto.running
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((mosquitto.host, port), timeout=5).close()
        with pytest.raises(AssertionError, match="the connection ended"):
            await sub.wait_for(lambda m: True, what="anything from a dead broker")
    assert isinstance(sub.error, aiomqtt.MqttError)

    mosquitto.restart()
    assert mosquitto.running and mosquitto.port == port
    async with Subscriber(mosquitto, "camhub/#") as again:
        async with mosquitto.client() as publisher:
            await publisher.publish("camhub/status", b"online", qos=1)
        await again.wait_for(lambda m: m.payload == b"online", what="camhub/status online after the restart")
    assert "mosquitto version 2." in mosquitto.log_text()
