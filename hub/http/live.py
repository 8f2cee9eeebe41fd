"""Live pictures made from frames the detect input has already decoded.

No viewer causes extra decoding: a camera's newest analysed frame is turned
into a JPEG at most once, in a worker thread, and every viewer shares it.
Viewers wait for a newer frame through an event the reader thread sets only
when somebody is waiting.
"""

from __future__ import annotations

import asyncio
import threading

import cv2

from camhub.capture.camera import CameraPipeline
from camhub.capture.media import Frame

JPEG_QUALITY = 80


def encode_jpeg(frame: Frame) -> bytes:
    image = frame.frame.to_ndarray(format="bgr24")
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()


class LiveView:
    def __init__(self, camera: CameraPipeline, loop: asyncio.AbstractEventLoop) -> None:
        self.camera = camera
        self._loop = loop
        self._lock = asyncio.Lock()
        self._cache: tuple[int, bytes] | None = None
        self._waiters: set[asyncio.Future[None]] = set()
        self._waiters_lock = threading.Lock()
        camera.detect_reader.frame_listeners.append(self._on_frame)

    def _on_frame(self, frame: Frame) -> None:
        """Runs in the reader thread for each analysed frame."""
        if not self._waiters:
            return
        with self._waiters_lock:
            waiters, self._waiters = self._waiters, set()
        try:
            for waiter in waiters:
                self._loop.call_soon_threadsafe(_wake, waiter)
        except RuntimeError:
            pass  # the loop is closed: the viewers are gone

    async def jpeg(self) -> tuple[int, bytes] | None:
        """The newest frame as (seq, JPEG), or None before the first frame."""
        frame = self.camera.latest_frame
        if frame is None:
            return None
        async with self._lock:
            if self._cache is None or self._cache[0] != frame.seq:
                self._cache = (frame.seq, await asyncio.to_thread(encode_jpeg, frame))
            return self._cache

    async def next_jpeg(self, after_seq: int, timeout: float) -> tuple[int, bytes] | None:
        """Wait up to `timeout` seconds for a frame newer than `after_seq`."""
        latest = self.camera.latest_frame
        if latest is None or latest.seq <= after_seq:
            waiter = self._loop.create_future()
            with self._waiters_lock:
                self._waiters.add(waiter)
            latest = self.camera.latest_frame
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
