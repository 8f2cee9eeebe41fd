"""Any live stream FFmpeg can demux: H.264 or H.265 elementary streams or MPEG-TS over HTTP."""

from __future__ import annotations

from pydantic import Field

from camhub.capture.media import LIVE_PROBE, ContainerStream, with_credentials
from camhub.config import InputConfig
from camhub.redact import redact_url
from camhub.registry import Options, SetupContext

_FORMAT_BY_SUFFIX = {".h264": "h264", ".264": "h264", ".h265": "hevc", ".hevc": "hevc", ".ts": "mpegts"}


class StreamOptions(Options):
    format: str | None = Field(
        default=None, description="FFmpeg demuxer to force, e.g. h264; else from the URL's suffix, else probed"
    )


class StreamSource:
    def __init__(self, config: InputConfig, options: StreamOptions | None = None) -> None:
        self._url = with_credentials(config.url, config.username, config.password)
        self._timeout = config.timeout
        path = config.url.split("?", 1)[0].lower()
        forced = (options or StreamOptions()).format
        self._format = forced or next((f for s, f in _FORMAT_BY_SUFFIX.items() if path.endswith(s)), None)
        self.description = redact_url(config.url)

    def open(self) -> ContainerStream:
        return ContainerStream(self._url, format=self._format, options=LIVE_PROBE, timeout=self._timeout)


def setup(ctx: SetupContext) -> None:
    ctx.register_source(StreamSource, options=StreamOptions)
