"""RTSP cameras (H.264 and H.265), read by PyAV over TCP."""

from __future__ import annotations

from camhub.capture.media import LIVE_PROBE, ContainerStream, with_credentials
from camhub.config import InputConfig
from camhub.redact import redact_url
from camhub.registry import SetupContext


class RtspSource:
    def __init__(self, config: InputConfig) -> None:
        self._url = with_credentials(config.url, config.username, config.password)
        self._timeout = config.timeout
        self.description = redact_url(config.url)

    def open(self) -> ContainerStream:
        options = {"rtsp_transport": "tcp", "allowed_media_types": "video", **LIVE_PROBE}
        return ContainerStream(self._url, format="rtsp", options=options, timeout=self._timeout)


def setup(ctx: SetupContext) -> None:
    ctx.register_source(RtspSource)
