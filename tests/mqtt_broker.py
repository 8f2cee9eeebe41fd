"""A real Mosquitto for tests, and a subscriber that records what the broker delivers.

- `Broker`: Debian's mosquitto on a free 127.0.0.1 port with a password
  file (user `camhub`, a random password), no persistence, its log in the
  test's tmp folder (`log_tail()` for failure messages). start(), stop()
  (SIGTERM), kill() (SIGKILL, a crash), restart() on the same port,
  cleanup(). The `mosquitto` fixture in tests/conftest.py gives one, started.
  Retained messages do not survive a restart: the hub must publish its
  state again.
- `Subscriber`: `async with Subscriber(broker, "camhub/#") as sub:` connects
  with the broker's credentials, subscribes (the SUBACK has arrived when the
  block starts), and collects `Received(topic, payload, retain)` into
  `sub.messages`. It speaks MQTT 5 and subscribes with "retain as
  published", so `retain` says whether the publisher set the flag, also on
  messages that arrive live (MQTT 3.1.1 clears it on those and sets it only
  on what the broker replays from its store when a client subscribes).
  `await sub.wait_for(predicate, what=...)` returns the first message (from
  index `after`) that satisfies the predicate, or raises listing what
  arrived. `await sub.barrier()` returns once everything the
  broker had queued for this subscriber has arrived, so a test can assert
  that something was NOT delivered without sleeping.

CI exports CAMHUB_REQUIRE_MOSQUITTO=1 (.ci/run): there a missing broker
fails the test instead of skipping it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import aiomqtt
import pytest
from paho.mqtt.subscribeoptions import SubscribeOptions

from camhub.cli.mosquitto import INSTALL_HINT, LocalMosquitto, find_program

# Generous: the machine is shared and busy.
WAIT = 30.0


def require_mosquitto() -> None:
    """Skip without Debian's mosquitto, except where CAMHUB_REQUIRE_MOSQUITTO=1 (CI): there, fail."""
    if find_program("mosquitto") is not None:
        return
    reason = f"mosquitto is not installed ({INSTALL_HINT}; scripts/setup-tests installs it)"
    if os.environ.get("CAMHUB_REQUIRE_MOSQUITTO") == "1":
        pytest.fail(reason + "; CAMHUB_REQUIRE_MOSQUITTO=1 requires it")
    pytest.skip(reason)


class Broker(LocalMosquitto):
    """A test's own broker; see the module docstring."""

    def cleanup(self) -> None:
        """Stop the broker (SIGTERM, then SIGKILL) and remove its files."""
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def client(
        self,
        *,
        password: str | None = None,
        identifier: str | None = None,
        protocol: aiomqtt.ProtocolVersion | None = None,
    ) -> aiomqtt.Client:
        """An aiomqtt client for this broker with its user (and the right password unless one is given)."""
        return aiomqtt.Client(
            self.host,
            self.port,
            username=self.username,
            password=self.password if password is None else password,
            identifier=identifier,
            protocol=protocol,
            timeout=WAIT,
        )


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    retain: bool

    def __str__(self) -> str:
        shown = self.payload if len(self.payload) <= 80 else self.payload[:80] + b"..."
        return f"{self.topic} {shown!r}{' (retained)' if self.retain else ''}"


class Subscriber:
    """A client on `broker` subscribed to `filters`, collecting every message; see the module docstring."""

    def __init__(self, broker: Broker, *filters: str, qos: int = 1) -> None:
        self.broker = broker
        self.filters = filters
        self.qos = qos
        self.messages: list[Received] = []
        self.error: BaseException | None = None  # why the connection ended, once it has
        self._changed = asyncio.Condition()
        self._barrier_topic = f"camhub-test/barrier/{uuid.uuid4().hex}"
        self._markers: set[bytes] = set()  # barrier markers that came back
        self._stack = contextlib.AsyncExitStack()
        self._client: aiomqtt.Client | None = None

    async def __aenter__(self) -> Subscriber:
        client = self.broker.client(
            identifier=f"camhub-test-{uuid.uuid4().hex[:12]}", protocol=aiomqtt.ProtocolVersion.V5
        )
        await self._stack.enter_async_context(client)
        try:
            options = SubscribeOptions(qos=self.qos, retainAsPublished=True)
            for topic in (*self.filters, self._barrier_topic):
                await client.subscribe(topic, options=options)
            reader = asyncio.create_task(self._read(client), name="mqtt-test-subscriber")
        except BaseException:
            await self._stack.aclose()
            raise
        self._stack.push_async_callback(self._cancel, reader)
        self._client = client
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            await self._stack.aclose()
        except aiomqtt.MqttError:
            if exc is None and self.error is None:
                raise  # a broker that went away on purpose makes the goodbye fail; anything else is news

    async def wait_for(
        self, predicate: Callable[[Received], bool], *, what: str = "", timeout: float = WAIT, after: int = 0
    ) -> Received:
        """The first message from index `after` on that satisfies `predicate`; waits for it up to `timeout` s."""

        def found() -> Received | None:
            return next((m for m in self.messages[after:] if predicate(m)), None)

        async with self._changed:
            try:
                async with asyncio.timeout(timeout):
                    await self._changed.wait_for(lambda: found() is not None or self.error is not None)
            except TimeoutError:
                pass
        message = found()
        if message is not None:
            return message
        raise AssertionError(self._report(f"no message {what or 'matching the predicate'}", timeout, after))

    async def barrier(self, timeout: float = WAIT) -> None:
        """Return once what the broker had queued for us before now has arrived (a marker round trip)."""
        assert self._client is not None, "use the Subscriber in `async with`"
        marker = uuid.uuid4().hex.encode()
        await self._client.publish(self._barrier_topic, marker, qos=self.qos)
        async with self._changed:
            try:
                async with asyncio.timeout(timeout):
                    await self._changed.wait_for(lambda: marker in self._markers or self.error is not None)
            except TimeoutError:
                pass
        if marker not in self._markers:
            raise AssertionError(self._report("the barrier's marker did not come back", timeout, 0))

    def on(self, topic: str, after: int = 0) -> list[Received]:
        """The messages on `topic`, in the order they arrived."""
        return [m for m in self.messages[after:] if m.topic == topic]

    def _report(self, problem: str, timeout: float, after: int) -> str:
        arrived = "\n".join(f"  {m}" for m in self.messages[after:]) or "  (nothing)"
        lost = f"\nthe connection ended: {self.error!r}" if self.error else ""
        return (
            f"{problem} within {timeout:g} s on {self.broker.host}:{self.broker.port} "
            f"(subscribed to {', '.join(self.filters)}); from message {after} on, arrived:\n{arrived}{lost}\n"
            f"broker log ends:\n{self.broker.log_tail(20)}"
        )

    async def _read(self, client: aiomqtt.Client) -> None:
        try:
            async for message in client.messages:
                topic = message.topic.value
                payload = message.payload
                data = bytes(payload) if isinstance(payload, bytes | bytearray) else str(payload or "").encode()
                async with self._changed:
                    if topic == self._barrier_topic:
                        self._markers.add(data)
                    else:
                        self.messages.append(Received(topic, data, bool(message.retain)))
                    self._changed.notify_all()
        except aiomqtt.MqttError as exc:
            async with self._changed:
                self.error = exc
                self._changed.notify_all()

    @staticmethod
    async def _cancel(task: asyncio.Task[None]) -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def broker_in(folder: Path) -> Broker:
    """A Broker (not started) with its files in `folder`."""
    require_mosquitto()
    return Broker(folder)
