"""Testing a stream before a camera is adopted: open it, decode one frame, or name what failed.

`check_stream` reads a URL the way the hub would record it: the source
integration that claims the URL (through the registry, as the config does)
opens it with the owner's credentials, and packets are read until one
decodes to a picture. It answers the stream's `StreamFacts`, or raises
`StreamCheckFailed` with one of `CODES` and a message that says what failed
and what to try, with every password masked (docs/discovery.md lists them).

Order of operations, all within `timeout` seconds:
1. the registry picks the integration (none: `unsupported_url`);
2. for a network URL, the host is resolved and its port connected to and
   closed, on the event loop: FFmpeg reports a failed name lookup and a
   missing route alike as EIO, and its lookup cannot be interrupted;
3. the source is opened and read in a daemon thread of this check, its
   progress (opened, packets, undecodable packets) kept for step 4;
4. at the deadline the check answers at once from that progress, and tells
   the thread to stop. The thread ends within the source's own timeouts: the
   input's `timeout` is this check's, so each blocking FFmpeg call ends by it.

"Unsupported codec" means what the recorder cannot record: it copies H.264
and H.265 into MP4 and decodes anything else to re-encode it, and motion
decodes every stream, so a video codec is supported when this hub's FFmpeg
decodes it (docs/decisions.md, 2026-11-30).
"""

from __future__ import annotations

import asyncio
import errno
import socket
import threading
import urllib.error
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal, get_args
from urllib.parse import quote, urlsplit

import av
from av.codec.codec import UnknownCodecError
from pydantic import ValidationError

from camhub.capture.media import NoVideoStream, Source, UndecodableVideo
from camhub.capture.reader import MAX_DECODE_ERRORS
from camhub.config import InputConfig
from camhub.errors import CameraAnswered, ConfigError, HubError, SourceError
from camhub.redact import redact, redact_url
from camhub.registry import Registry

CheckCode = Literal["unreachable", "auth_failed", "no_video", "unsupported_codec", "timeout", "unsupported_url"]
CODES: tuple[CheckCode, ...] = get_args(CheckCode)
# Ports of the schemes whose host is tried before FFmpeg opens the stream; other schemes go straight to step 3.
DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322, "http": 80, "https": 443}
MAX_INPUT_TIMEOUT = 120.0  # the most InputConfig.timeout allows
# What a decoder raises for a stream in its codec that it does not support (a profile, a feature, hardware only).
_BEYOND_DECODER = (
    av.error.PatchWelcomeError,
    av.error.NotImplementedError,
    av.error.ExperimentalError,
    av.error.DecoderNotFoundError,
)
_UNREACHABLE_ERRNOS = {errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN, errno.ECONNRESET}


@dataclass(frozen=True, slots=True)
class StreamFacts:
    """What a checked stream is, from its first decoded frame."""

    integration: str  # the domain of the source integration that read it
    codec: str  # FFmpeg's name: h264, hevc, mjpeg
    width: int
    height: int
    fps: float | None  # nominal frames per second, when the stream says


class StreamCheckFailed(HubError):
    """A stream failed its check; `code` (one of CODES) is also the API's error key."""

    status = 422

    def __init__(self, code: CheckCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.key = code


class _Attempt:
    """One check: its URL as shown, its secrets, and how far its reading thread got (written by that thread)."""

    def __init__(self, url: str, password: str | None, timeout: float, with_credentials: bool) -> None:
        self.shown = redact_url(url)
        self.secrets = tuple(s for s in (password, quote(password or "", safe="")) if s)
        self.timeout = timeout
        self.with_credentials = with_credentials
        self.opened: tuple[str, int, int] | None = None  # codec, width, height
        self.packets = 0
        self.undecodable = 0  # packets the decoder refused
        self.beyond_decoder = False  # and one of them for a feature it does not support

    def failed(self, code: CheckCode, reason: str) -> StreamCheckFailed:
        return StreamCheckFailed(code, redact(f"{self.shown}: {reason}", self.secrets))

    def late(self) -> StreamCheckFailed:
        """The deadline passed: named by how far the reading got."""
        seconds = f"{self.timeout:g} s"
        if self.opened is None:
            return self.failed(
                "timeout",
                f"the camera accepted the connection but did not start the stream within {seconds}; "
                "check the path, or try again with a longer timeout",
            )
        if self.packets == 0:
            return self.failed("no_video", f"the stream opened ({self._what}) but sent no video within {seconds}")
        if self.undecodable:
            return self.undecoded()
        return self.failed(
            "no_video",
            f"{self.packets} packets of {self._what} arrived but no complete picture within {seconds}; a camera "
            "whose keyframes are further apart than that needs a shorter keyframe interval or a longer timeout",
        )

    def no_decoder(self) -> StreamCheckFailed:
        return self.failed(
            "unsupported_codec", "the video is in a codec this hub cannot decode; set the camera to H.264 or H.265"
        )

    def undecoded(self) -> StreamCheckFailed:
        """Packets arrived and none decoded: a codec feature this FFmpeg lacks, or damaged data."""
        what = f"{self.packets} packets of {self._what} arrived and none could be decoded"
        if self.beyond_decoder:
            return self.failed(
                "unsupported_codec",
                f"{what}: this hub's decoder does not support this kind of {self._codec}; set the camera to "
                "H.264 or H.265 at its main profile",
            )
        return self.failed("no_video", f"{what}: the stream is damaged, or not the {self._codec} it says it is")

    @property
    def _codec(self) -> str:
        return self.opened[0] if self.opened else "video"

    @property
    def _what(self) -> str:
        codec, width, height = self.opened or ("video", 0, 0)
        return f"{codec} {width}x{height}"

    def named(self, exc: BaseException) -> StreamCheckFailed:
        """The code and the message for what the source raised, by its cause where the source kept one."""
        if isinstance(exc, StreamCheckFailed):
            return exc  # named by the reading thread
        for cause in _chain(exc):
            if (
                isinstance(cause, (av.error.HTTPUnauthorizedError, av.error.HTTPForbiddenError))
                or (isinstance(cause, urllib.error.HTTPError) and cause.code in (401, 403))
                or (isinstance(cause, CameraAnswered) and cause.answered in (401, 403))
            ):
                if not self.with_credentials:
                    return self.failed("auth_failed", "the camera asks for a username and password; give them")
                return self.failed(
                    "auth_failed",
                    "the camera refused these credentials; check the username and password (some cameras lock "
                    "an account after several failures)",
                )
            if (
                isinstance(cause, av.error.HTTPNotFoundError)
                or (isinstance(cause, urllib.error.HTTPError) and cause.code == 404)
                or (isinstance(cause, CameraAnswered) and cause.answered == 404)
            ):
                return self.failed("no_video", "the camera has no stream at that path (404); check the path in the URL")
            if isinstance(cause, (UndecodableVideo, UnknownCodecError, av.error.DecoderNotFoundError)):
                return self.no_decoder()
            if isinstance(cause, NoVideoStream):
                return self.failed(
                    "no_video", "the stream holds no video (audio or data only); choose the camera's video stream"
                )
            if isinstance(cause, (av.ExitError, TimeoutError)):
                return self.late()  # FFmpeg's own timeout, the check's: named by how far the reading got
            if isinstance(cause, av.error.MemoryError):
                return self.failed(
                    "no_video", "the stream sent a packet larger than the hub reads; it is not a camera stream"
                )
            if isinstance(cause, av.InvalidDataError):
                return self.failed("no_video", "what the address sends is not a video stream the hub can read")
            if isinstance(cause, OSError) and cause.errno in _UNREACHABLE_ERRNOS:
                return self.failed(
                    "unreachable", f"{cause.strerror or cause}; check the address and that the camera is on"
                )
        said = str(exc) if isinstance(exc, SourceError) else f"{type(exc).__name__}: {exc}"
        return self.failed("no_video", f"the stream could not be read: {said}")


async def check_stream(
    registry: Registry, url: str, username: str | None, password: str | None, timeout: float = 10.0
) -> StreamFacts:
    """Open `url` with these credentials, decode one frame within `timeout` seconds, and say what it is."""
    if timeout <= 0:
        raise ValueError(f"timeout must be positive seconds, got {timeout}")
    deadline = asyncio.get_running_loop().time() + timeout
    attempt = _Attempt(url, password, timeout, with_credentials=bool(username or password))
    try:
        config = InputConfig(url=url, username=username, password=password, timeout=min(timeout, MAX_INPUT_TIMEOUT))
        integration = registry.source_integration(config)
        source = integration.build(config)
    except ValidationError:
        raise attempt.failed("unsupported_url", "not a camera URL; give rtsp://host/path or http://host/path") from None
    except ConfigError as exc:
        raise attempt.failed("unsupported_url", f"{exc}; give rtsp://host/path or http://host/path") from None
    await _reach(url, deadline, attempt)
    return await _read_in_thread(integration.domain, source, deadline, attempt)


async def _reach(url: str, deadline: float, attempt: _Attempt) -> None:
    """Resolve the URL's host and connect to its port once; a file or an unknown scheme is left to FFmpeg."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port or DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError:
        raise attempt.failed("unsupported_url", "the URL's port is not a number from 1 to 65535") from None
    if not host or port is None:
        return
    where = f"{host}:{port}"
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout_at(deadline):
            await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise attempt.failed(
            "unreachable", f"the host name {host!r} does not resolve; check it, or give the camera's IP address"
        ) from None
    except TimeoutError:
        raise attempt.failed(
            "unreachable", f"looking up {host!r} took too long; check the network's DNS, or give an IP address"
        ) from None
    try:
        async with asyncio.timeout_at(deadline):
            _, writer = await asyncio.open_connection(host, port)
    except TimeoutError:
        raise attempt.failed(
            "unreachable",
            f"{where} did not accept a connection in time: the camera may be off or on another network, "
            "or a firewall drops the connection",
        ) from None
    except OSError as exc:
        reason = "nothing listens on that port" if exc.errno == errno.ECONNREFUSED else (exc.strerror or str(exc))
        raise attempt.failed(
            "unreachable", f"cannot connect to {where}: {reason}; check the address, the port and that the camera is on"
        ) from None
    writer.close()
    try:
        await writer.wait_closed()
    except OSError:
        pass  # the camera reset a connection that sent nothing; it was reached


async def _read_in_thread(domain: str, source: Source, deadline: float, attempt: _Attempt) -> StreamFacts:
    loop = asyncio.get_running_loop()
    done: asyncio.Future[StreamFacts] = loop.create_future()
    stop = threading.Event()

    def settle(outcome: StreamFacts | BaseException) -> None:
        if done.done():
            return  # the check answered at its deadline already
        if isinstance(outcome, BaseException):
            done.set_exception(outcome)
        else:
            done.set_result(outcome)

    def target() -> None:
        outcome: StreamFacts | BaseException
        try:
            outcome = _first_frame(domain, source, attempt, stop)
        except BaseException as exc:  # handed to the check, which names it
            outcome = exc
        try:
            loop.call_soon_threadsafe(settle, outcome)
        except RuntimeError:
            pass  # the loop closed while this thread finished a slow read; nobody waits

    threading.Thread(target=target, name=f"stream-check:{domain}", daemon=True).start()
    try:
        async with asyncio.timeout_at(deadline):
            return await asyncio.shield(done)
    except Exception as exc:  # a broken integration's error is named too, not raised at the caller
        if not done.done():
            raise attempt.late() from None
        raise attempt.named(exc) from None
    finally:
        stop.set()
        done.cancel()  # a result the thread delivers later is dropped, not left unretrieved


def _first_frame(domain: str, source: Source, attempt: _Attempt, stop: threading.Event) -> StreamFacts:
    """Blocking: open the source, read until a packet decodes to a frame, close it."""
    stream = source.open()
    try:
        info = stream.info
        attempt.opened = (info.codec, info.width, info.height)
        bad_run = 0
        for packet in stream.packets():
            if stop.is_set():
                raise TimeoutError("the check's deadline passed")
            attempt.packets += 1
            try:
                frames = stream.decode(packet)
            except SourceError as exc:
                attempt.undecodable += 1
                attempt.beyond_decoder |= any(isinstance(cause, _BEYOND_DECODER) for cause in _chain(exc))
                bad_run += 1
                if bad_run >= MAX_DECODE_ERRORS:
                    raise attempt.undecoded() from None
                continue
            bad_run = 0
            if frames:
                return StreamFacts(domain, info.codec, frames[0].width, frames[0].height, info.fps)
        raise SourceError("the stream ended before a frame")
    finally:
        stream.close()


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and what it was raised from or during: sources raise SourceError `from None`."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        if isinstance(current, urllib.error.URLError) and isinstance(current.reason, BaseException):
            yield current.reason
        current = current.__cause__ or current.__context__
