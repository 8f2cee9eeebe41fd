"""RTSP cameras (H.264 and H.265), read by PyAV over TCP."""

from __future__ import annotations

from camhub.capture.media import LIVE_PROBE, ContainerStream, with_credentials
from camhub.config import InputConfig
from camhub.discovery.describe import MAC_KEYS, finding_from, first, generic_describer, stream_url
from camhub.discovery.model import Finding, ServiceRecord, Stream
from camhub.redact import redact_url
from camhub.registry import SetupContext

AXIS = "_axis-video._tcp.local."
# Axis (and cameras copying it) announce their web server; the video is RTSP on the standard port.
AXIS_RTSP_PORT = 554
AXIS_PATH = "/axis-media/media.amp"


class RtspSource:
    def __init__(self, config: InputConfig) -> None:
        self._url = with_credentials(config.url, config.username, config.password)
        self._timeout = config.timeout
        self.description = redact_url(config.url)

    def open(self) -> ContainerStream:
        options = {"rtsp_transport": "tcp", "allowed_media_types": "video", **LIVE_PROBE}
        # FFmpeg's RTSP demuxer times out its own socket reads: no Python callback per read.
        return ContainerStream(
            self._url, format="rtsp", options=options, timeout=self._timeout, socket_timeout="timeout"
        )


def setup(ctx: SetupContext) -> None:
    ctx.register_source(RtspSource)
    plain = generic_describer(ctx.manifest)

    def describe(record: ServiceRecord) -> Finding | None:
        if record.type != AXIS:
            return plain(record)
        main = Stream(stream_url("rtsp", record.host, AXIS_RTSP_PORT, AXIS_PATH), "main")
        sub = Stream(stream_url("rtsp", record.host, AXIS_RTSP_PORT, AXIS_PATH + "?resolution=640x360"), "sub")
        return finding_from(
            record, ctx.manifest.domain, (main, sub), port=AXIS_RTSP_PORT, mac=first(record.properties, MAC_KEYS)
        )

    ctx.register_zeroconf(describe)
