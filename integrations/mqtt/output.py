"""The MQTT client: one connection to the broker, kept up for as long as the hub runs.

`MqttOutput.run` is a task of the hub's TaskGroup. It follows the bus
(camhub.integrations.mqtt.publisher) and the broker at once: what is to be
published goes into a bounded outbox, never awaited by whoever emits it (a
camera's thread or the event loop), and the oldest message is dropped and
counted when the outbox is full. Retained state is also kept in a table,
so that on every connect it is all sent again (the broker may have lost it),
and again when Home Assistant's birth message arrives.

The connection: client id `camhub-<hub id>` unless configured, the last will
`<prefix>/status` = `offline` (retained), `online` published first on each
connect, and reconnection with the cameras' capped, jittered backoff
(`reconnect.initial`, `reconnect.cap`). Recording never waits on any of it.
A clean stop publishes `offline` itself (a will is sent only when the
connection breaks).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import aiomqtt

from camhub.bus import OwnerNotice
from camhub.capture.backoff import Backoff
from camhub.integrations.mqtt.homeassistant import node_id
from camhub.integrations.mqtt.inbound import Inbound
from camhub.integrations.mqtt.publisher import EVENTS, Publisher, read_snapshot, text
from camhub.integrations.mqtt.topics import OFFLINE, ONLINE, Topics
from camhub.outputs import OutputContext
from camhub.recording.finisher import ClipSaved

log = logging.getLogger(__name__)

# Seconds a publish or a connect may take before the connection counts as broken.
TIMEOUT = 10.0
# Seconds a disconnect may take; then the connection is dropped without the broker's goodbye.
DISCONNECT_TIMEOUT = 3.0
# Every message goes at QoS 0: waiting for each PUBACK in turn costs a broker round trip per message (about
# 40 ms where Nagle's algorithm meets a delayed ACK) and queues motion behind it, and what QoS 1 would
# guard is already covered: all retained state is sent again on every connect.
QOS = 0
# Seconds between frame-rate and count updates.
REFRESH_INTERVAL = 10.0
# An event (not retained) that waited longer than this for the broker is dropped on reconnecting:
# an automation acting on minutes-old motion would do the wrong thing.
STALE_EVENT_S = 30.0
# Inbound messages the client holds before it drops more (a burst); each is at most the broker's size limit.
INCOMING_QUEUE = 256
# Bus events the output may fall behind by before the oldest are dropped (and counted).
BUS_QUEUE = 10000


@dataclass(frozen=True)
class Outgoing:
    topic: str
    payload: bytes
    retain: bool
    queued: float  # time.monotonic()


class _QueueFullCounter(logging.Filter):
    """aiomqtt logs every message it drops from a full incoming queue; count them instead (one line, then health)."""

    def __init__(self, inbound: Inbound) -> None:
        super().__init__()
        self.inbound = inbound

    def filter(self, record: logging.LogRecord) -> bool:
        if "queue is full" in record.getMessage():
            self.inbound.ignored["queue_full"] += 1
            if self.inbound.ignored["queue_full"] == 1:
                log.warning(
                    "mqtt: incoming messages arrive faster than they are read; the excess is dropped and counted"
                )
            return False
        return True


class MqttOutput:
    def __init__(self, ctx: OutputContext) -> None:
        self.ctx = ctx
        self.cfg = cfg = ctx.config.mqtt
        assert cfg.host is not None  # make_output runs it only with a host
        self.host = cfg.host
        self.topics = Topics(cfg.topic_prefix, cfg.discovery_prefix)
        self.client_id = cfg.client_id or f"camhub-{ctx.hub_id}"
        self.retained: dict[str, bytes] = {}  # topic -> latest retained payload (b"": cleared), sent on each connect
        self._outbox: deque[Outgoing] = deque()
        self._wake = asyncio.Event()
        self._republish = False
        self._reading: set[asyncio.Task[None]] = set()  # snapshot files being read
        self._stopping = False  # the hub stops: every loop ends at its next step
        self.connected = False
        self._was_connected = False  # the session that just ended had connected (for the log line)
        self.connects = 0
        self.sent = 0
        self.dropped = 0
        self.last_error: str | None = None
        self._backoff = Backoff(ctx.config.reconnect.initial, ctx.config.reconnect.cap)
        self.publisher = Publisher(ctx, self.topics, self.emit)
        self.inbound = Inbound(
            self.topics,
            ctx.settings,
            ctx.cameras.names,
            self._birth,
            self._refused,
            node_id(self.publisher.hub),
            self._clear,
        )
        # aiomqtt's own logger: one per client, outside logging's registry (so it is not kept for ever, nor its
        # filter, when a hub is made again in the same process), passing what it keeps on to this module's.
        self._client_log = logging.Logger(f"{__name__}.client")  # noqa: LOG001
        self._client_log.parent = log
        self._client_log.addFilter(_QueueFullCounter(self.inbound))
        # Subscribed now, so nothing between the hub's start and this task's is missed.
        self._events = ctx.bus.subscribe(*EVENTS, maxsize=BUS_QUEUE)

    # -- publishing: never blocks, never raises
    def emit(self, topic: str, payload: bytes, retain: bool, keep: bool = True) -> None:
        """Queue a message; a retained one is also kept to be sent again on each connect, unless not `keep`."""
        if retain and keep:
            self.retained[topic] = payload
        if len(self._outbox) >= self.cfg.queue:
            self._outbox.popleft()
            self.dropped += 1
        self._outbox.append(Outgoing(topic, payload, retain, time.monotonic()))
        self._wake.set()

    def _birth(self) -> None:
        self._republish = True
        self._wake.set()

    def _clear(self, topic: str) -> None:
        # Not kept: the topic comes from the broker, and anyone there could name a new one each time.
        self.emit(topic, b"", True, keep=False)

    def _refused(self, camera: str, key: str) -> None:
        values = self.ctx.settings.current(camera)
        if values is not None:
            self.emit(self.topics.state(camera, key), text(values.get(key)), True)

    def health(self) -> dict[str, object]:
        return {
            "connected": self.connected,
            "broker": f"{self.host}:{self.cfg.port}",
            "client_id": self.client_id,
            "connects": self.connects,
            "last_error": self.last_error,
            "queued": len(self._outbox),
            "sent": self.sent,
            "dropped": self.dropped + self._events.dropped,
            "received": self.inbound.received,
            "applied": self.inbound.applied,
            "stale_configs_cleared": self.inbound.cleared,
            "ignored": dict(sorted(self.inbound.ignored.items())),
        }

    # -- the task
    async def run(self) -> None:
        self.publisher.hub_state()
        tasks = [
            asyncio.create_task(self._follow_bus(), name="mqtt:bus"),
            asyncio.create_task(self.inbound.run(), name="mqtt:settings"),
            asyncio.create_task(self._refresh(), name="mqtt:refresh"),
            asyncio.create_task(self._stay_connected(), name="mqtt:connection"),
        ]
        try:
            await _first_failure(tasks)
        finally:
            self._stopping = True
            await _cancel_all(tasks + list(self._reading))
            self._events.close()

    async def _follow_bus(self) -> None:
        async for event in self._events:
            try:
                snapshot = self.publisher.on_event(event)
            except Exception:  # one bad event must not stop the others from being published
                log.exception("mqtt: could not publish %s", type(event).__name__)
                continue
            if snapshot is not None and isinstance(event, ClipSaved):
                # Read aside, so that a motion event behind it does not wait for the file.
                reading = asyncio.create_task(self._snapshot(event.clip.camera, snapshot), name="mqtt:snapshot")
                self._reading.add(reading)
                reading.add_done_callback(self._reading.discard)
            if isinstance(event, OwnerNotice):
                await self._publish_counts()

    async def _snapshot(self, camera: str, path: Path) -> None:
        jpeg = await asyncio.to_thread(read_snapshot, path)
        if jpeg is not None:
            self.publisher.snapshot(camera, jpeg)

    async def _refresh(self) -> None:
        while True:
            for camera in self.ctx.cameras.names():
                self.publisher.fps(camera)
            await self._publish_counts()
            await asyncio.sleep(REFRESH_INTERVAL)

    async def _publish_counts(self) -> None:
        try:
            counts = await self.ctx.privacy_counts()
        except Exception as exc:  # the privacy database closing as the hub stops, say
            log.debug("mqtt: no counts this time: %s", exc)
            return
        self.publisher.counts(dict(counts))

    async def _stay_connected(self) -> None:
        while True:
            try:
                await self._session()
            except aiomqtt.MqttError as exc:
                self._lost(exc)
            self._stop_if_stopping()
            delay = self._backoff.next_delay()
            log.debug("mqtt: next connection attempt in %.1f s", delay)
            await asyncio.sleep(delay)

    def _stop_if_stopping(self) -> None:
        """End this loop if the hub stops, even when a swallowed cancellation (see _cancel_all) did not."""
        if self._stopping:
            raise asyncio.CancelledError

    def _lost(self, exc: aiomqtt.MqttError) -> None:
        was, self._was_connected = self._was_connected, False
        error = _described(exc, self.cfg.username)
        if was:
            log.warning(
                "mqtt: lost the broker at %s:%d (%s); reconnecting with backoff", self.host, self.cfg.port, error
            )
        elif error != self.last_error:
            log.error("mqtt: cannot connect to the broker at %s:%d: %s; retrying", self.host, self.cfg.port, error)
        self.last_error = error

    def _client(self) -> aiomqtt.Client:
        tls = self.cfg.tls
        return aiomqtt.Client(
            self.host,
            self.cfg.port,
            username=self.cfg.username,
            password=self.cfg.password,
            identifier=self.client_id,
            will=aiomqtt.Will(self.topics.status, OFFLINE, qos=1, retain=True),
            keepalive=self.cfg.keepalive,
            timeout=TIMEOUT,
            clean_session=True,
            max_queued_incoming_messages=INCOMING_QUEUE,
            logger=self._client_log,
            # Small messages go out at once rather than waiting on the previous one's ACK (Nagle's algorithm).
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
            tls_params=None
            if tls is None
            else aiomqtt.TLSParameters(
                ca_certs=str(tls.ca_file) if tls.ca_file else None,
                certfile=str(tls.cert_file) if tls.cert_file else None,
                keyfile=str(tls.key_file) if tls.key_file else None,
            ),
        )

    async def _session(self) -> None:
        client = self._client()
        await client.__aenter__()  # a failed connect raises MqttError and leaves nothing to close
        try:
            subscriptions = [(self.topics.set_filter, 0), (self.topics.birth, 0)]
            if self.cfg.discovery:
                subscriptions.append((self.inbound.config_filter, 0))
            await client.subscribe(subscriptions)
            await client.publish(self.topics.status, ONLINE, qos=QOS, retain=True)
            self._stop_if_stopping()
            self.connected, self.last_error = True, None
            self.connects += 1
            self._backoff.reset()
            log.info("mqtt: connected to %s:%d as %s", self.host, self.cfg.port, self.client_id)
            self._requeue()
            work = [
                asyncio.create_task(self._send(client), name="mqtt:send"),
                asyncio.create_task(self._receive(client), name="mqtt:receive"),
            ]
            try:
                await _first_failure(work)  # the connection broke: its MqttError says how
            finally:
                await _cancel_all(work)
        except asyncio.CancelledError:  # the hub stops: say so before leaving (the will is for a broken link)
            with contextlib.suppress(Exception):
                await client.publish(self.topics.status, OFFLINE, qos=1, retain=True, timeout=2)
            raise
        finally:
            self._was_connected, self.connected = self.connected, False
            # aiomqtt waits for the broker's goodbye without a limit; a broker that is gone never sends it.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.__aexit__(None, None, None), DISCONNECT_TIMEOUT)

    def _requeue(self) -> None:
        """On connecting: every retained state first, then the events that are still fresh."""
        now = time.monotonic()
        fresh = [o for o in self._outbox if not o.retain and now - o.queued < STALE_EVENT_S]
        self.dropped += sum(1 for o in self._outbox if not o.retain) - len(fresh)
        self._outbox.clear()
        self._outbox.extend(fresh)
        self._republish = True
        self._wake.set()

    async def _send(self, client: aiomqtt.Client) -> None:
        while True:
            if self._republish:
                self._republish = False
                for topic, payload in list(self.retained.items()):
                    await client.publish(topic, payload, qos=QOS, retain=True, timeout=TIMEOUT)
                    self._stop_if_stopping()
                    self.sent += 1
            while self._outbox and not self._republish:
                item = self._outbox.popleft()
                try:
                    await client.publish(item.topic, item.payload, qos=QOS, retain=item.retain, timeout=TIMEOUT)
                except BaseException:
                    self._outbox.appendleft(item)  # sent again once connected
                    raise
                self._stop_if_stopping()
                self.sent += 1
            if not self._republish:
                self._wake.clear()
                await self._wake.wait()

    async def _receive(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            payload = message.payload
            raw = bytes(payload) if isinstance(payload, (bytes, bytearray)) else str(payload or "").encode()
            try:
                self.inbound.handle(message.topic.value, raw, bool(message.retain))
            except Exception:  # handle() is written not to raise; if it does, the client must go on
                log.exception("mqtt: a message on %r could not be handled", message.topic.value[:120])


async def _first_failure(tasks: list[asyncio.Task[None]]) -> None:
    """Wait until one of `tasks` ends, and raise what it raised (none of them is meant to end)."""
    done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in done:
        task.result()


async def _cancel_all(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel `tasks` and wait until they end, cancelling again what is still running after a second:
    Python 3.11's asyncio.wait_for (inside aiomqtt's publish) can swallow a cancellation that arrives as
    the publish completes (CPython gh-86296, fixed in 3.12), and the task would wait on for ever."""
    while pending := [task for task in tasks if not task.done()]:
        for task in pending:
            task.cancel()
        await asyncio.wait(pending, timeout=1.0)
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            log.debug("mqtt: %s ended with %r", task.get_name(), task.exception())


def _described(exc: aiomqtt.MqttError, username: str | None) -> str:
    """What went wrong, for the log and /api/health: a refused login says which setting to check."""
    text = str(exc) or type(exc).__name__
    lowered = text.lower()
    if "not authori" in lowered or "bad user name or password" in lowered:
        who = f"user {username!r}" if username else "an anonymous client"
        return f"the broker refused the login of {who} ({text}); check mqtt.username and mqtt.password"
    return text
