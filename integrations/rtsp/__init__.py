"""RTSP cameras (H.264 and H.265) over TCP: read by the hub's own client, or by FFmpeg for what it does not do."""

from __future__ import annotations

import logging

from camhub.capture.media import LIVE_PROBE, ContainerStream, OpenStream, with_credentials
from camhub.config import InputConfig
from camhub.discovery.describe import MAC_KEYS, finding_from, first, generic_describer, stream_url
from camhub.discovery.model import Finding, ServiceRecord, Stream
from camhub.integrations.rtsp.client import RtspStream, Unsupported
from camhub.redact import redact_url
from camhub.registry import SetupContext

AXIS = "_axis-video._tcp.local."
# Axis (and cameras copying it) announce their web server; the video is RTSP on the standard port.
AXIS_RTSP_PORT = 554
AXIS_PATH = "/axis-media/media.amp"


log = logging.getLogger(__name__)

# Seconds between reads of an input that is only recorded: its packets are written, not watched for
# motion, and reading it once a second instead of at every frame saves more than a third of its reader's
# CPU (`RtspStream`; docs/decisions.md, 2026-12-01, "an input that only records is read once a second"). An
# input that detects is read as frames come, or in its motion batches.
RECORD_PACE = 1.0


class RtspSource:
    """A camera's RTSP stream, read by `RtspStream` (docs/decisions.md, 2026-12-01).

    A camera that needs what that client does not do (`Unsupported`: another codec, no RTP over TCP, ...)
    is read with FFmpeg's RTSP demuxer from then on, said once in the log.
    """

    def __init__(self, config: InputConfig) -> None:
        self._config = config
        self._url = with_credentials(config.url, config.username, config.password)
        self._timeout = config.timeout
        self.description = redact_url(config.url)
        self._ffmpeg = False  # set once the hub's client found this camera beyond it

    def open(self) -> OpenStream:
        if not self._ffmpeg:
            try:
                return RtspStream(
                    self._config.url,
                    username=self._config.username,
                    password=self._config.password,
                    timeout=self._timeout,
                    pace=0.0 if "detect" in self._config.roles else RECORD_PACE,
                )
            except Unsupported as exc:
                log.warning("%s: %s; reading it with FFmpeg's RTSP demuxer instead", self.description, exc)
                self._ffmpeg = True
        return self._ffmpeg_stream()

    def _ffmpeg_stream(self) -> ContainerStream:
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
