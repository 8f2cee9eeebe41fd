"""The event bus: small frozen dataclasses, published once, delivered to every subscriber.

Publishers on the event loop call `publish`; reader and worker threads call
`publish_threadsafe`. Each subscriber has a bounded queue; one that falls
behind loses its oldest events and the loss is counted, so a stuck consumer
(a dead MQTT broker) never holds up recording.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from camhub.store.index import ClipRecord

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClipSaved:
    clip: ClipRecord


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
    body: dict[str, Any]


class Subscriber:
    def __init__(self, bus: Bus, maxsize: int, types: tuple[type, ...] | None) -> None:
        self._bus = bus
        self._types = types
        self.queue: asyncio.Queue[Any] = asyncio.Queue(maxsize)
        self.dropped = 0

    def _offer(self, event: Any) -> None:
        if self._types is not None and not isinstance(event, self._types):
            return
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(event)

    async def get(self) -> Any:
        return await self.queue.get()

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Any]:
        while True:
            yield await self.queue.get()

    def close(self) -> None:
        self._bus._subscribers.discard(self)

    def __enter__(self) -> Subscriber:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Bus:
    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._loop = loop or asyncio.get_running_loop()
        self._subscribers: set[Subscriber] = set()

    def subscribe(self, *types: type, maxsize: int = 1000) -> Subscriber:
        sub = Subscriber(self, maxsize, types or None)
        self._subscribers.add(sub)
        return sub

    def publish(self, event: Any) -> None:
        for sub in list(self._subscribers):
            sub._offer(event)

    def publish_threadsafe(self, event: Any) -> None:
        try:
            self._loop.call_soon_threadsafe(self.publish, event)
        except RuntimeError:
            log.debug("event %s after the loop closed", type(event).__name__)
