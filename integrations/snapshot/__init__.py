"""Cameras that only serve a still JPEG over HTTP, polled at a fixed interval.

Each poll is one MJPEG packet with no demuxer stream behind it, so the
manifest declares no stream_copy and clips are re-encoded as H.264.
"""

from __future__ import annotations

import base64
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from urllib.parse import unquote, urlsplit, urlunsplit

import av
from av.video.codeccontext import VideoCodecContext
from av.video.stream import VideoStream
from pydantic import Field

from camhub.capture.media import Packet, StreamInfo, describe_av_error
from camhub.config import InputConfig
from camhub.errors import SourceError
from camhub.redact import redact_url
from camhub.registry import Options, SetupContext

MAX_SNAPSHOT_BYTES = 20 * 1024 * 1024


class SnapshotOptions(Options):
    poll_interval: float = Field(default=1.0, gt=0, le=3600, description="seconds between polls")


class SnapshotStream:
    """Each poll gives one MJPEG packet; the decoder is PyAV's mjpeg codec."""

    copy_template: VideoStream | None = None  # a still has no demuxer stream to copy from

    def __init__(self, source: SnapshotSource) -> None:
        self._source = source
        self._decoder: VideoCodecContext = av.CodecContext.create("mjpeg", "r")
        first = self._fetch()
        frames = self.decode(first)
        if not frames:
            raise SourceError(f"the snapshot is not a JPEG the hub can decode ({source.description})")
        self.info = StreamInfo("mjpeg", frames[0].width, frames[0].height, 1.0 / source.interval)
        self._first: Packet | None = first

    def _fetch(self) -> Packet:
        source = self._source
        request = urllib.request.Request(source.url, headers=source.headers)
        try:
            with urllib.request.urlopen(request, timeout=source.timeout) as response:
                body = response.read(MAX_SNAPSHOT_BYTES + 1)
        except urllib.error.HTTPError as exc:
            hint = ": check the username and password" if exc.code == 401 else ""
            raise SourceError(f"HTTP {exc.code} {exc.reason}{hint} ({source.description})") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise SourceError(
                describe_av_error(reason if isinstance(reason, BaseException) else exc, source.url)
            ) from None
        if len(body) > MAX_SNAPSHOT_BYTES:
            raise SourceError(f"snapshot larger than {MAX_SNAPSHOT_BYTES} bytes ({source.description})")
        if not body:
            raise SourceError(f"empty snapshot ({source.description})")
        packet = av.Packet(body)
        return Packet(packet, time.time(), True)

    def packets(self) -> Iterator[Packet]:
        if self._first is not None:
            first, self._first = self._first, None
            yield first
        next_at = time.monotonic()
        while True:
            next_at += self._source.interval
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                next_at = time.monotonic()
            yield self._fetch()

    def decode(self, packet: Packet) -> list[av.VideoFrame]:
        try:
            return list(self._decoder.decode(packet.packet))
        except av.FFmpegError as exc:
            raise SourceError(describe_av_error(exc, self._source.url)) from None

    def close(self) -> None:
        pass


class SnapshotSource:
    def __init__(self, config: InputConfig, options: SnapshotOptions | None = None) -> None:
        parts = urlsplit(config.url)
        username = config.username if config.username is not None else (unquote(parts.username or "") or None)
        password = config.password if config.password is not None else (unquote(parts.password or "") or None)
        self.url = urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1]))
        self.headers = {"User-Agent": "camhub"}
        if username is not None:
            token = base64.b64encode(f"{username}:{password or ''}".encode()).decode()
            self.headers["Authorization"] = f"Basic {token}"
        self.interval = (options or SnapshotOptions()).poll_interval
        self.timeout = config.timeout
        self.description = redact_url(config.url)

    def open(self) -> SnapshotStream:
        return SnapshotStream(self)


def setup(ctx: SetupContext) -> None:
    ctx.register_source(SnapshotSource, options=SnapshotOptions)
