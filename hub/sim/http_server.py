"""HTTP endpoints of the simulated cameras (aiohttp, 127.0.0.1 only).

Per camera:

- `/<camera>/mjpeg`: multipart/x-mixed-replace JPEGs (sub-stream size) at the
  scene's fps, forever;
- `/<camera>/snapshot.jpg`: the JPEG at the current loop position;
- `/<camera>/main.<ext>`, `/<camera>/sub.<ext>` with ext `h264` or `h265`:
  the Annex-B elementary stream, forever, each access unit sent at its time.
- `/cameras.json`: the cameras and their paths.

All cameras share one wall-clock loop start, so "now" is the same scene
moment on every endpoint. A stream client starts at the keyframe at or before
now (sent at once, so a decoder can start), then gets real-time pacing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass

from aiohttp import web

from camhub.sim.render import AccessUnits, JpegFrames, Rendering

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
BOUNDARY = "camhubframe"
_CONTENT_TYPES = {"h264": "video/h264", "h265": "video/h265"}


@dataclass
class _Camera:
    rendering: Rendering
    streams: dict[str, AccessUnits]  # "main" / "sub"
    jpegs: JpegFrames

    @property
    def fps(self) -> int:
        return self.rendering.scene.fps

    @property
    def ext(self) -> str:
        return self.rendering.main.ext


def _load(rendering: Rendering) -> _Camera:
    return _Camera(
        rendering=rendering,
        streams={"main": AccessUnits(rendering.main), "sub": AccessUnits(rendering.sub)},
        jpegs=JpegFrames(rendering.mjpeg, rendering.mjpeg_index),
    )


class SimHttpServer:
    """Serves rendered scenes over HTTP; `port=0` picks a free port."""

    def __init__(self, cameras: Mapping[str, Rendering], port: int = 0, loop_start: float | None = None) -> None:
        self.renderings = dict(cameras)
        self.port = port
        self.loop_start = time.time() if loop_start is None else loop_start
        self._cameras: dict[str, _Camera] = {}
        self._runner: web.AppRunner | None = None
        self._streams: set[asyncio.Task[object]] = set()

    def url(self, camera: str, path: str) -> str:
        """http://127.0.0.1:<port>/<camera>/<path>, e.g. path "mjpeg" or "main.h264"."""
        return f"http://{HOST}:{self.port}/{camera}/{path}"

    async def start(self) -> None:
        if self._runner is not None:
            return
        for name, rendering in self.renderings.items():
            self._cameras[name] = await asyncio.to_thread(_load, rendering)
        app = web.Application()
        app.router.add_get("/cameras.json", self._index)
        app.router.add_get("/{camera}/mjpeg", self._mjpeg)
        app.router.add_get("/{camera}/snapshot.jpg", self._snapshot)
        app.router.add_get(r"/{camera}/{role:main|sub}.{ext:h264|h265}", self._elementary)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, HOST, self.port, reuse_address=True)
        await site.start()
        self._runner = runner
        self.port = int(runner.addresses[0][1])  # the bound port, when 0 asked for a free one
        log.info("simulator HTTP on %s:%d", HOST, self.port)

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is None:
            return
        # Endless stream handlers would hold shutdown up; end them first.
        for task in list(self._streams):
            task.cancel()
        await runner.cleanup()

    async def __aenter__(self) -> SimHttpServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- handlers -----------------------------------------------------------

    def _camera(self, request: web.Request) -> _Camera:
        name = request.match_info["camera"]
        camera = self._cameras.get(name)
        if camera is None:
            raise web.HTTPNotFound(text=f"no simulated camera named {name!r}")
        return camera

    def _frame_now(self, fps: int) -> int:
        """Absolute frame number (not wrapped) of the current loop position."""
        return int((time.time() - self.loop_start) * fps)

    async def _paced(self, fps: int, first: int) -> AsyncIterator[int]:
        """Yield absolute frame numbers from `first`, each no earlier than its time."""
        n = first
        while True:
            delay = self.loop_start + n / fps - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            yield n
            n += 1

    async def _index(self, request: web.Request) -> web.Response:
        body = {
            name: {
                "mjpeg": f"/{name}/mjpeg",
                "snapshot": f"/{name}/snapshot.jpg",
                "main": f"/{name}/main.{cam.ext}",
                "sub": f"/{name}/sub.{cam.ext}",
                "motion_windows": cam.rendering.scene.motion_windows(),
            }
            for name, cam in self._cameras.items()
        }
        return web.json_response({"loop_start": self.loop_start, "cameras": body})

    async def _snapshot(self, request: web.Request) -> web.Response:
        camera = self._camera(request)
        n = self._frame_now(camera.fps) % len(camera.jpegs)
        return web.Response(
            body=camera.jpegs.frame(n), content_type="image/jpeg", headers={"Cache-Control": "no-store"}
        )

    async def _mjpeg(self, request: web.Request) -> web.StreamResponse:
        camera = self._camera(request)
        resp = web.StreamResponse(
            headers={"Content-Type": f"multipart/x-mixed-replace;boundary={BOUNDARY}", "Cache-Control": "no-store"}
        )
        await resp.prepare(request)
        frames = len(camera.jpegs)

        async def send() -> None:
            async for n in self._paced(camera.fps, self._frame_now(camera.fps)):
                jpeg = camera.jpegs.frame(n % frames)
                head = (f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n").encode()
                await resp.write(head + jpeg + b"\r\n")

        await self._stream(send)
        return resp

    async def _elementary(self, request: web.Request) -> web.StreamResponse:
        camera = self._camera(request)
        ext = request.match_info["ext"]
        if ext != camera.ext:
            raise web.HTTPNotFound(text=f"camera {request.match_info['camera']!r} serves .{camera.ext}, not .{ext}")
        units = camera.streams[request.match_info["role"]]
        resp = web.StreamResponse(headers={"Content-Type": _CONTENT_TYPES[ext], "Cache-Control": "no-store"})
        await resp.prepare(request)
        now = self._frame_now(camera.fps)
        pos = now % len(units)
        first = now - (pos - units.keyframe_at_or_before(pos))

        async def send() -> None:
            async for n in self._paced(camera.fps, first):
                await resp.write(units.unit(n % len(units)))

        await self._stream(send)
        return resp

    async def _stream(self, send: Callable[[], Awaitable[None]]) -> None:
        """Run an endless sender until the client leaves or the server stops."""
        task = asyncio.current_task()
        assert task is not None
        self._streams.add(task)
        try:
            await send()
        except (ConnectionError, RuntimeError):
            pass  # the client went away; aiohttp raises these on write
        except asyncio.CancelledError:
            if self._runner is not None:
                raise  # not our shutdown: let aiohttp see its cancellation
        finally:
            self._streams.discard(task)
