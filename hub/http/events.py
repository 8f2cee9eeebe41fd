"""Live updates for the dashboard: `GET /api/events`, server-sent events from the hub's bus.

What goes out, and to whom (never footage, never a picture, only names, times and ids):

| SSE event | from the bus | who receives it |
|---|---|---|
| `motion_started`, `motion_ended` | `MotionStarted`, `MotionEnded` | owners; members allowed the camera |
| `clip_saved` | `ClipSaved` | owners; members allowed the camera |
| `camera_state` | `CameraStateChanged` | owners; members allowed the camera |
| `request` | `OwnerNotice` of a request (received, expired) | owners |

Each stream is one bus subscriber with a bounded queue (`QUEUE_SIZE`). A
client that falls that far behind has lost events, so its stream is ended
rather than patched (the browser's EventSource reconnects and the page
reloads what it shows); a write that cannot finish within `WRITE_TIMEOUT_S`
ends it too, so a reader that stopped reading never holds a slot. At most
`MAX_STREAMS` streams are open at once (503 `too_many_streams` beyond).
Every `HEARTBEAT_S` the credential is checked again (a logout, a revoked
token or a member's camera taken away applies to an open stream within that
time) and a comment line follows, so proxies and browsers see the connection
alive, and a client that has seen it knows the check is done.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from aiohttp import web

from camhub.auth import HOUSEHOLD, IDENTITY, household_only, recheck
from camhub.auth.identity import Identity
from camhub.bus import OwnerNotice, Subscriber
from camhub.capture.camera import CameraStateChanged
from camhub.errors import HubError
from camhub.http.apidoc import error_answer
from camhub.http.routes import Routes
from camhub.motion.detector import MotionEnded, MotionStarted
from camhub.privacy.routes import PRIVACY
from camhub.recording.finisher import ClipSaved

log = logging.getLogger(__name__)

MAX_STREAMS = 32  # event streams open at once, across every client
QUEUE_SIZE = 256  # events waiting for one stream; a stream this far behind is ended
WRITE_TIMEOUT_S = 10.0  # a write to one stream that takes longer ends it
HEARTBEAT_S = 5.0  # seconds between checks that the stream's credential still holds, each followed by a comment
RETRY_MS = 3000  # how long the browser waits before reconnecting a stream that ended
REQUEST_NOTICES = ("request_received", "request_expired")  # the OwnerNotice kinds owners are streamed

FORWARDED = (MotionStarted, MotionEnded, ClipSaved, CameraStateChanged, OwnerNotice)


class TooManyStreams(HubError):
    key = "too_many_streams"
    status = 503


class EventsUnavailable(HubError):
    """A hub built without an event bus (an app in a unit test) has no stream to give."""

    key = "events_unavailable"
    status = 503


class EventStreams:
    """The open streams of one app, to keep them under `MAX_STREAMS`."""

    def __init__(self) -> None:
        self.open = 0
        self.ended_slow = 0  # streams ended because their client fell behind or stopped reading


STREAMS = web.AppKey("event_streams", EventStreams)


def sse_event(name: str, data: dict[str, Any]) -> bytes:
    """One server-sent event; JSON never holds a raw newline, so `data` is one line."""
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def outgoing(event: object, identity: Identity) -> bytes | None:
    """The SSE form of a bus event, if `identity` may receive it; None otherwise."""
    if isinstance(event, OwnerNotice):
        if identity.role != "owner" or event.kind not in REQUEST_NOTICES:
            return None
        return sse_event("request", {"kind": event.kind, "id": event.subject})
    camera, name, data = _camera_event(event)
    if camera is None or not identity.may_view(camera):
        return None
    return sse_event(name, {"camera": camera, **data})


def _camera_event(event: object) -> tuple[str | None, str, dict[str, Any]]:
    if isinstance(event, MotionStarted):
        return event.camera, "motion_started", {"time": event.time, "zones": list(event.zones)}
    if isinstance(event, MotionEnded):
        data = {"start": event.start, "end": event.end, "peak_score": event.peak_score, "zones": list(event.zones)}
        return event.camera, "motion_ended", data
    if isinstance(event, ClipSaved):
        clip = event.clip
        data = {"id": clip.id, "start": clip.start_time, "end": clip.end_time, "zones": list(clip.zones)}
        return clip.camera, "clip_saved", data
    if isinstance(event, CameraStateChanged):
        return event.camera, "camera_state", {"state": event.state, "time": event.time}
    return None, "", {}


EVENTS_OP = {
    "summary": "Live updates as server-sent events: motion, new clips, camera states; requests for owners",
    "description": (
        "text/event-stream. Events: motion_started {camera, time, zones}, motion_ended {camera, start, end, "
        "peak_score, zones}, clip_saved {camera, id, start, end, zones}, camera_state {camera, state, time}, "
        "and for owners request {kind: request_received | request_expired, id}. A member receives only the "
        f"events of the cameras they may see. No footage. A comment line every {HEARTBEAT_S:g} s; a stream "
        f"that falls {QUEUE_SIZE} events behind is ended (reconnect and reload); at most {MAX_STREAMS} "
        "streams at once."
    ),
    "responses": {
        "200": {"description": "the event stream", "content": {"text/event-stream": {"schema": {"type": "string"}}}},
        "503": error_answer(
            f"too_many_streams: {MAX_STREAMS} event streams are open; events_unavailable: the hub has no event bus"
        ),
    },
}
ROUTES = Routes("events")


@ROUTES.get("/api/events", EVENTS_OP, household=True)
@household_only
async def events(request: web.Request) -> web.StreamResponse:
    streams = request.app[STREAMS]
    bus = request.app[PRIVACY].ctx.bus
    if bus is None:
        raise EventsUnavailable("this hub has no event bus, so no live updates")
    if streams.open >= MAX_STREAMS:
        raise TooManyStreams(f"{MAX_STREAMS} event streams are open; close one (another tab?) and retry")
    streams.open += 1
    try:
        with bus.subscribe(*FORWARDED, maxsize=QUEUE_SIZE) as subscriber:
            return await _stream(request, subscriber, streams)
    finally:
        streams.open -= 1


async def _stream(request: web.Request, subscriber: Subscriber[Any], streams: EventStreams) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )
    await response.prepare(request)
    loop = asyncio.get_running_loop()
    recheck_at = loop.time() + HEARTBEAT_S
    try:
        await _write(response, f"retry: {RETRY_MS}\n: connected\n\n".encode())
        while True:
            try:
                event = await asyncio.wait_for(subscriber.get(), max(0.0, recheck_at - loop.time()))
            except TimeoutError:
                event = None
            if event is None or loop.time() >= recheck_at:
                # Quiet, or busy for HEARTBEAT_S: check the credential, then say so with a comment line.
                if not await _still_allowed(request):
                    return response
                await _write(response, b": heartbeat\n\n")
                recheck_at = loop.time() + HEARTBEAT_S
            if event is None:
                continue
            if subscriber.dropped:
                streams.ended_slow += 1
                log.info("event stream of %s ended: it fell %d events behind", request.remote, QUEUE_SIZE)
                break
            chunk = outgoing(event, request[IDENTITY])
            if chunk is not None:
                await _write(response, chunk)
    except TimeoutError:
        streams.ended_slow += 1
        log.info("event stream of %s ended: a write took over %g s", request.remote, WRITE_TIMEOUT_S)
    except (ConnectionResetError, asyncio.CancelledError):
        return response
    # A slow client: close the connection, also unblocking a transport stuck on a reader that stopped reading.
    if request.transport is not None:
        request.transport.close()
    return response


async def _write(response: web.StreamResponse, chunk: bytes) -> None:
    await asyncio.wait_for(response.write(chunk), WRITE_TIMEOUT_S)


async def _still_allowed(request: web.Request) -> bool:
    try:
        await recheck(request, *HOUSEHOLD)
    except HubError as exc:
        log.info("event stream ended: %s", exc)
        return False
    return True


def add_event_routes(app: web.Application) -> None:
    """Serve /api/events on `app` (which must have PRIVACY set: the bus is the privacy context's)."""
    app[STREAMS] = EventStreams()
    ROUTES.add_to(app)
