"""A received packet is muxed by reference into every clip and live view it goes to, and stays as it came.

The clip writer and the live view's fragment muxer hand the packet itself to
FFmpeg (`mux_shared`), which rescales its timestamps in place; the same packet
sits in the pre-roll ring, so the next clip starts with packets the last one
already took. Real H.264 from libx264, real MP4 files read back with ffprobe.
"""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path
from typing import Any

import av
import pytest

from camhub.capture.media import Packet, StreamInfo
from camhub.http.live_mp4 import FragmentMuxer
from camhub.integrations.rtsp.client import RTP_CLOCK
from camhub.recording.clipwriter import CopyWriter, make_writer
from tests.rtp_media import FRAMES, HEIGHT, TICKS, WIDTH, encoded


def received() -> list[Packet]:
    """The test stream's frames as the RTSP client hands them on: RTP time, 90 kHz clock, 15 fps."""
    packets = []
    for i, unit in enumerate(encoded("h264")):
        packet = av.Packet(unit.data)
        packet.pts = packet.dts = 1_000_000 + i * TICKS
        packet.time_base = RTP_CLOCK
        packet.is_keyframe = unit.keyframe
        packets.append(Packet(packet, 5000.0 + i / 15, unit.keyframe))
    return packets


def state(packet: Packet) -> tuple[Any, ...]:
    src = packet.packet
    return bytes(src), src.pts, src.dts, src.time_base, src.duration, src.is_keyframe


def frame_times(path: Path) -> list[float]:
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "packet=pts_time,size",
            "-of",
            "json",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [float(p["pts_time"]) for p in json.loads(out)["packets"]]


@pytest.fixture(scope="module")
def template() -> Any:
    first = encoded("h264")[0]
    container = av.open(io.BytesIO(first.data), "r", format="h264")
    yield container.streams.video[0]
    container.close()


def test_packets_in_two_overlapping_clips_and_a_live_view_come_out_unchanged(template: Any, tmp_path: Path) -> None:
    packets = received()
    before = [state(p) for p in packets]
    info = StreamInfo("h264", WIDTH, HEIGHT, 15.0)
    clips = []
    # The second clip's pre-roll is the first clip's second GOP, the same packet objects again.
    for name, chosen in (("a.mp4", packets[:20]), ("b.mp4", packets[10:])):
        writer = make_writer(tmp_path / name, info, template)
        assert isinstance(writer, CopyWriter)
        for packet in chosen:
            writer.write(packet)
        clips.append(writer.close())
    live = FragmentMuxer(info, template, packets[0])
    fragments = [f for packet in packets for f in live.write(packet)]

    assert [state(p) for p in packets] == before  # bytes, timestamps, clock and flags as received
    for clip in clips:
        assert clip.packets == 20
        assert clip.duration == pytest.approx(20 / 15, abs=1e-3)
        assert frame_times(clip.path) == pytest.approx([i / 15 for i in range(20)], abs=1e-3)
    assert len(fragments) == FRAMES - 1  # a fragment per frame, the last one still open


def test_the_clips_hold_the_received_bytes(template: Any, tmp_path: Path) -> None:
    packets = received()
    writer = make_writer(tmp_path / "c.mp4", StreamInfo("h264", WIDTH, HEIGHT, 15.0), template)
    for packet in packets:
        writer.write(packet)
    writer.close()
    with av.open(str(tmp_path / "c.mp4")) as clip:
        stored = [bytes(p) for p in clip.demux(video=0) if p.size]
    # MP4 keeps each NAL unit behind a 4-byte length where the stream had a start code.
    expected = [b"".join(len(n).to_bytes(4, "big") + n for n in unit.nals) for unit in encoded("h264")]
    assert stored == expected
