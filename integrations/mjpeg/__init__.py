"""HTTP MJPEG cameras (multipart/x-mixed-replace), read by FFmpeg's mpjpeg demuxer.

The manifest declares no stream_copy: browsers cannot play MJPEG in MP4, so
clips of these cameras are re-encoded as H.264.
"""

from __future__ import annotations

from camhub.capture.media import LIVE_PROBE, ContainerStream, with_credentials
from camhub.config import InputConfig
from camhub.discovery.describe import generic_describer
from camhub.redact import redact_url
from camhub.registry import SetupContext


class MjpegSource:
    def __init__(self, config: InputConfig) -> None:
        self._url = with_credentials(config.url, config.username, config.password)
        self._timeout = config.timeout
        self.description = redact_url(config.url)

    def open(self) -> ContainerStream:
        return ContainerStream(self._url, format="mpjpeg", options=LIVE_PROBE, timeout=self._timeout)


def setup(ctx: SetupContext) -> None:
    ctx.register_source(MjpegSource)
    # Web servers announce _http._tcp; one whose TXT names an MJPEG path ("mjpeg=/video") is a camera.
    ctx.register_zeroconf(generic_describer(ctx.manifest, path_keys=("mjpeg",), sub_keys=()))
