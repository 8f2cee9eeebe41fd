"""A local video file played in a loop at its own frame rate, like a camera.

A raw elementary stream (.h264, .h265) has no timestamps and cannot seek:
`ContainerStream` paces it by its packets' durations or the stream's rate
and reopens it to loop (hub/capture/media.py).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from camhub.capture.media import ContainerStream
from camhub.config import InputConfig
from camhub.errors import SourceError
from camhub.redact import redact_url
from camhub.registry import Options, SetupContext


class FileOptions(Options):
    format: str | None = Field(default=None, description="FFmpeg demuxer to force, e.g. h264; else from the file")


class FileSource:
    def __init__(self, config: InputConfig, options: FileOptions | None = None) -> None:
        url = config.url.removeprefix("file://")
        self._path = Path(url)
        self._format = (options or FileOptions()).format
        self._timeout = config.timeout
        self.description = redact_url(url)

    def open(self) -> ContainerStream:
        if not self._path.is_file():
            raise SourceError(f"{self._path}: no such file; expected a video file such as an MP4")
        return ContainerStream(str(self._path), format=self._format, timeout=self._timeout, loop=True, realtime=True)


def setup(ctx: SetupContext) -> None:
    ctx.register_source(FileSource, options=FileOptions)
