"""The full-quality live stream's route: a camera's `LiveStream` as one streamed HTTP answer per viewer.

An answer is fragmented MP4 (`video/mp4; codecs="avc1.…"`, the codecs a browser's
Media Source Extensions need, in the Content-Type) from the next keyframe on:
the init segment, then a fragment per frame, until the viewer leaves, falls
behind for good, the camera reconnects, or its credential stops granting the
camera (checked every LIVE_RECHECK_S seconds, as for the MJPEG view). It is
footage: household only, and a member only for their cameras; to anyone else
the camera does not exist. A plain GET, not a WebSocket, so another site's
page can neither read it (no CORS) nor needs an Origin check to be refused.
"""

from __future__ import annotations

import asyncio
import logging
import socket

from aiohttp import web

from camhub.auth import household_only, require_camera
from camhub.errors import NotFound
from camhub.http.apidoc import error_answer
from camhub.http.cameras import CAMERAS, LIVE_RECHECK_S, NAME, still_allowed
from camhub.http.live_mp4 import LiveStream, LiveUnavailable, Viewer
from camhub.http.routes import Routes

log = logging.getLogger(__name__)

LIVE_STREAMS: web.AppKey[dict[str, LiveStream]] = web.AppKey("live_streams")
# Seconds a new viewer waits for the camera's next keyframe (a GOP, or a connection being made).
START_TIMEOUT = 10.0
# The kernel's send buffer for a viewer's socket: a slow viewer then shows as a backlog in its bounded
# queue (and is moved on to the next keyframe) instead of seconds of video waiting in the kernel.
SEND_BUFFER = 256 << 10

LIVE_MP4_OP = {
    "summary": "Full-quality live view: the record input's packets as fragmented MP4, by stream copy",
    "description": "For Media Source Extensions: the Content-Type carries the codecs string "
    '(`video/mp4; codecs="avc1.64001F"`). Starts at the next keyframe, a fragment per frame; nothing is '
    "decoded or encoded for a viewer. Ends when the camera reconnects, the viewer falls behind repeatedly, "
    "or the credential no longer grants the camera.",
    "parameters": [NAME],
    "responses": {
        "200": {"description": "fragmented MP4, streamed", "content": {"video/mp4": {}}},
        "404": error_answer("no camera of that name (or not one this member may see), or it has no record input"),
        "503": error_answer("live_unavailable: too many viewers, no keyframe yet, or a codec not streamed"),
    },
}
ROUTES = Routes("live")


@ROUTES.get("/api/cameras/{name}/live.mp4", LIVE_MP4_OP, household=True)
@household_only
async def live_mp4(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    cameras = request.app[CAMERAS]
    if name not in cameras:
        raise NotFound(f"no camera named {name!r}; known: {', '.join(sorted(cameras)) or 'none'}")
    require_camera(request, name)
    stream = request.app[LIVE_STREAMS].get(name)
    if stream is None:
        raise NotFound(f"camera {name!r} has no input with the role 'record', so no full-quality stream")
    viewer = stream.join(on_too_slow=lambda: _hang_up(request))
    try:
        if viewer.init is None:  # the muxer starts at the camera's next keyframe
            await viewer.wait(START_TIMEOUT)
        if viewer.init is None:
            raise LiveUnavailable(f"camera {name!r} sent no keyframe within {START_TIMEOUT:.0f} s; its status says why")
        init, codec = viewer.init
        response = web.StreamResponse(
            headers={
                "Content-Type": f'video/mp4; codecs="{codec}"',
                "Cache-Control": "no-store",
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)
        if request.method == "HEAD":
            return response
        _limit_send_buffer(request)
        try:
            await _send(response, request, viewer, name, init)
        except (ConnectionResetError, asyncio.CancelledError):
            pass  # the viewer left
    finally:
        stream.leave(viewer)
    return response


async def _send(response: web.StreamResponse, request: web.Request, viewer: Viewer, name: str, init: bytes) -> None:
    """The init segment, then fragments as they come, until the viewer's stream ends or its right to it."""
    await response.write(init)
    loop = asyncio.get_running_loop()
    recheck_at = loop.time() + LIVE_RECHECK_S
    while not viewer.ended:
        await viewer.wait(max(0.0, recheck_at - loop.time()))
        if loop.time() >= recheck_at:
            if not await still_allowed(request, name):
                return
            recheck_at = loop.time() + LIVE_RECHECK_S
        data = viewer.take()
        if data:
            await response.write(data)


def _hang_up(request: web.Request) -> None:
    """Drop a viewer that fell behind for good, without waiting for its socket to drain."""
    if request.transport is not None:
        request.transport.abort()


def _limit_send_buffer(request: web.Request) -> None:
    sock = request.transport.get_extra_info("socket") if request.transport is not None else None
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
        except OSError:
            pass  # the kernel's default then; the queue is still bounded
