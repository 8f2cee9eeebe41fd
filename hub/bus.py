"""The event bus: discrete events, published once, delivered to every subscriber.

Hot data (packets, frames) never goes through here: it goes to the
consumers a camera is given at construction (`camhub.capture.camera`). The
bus carries what happens now and then, which MQTT, the dashboard's live
updates and the audit writers subscribe to:

- `MotionStarted`, `MotionEnded` (`camhub.motion.detector`), from each camera's motion watcher;
- `ClipSaved` (`camhub.recording.finisher`), once a clip is durable and indexed;
- `CameraStateChanged` (`camhub.capture.camera`), when a camera goes online, degraded or offline;
- `OwnerNotice` (below), from the consent queue and overrides (`camhub.privacy.context`);
- `AuditCheckpointSigned` (below), for every checkpoint the audit log signs (the hub forwards them).

An event is a small frozen dataclass, defined beside the code that publishes
it, so the bus depends on nothing of the hub; the last two carry only plain
values and have no better home.

Publishers on the event loop call `publish`; reader and worker threads call
`publish_threadsafe`, which keeps their order. Each subscriber has a bounded
queue; one that falls behind loses its oldest events and the loss is counted,
so a stuck consumer (a dead MQTT broker) never holds up recording.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast, overload

log = logging.getLogger(__name__)

E = TypeVar("E")


@dataclass(frozen=True)
class AuditCheckpointSigned:
    """The audit log signed a checkpoint; MQTT publishes `note` retained for witnesses."""

    size: int  # entries in the log
    note: str  # the C2SP signed note, as /api/audit/checkpoint serves it


@dataclass(frozen=True)
class OwnerNotice:
    """Something every owner must be told: a request waiting, an override, a missed follow-up.

    Carries a summary for the dashboard and MQTT, never footage.
    """

    kind: str  # request_received | request_expired | override | follow_up_missed
    subject: str  # the request or override id
    body: dict[str, object]


class Subscriber(Generic[E]):
    """One subscriber's bounded queue; use it as a context manager to unsubscribe."""

    def __init__(self, bus: Bus, maxsize: int, types: tuple[type, ...] | None) -> None:
        self._bus = bus
        self._types = types
        self.queue: asyncio.Queue[E] = asyncio.Queue(maxsize)
        self.dropped = 0

    def _offer(self, event: object) -> None:
        if self._types is not None and not isinstance(event, self._types):
            return
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(cast(E, event))  # of a subscribed type: checked above

    async def get(self) -> E:
        return await self.queue.get()

    def __aiter__(self) -> AsyncIterator[E]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[E]:
        while True:
            yield await self.queue.get()

    def close(self) -> None:
        self._bus._subscribers.discard(self)

    def __enter__(self) -> Subscriber[E]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Bus:
    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._loop = loop or asyncio.get_running_loop()
        self._subscribers: set[Subscriber[Any]] = set()

    @overload
    def subscribe(self, *, maxsize: int = 1000) -> Subscriber[object]: ...

    @overload
    def subscribe(self, *types: type[E], maxsize: int = 1000) -> Subscriber[E]: ...

    def subscribe(self, *types: type[Any], maxsize: int = 1000) -> Subscriber[Any]:
        """Events of `types` (every event when none are given), from now on."""
        sub: Subscriber[Any] = Subscriber(self, maxsize, types or None)
        self._subscribers.add(sub)
        return sub

    def publish(self, event: object) -> None:
        """On the event loop."""
        for sub in list(self._subscribers):
            sub._offer(event)

    def publish_threadsafe(self, event: object) -> None:
        """From any thread; delivered on the loop, in the order of the calls."""
        try:
            self._loop.call_soon_threadsafe(self.publish, event)
        except RuntimeError:
            log.debug("event %s after the loop closed", type(event).__name__)
