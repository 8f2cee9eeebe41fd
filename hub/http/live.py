"""Live pictures made from frames the detect input has already decoded.

A `LiveView` is one of its camera's frame consumers, given to the camera at
construction: the detect input's reader thread hands it each analysed frame.
No viewer causes extra decoding: the newest frame is turned into a JPEG at
most once, in a worker thread, and every viewer shares it. Viewers wait for
a newer frame through futures the reader thread wakes (through the loop)
only when somebody is waiting.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Protocol

from camhub.capture.media import Frame
from camhub.jpeg import encode_jpeg

JPEG_QUALITY = 80


class Pictures(Protocol):
    """A camera's live pictures as the web app serves them: a `LiveView`, or one asked of a detect process."""

    async def jpeg(self) -> tuple[int, bytes] | None: ...

    async def next_jpeg(self, after_seq: int, timeout: float) -> tuple[int, bytes] | None: ...


class LiveView:
    """One camera's newest analysed frame, as a JPEG shared by every viewer."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._latest: Frame | None = None  # set by the reader thread; read on the loop
        self._lock = asyncio.Lock()
        self._cache: tuple[int, bytes] | None = None
        self._waiters: set[asyncio.Future[None]] = set()
        self._waiters_lock = threading.Lock()

    def on_frame(self, frame: Frame) -> None:
        """On the reader thread, for each analysed frame: keep it, and wake whoever waits for it."""
        self._latest = frame  # before looking for waiters, so a viewer that checks after sees it
        if not self._waiters:
            return
        with self._waiters_lock:
            waiters, self._waiters = self._waiters, set()
        try:
            for waiter in waiters:
                self._loop.call_soon_threadsafe(_wake, waiter)
        except RuntimeError:
            pass  # the loop is closed: the viewers are gone

    def on_lost(self) -> None:
        """The camera's last picture stays on show until a new connection brings a newer one."""

    async def jpeg(self) -> tuple[int, bytes] | None:
        """The newest frame as (seq, JPEG), or None before the first frame."""
        frame = self._latest
        if frame is None:
            return None
        async with self._lock:
            if self._cache is None or self._cache[0] != frame.seq:
                self._cache = (frame.seq, await asyncio.to_thread(encode_jpeg, frame.frame, JPEG_QUALITY))
            return self._cache

    async def next_jpeg(self, after_seq: int, timeout: float) -> tuple[int, bytes] | None:
        """Wait up to `timeout` seconds for a frame newer than `after_seq`."""
        latest = self._latest
        if latest is None or latest.seq <= after_seq:
            waiter = self._loop.create_future()
            with self._waiters_lock:
                self._waiters.add(waiter)
            latest = self._latest
            if latest is None or latest.seq <= after_seq:
                try:
                    await asyncio.wait_for(waiter, timeout)
                except TimeoutError:
                    return None
                finally:
                    with self._waiters_lock:
                        self._waiters.discard(waiter)
        return await self.jpeg()


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
