"""Bounded hand-off from a reader thread to consumers on the event loop.

A reader thread `publish`es each packet or frame; every subscriber has its
own bounded buffer. A slow subscriber loses its oldest items (and counts
them) instead of holding up the reader or the other subscribers, and memory
stays bounded whatever the consumers do.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import AsyncIterator
from typing import Generic, TypeVar

T = TypeVar("T")


class Subscription(Generic[T]):
    def __init__(self, fanout: Fanout[T], loop: asyncio.AbstractEventLoop, maxsize: int) -> None:
        self._fanout = fanout
        self._loop = loop
        self._items: deque[T] = deque()
        self._maxsize = maxsize
        self._lock = threading.Lock()
        self._waiter: asyncio.Future[None] | None = None
        self.dropped = 0

    def _put(self, item: T) -> None:
        """Called from the reader thread."""
        with self._lock:
            if len(self._items) >= self._maxsize:
                self._items.popleft()
                self.dropped += 1
            self._items.append(item)
            waiter = self._waiter
            self._waiter = None
        if waiter is not None:
            try:
                self._loop.call_soon_threadsafe(_wake, waiter)
            except RuntimeError:
                pass  # the loop is closed: the consumer is gone

    async def get(self) -> T:
        while True:
            with self._lock:
                if self._items:
                    return self._items.popleft()
                self._waiter = self._loop.create_future()
                waiter = self._waiter
            await waiter

    def __aiter__(self) -> AsyncIterator[T]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[T]:
        while True:
            yield await self.get()

    def close(self) -> None:
        self._fanout._remove(self)

    def __enter__(self) -> Subscription[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class Fanout(Generic[T]):
    def __init__(self) -> None:
        self._subscribers: tuple[Subscription[T], ...] = ()
        self._lock = threading.Lock()

    def subscribe(self, maxsize: int = 64) -> Subscription[T]:
        """Subscribe from the event loop; use as a context manager to unsubscribe."""
        sub = Subscription(self, asyncio.get_running_loop(), maxsize)
        with self._lock:
            self._subscribers = (*self._subscribers, sub)
        return sub

    def _remove(self, sub: Subscription[T]) -> None:
        with self._lock:
            self._subscribers = tuple(s for s in self._subscribers if s is not sub)

    def publish(self, item: T) -> None:
        for sub in self._subscribers:  # a tuple swapped whole, so no lock needed to read it
            sub._put(item)
