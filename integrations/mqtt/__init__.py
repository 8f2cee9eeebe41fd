"""MQTT and Home Assistant: what the hub does, on a broker, and a few switches back (docs/mqtt.md).

The hub's events (motion, clips, camera state, owner notices, audit
checkpoints) are published under `mqtt.topic_prefix`, with Home Assistant
MQTT discovery under `mqtt.discovery_prefix`; detection, recording and the
motion threshold can be set per camera. Nothing that needs an owner's fresh
password (approving a request, say) can be done over MQTT.
"""

from __future__ import annotations

from camhub.outputs import Output, OutputContext
from camhub.registry import SetupContext


def make_output(ctx: OutputContext) -> Output | None:
    if not ctx.config.mqtt.active:
        return None
    from camhub.integrations.mqtt.output import MqttOutput

    return MqttOutput(ctx)


def setup(ctx: SetupContext) -> None:
    ctx.register_output(make_output)
