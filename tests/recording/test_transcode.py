"""Re-encoding the record input when its source does not declare stream copy.

A source whose manifest lacks `stream_copy` gets its packets decoded and
encoded to H.264. H.264 taken out of an MP4 file carries its parameter sets
(SPS/PPS) in the stream's extradata, not in the packets, so a decoder made
without that extradata decodes nothing and every clip of such a source fails.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from itertools import islice
from pathlib import Path

from camhub.capture.media import ContainerStream
from camhub.recording.clipwriter import TranscodeWriter, make_writer


def test_h264_from_an_mp4_file_is_re_encoded_when_not_copied(make_video: Callable[..., Path], tmp_path: Path) -> None:
    source = make_video(size="320x240", rate=15, seconds=2)  # a plain MP4: parameter sets only in extradata
    stream = ContainerStream(str(source))
    try:
        assert stream.info.codec == "h264"
        out = tmp_path / "clip.mp4"
        writer = make_writer(out, stream.info, None)  # no copy template: the source did not declare stream_copy
        assert isinstance(writer, TranscodeWriter)
        for packet in islice(stream.packets(), 30):
            writer.write(packet)
        writer.close()
    finally:
        stream.close()
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-show_streams", "-of", "json", str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    video = json.loads(probe.stdout)["streams"][0]
    assert (video["codec_name"], video["width"], video["height"]) == ("h264", 320, 240)
    assert int(video["nb_read_frames"]) >= 25  # the encoder may hold back a few at the end; most are there
