"""The full-quality stream's muxer and codecs string, on real H.264 files: a frame behind, never a GOP."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Callable
from pathlib import Path

import av
import pytest

from camhub.capture.media import Packet, StreamInfo
from camhub.http.live_mp4 import FragmentMuxer, LiveStream, LiveUnavailable
from camhub.http.mse_codec import mse_codec, parameter_sets


def packets(path: Path) -> tuple[av.container.InputContainer, list[Packet]]:
    container = av.open(str(path))
    stream = container.streams.video[0]
    return container, [Packet(p, float(i), p.is_keyframe) for i, p in enumerate(container.demux(stream)) if p.size]


def test_each_packet_reaches_viewers_when_the_next_one_arrives(make_video: Callable[..., Path], tmp_path: Path) -> None:
    container, got = packets(make_video(size="320x240", rate=15, seconds=3, gop=15))
    stream = container.streams.video[0]
    info = StreamInfo("h264", 320, 240, 15.0, stream.codec_context.extradata)
    muxer = FragmentMuxer(info, stream, got[0])
    assert muxer.codec.startswith("avc1.") and len(muxer.codec) == 11
    out = bytearray(muxer.init)
    keyframes = []
    for i, packet in enumerate(got):
        fragments = muxer.write(packet)
        # Packet i completes packet i-1's fragment: one frame of latency, whatever the GOP (15 here).
        assert len(fragments) == (0 if i == 0 else 1), (i, len(fragments))
        for data, keyframe in fragments:
            assert data[4:8] == b"moof"
            keyframes.append(keyframe)
            out += data
    muxer.close()
    assert keyframes == [p.keyframe for p in got[:-1]] and keyframes.count(True) == 3
    path = tmp_path / "live.mp4"
    path.write_bytes(bytes(out))
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-show_entries", "stream=codec_name,width,height,nb_read_frames",
         "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert probe.stdout.strip() == f"h264,320,240,{len(got) - 1}"


def test_the_codecs_string_comes_from_avcc_or_annex_b_parameter_sets(
    make_video: Callable[..., Path], tmp_path: Path
) -> None:
    mp4 = make_video(size="320x240", rate=15, seconds=1)
    with av.open(str(mp4)) as container:
        avcc = container.streams.video[0].codec_context.extradata
    raw = tmp_path / "raw.h264"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-i", str(mp4), "-c", "copy", "-f", "h264", str(raw)], check=True)
    with av.open(str(raw)) as container:
        keyframe = bytes(next(p for p in container.demux(container.streams.video[0]) if p.is_keyframe))
    annex_b = parameter_sets("h264", keyframe)
    assert annex_b.startswith(b"\x00\x00\x00\x01") and annex_b.count(b"\x00\x00\x00\x01") == 2  # SPS and PPS
    assert mse_codec("h264", annex_b) == mse_codec("h264", avcc) == "avc1." + avcc[1:4].hex().upper()
    assert mse_codec("h264", b"") == "avc1"  # no SPS: the sample entry alone, which a browser may still try
    # H.265 Main, level 3.1, from an Annex B SPS: profile 1, compatibility bits reversed, tier L, level 93.
    sps = escape(bytes.fromhex("4201 01 01 60000000 900000000000 5d a0"))
    assert b"\x00\x00\x03" in sps
    assert mse_codec("hevc", b"\x00\x00\x00\x01" + sps) == "hev1.1.6.L93.90"
    hvcc = bytes.fromhex("01 01 60000000 900000000000 5d") + bytes(10)
    assert mse_codec("hevc", hvcc) == "hev1.1.6.L93.90"


def escape(rbsp: bytes) -> bytes:
    """A NAL unit's bytes with emulation prevention, as a camera sends them (00 00 0x -> 00 00 03 0x)."""
    out = bytearray()
    for byte in rbsp:
        if len(out) >= 2 and out[-2:] == b"\x00\x00" and byte <= 3:
            out.append(3)
        out.append(byte)
    return bytes(out)


class MjpegStream:
    """What an MJPEG camera's connection shows the packet consumers: no template to copy."""

    info = StreamInfo("mjpeg", 640, 360, 5.0)
    copy_template = None


async def test_a_camera_whose_packets_cannot_be_copied_refuses_full_quality_and_names_the_low_rate_view() -> None:
    stream = LiveStream("porch", asyncio.get_running_loop())
    stream.on_connect(MjpegStream())  # type: ignore[arg-type]
    await asyncio.sleep(0)  # the reader thread's news reaches the loop
    with pytest.raises(LiveUnavailable, match=r"'porch' sends mjpeg .* use the low-rate view \(live.mjpeg\)"):
        stream.join()
    assert not stream.viewers


async def test_a_watched_camera_is_read_as_packets_come_and_batched_again_when_nobody_watches(
    make_video: Callable[..., Path],
) -> None:
    """A record input read in batches (`PacedStream`, as the RTSP client reads one) has its pace set to 0
    by the live stream while a viewer watches, on the reader thread at the next packet, and back after."""
    container, got = packets(make_video(size="320x240", rate=15, seconds=1, gop=15))
    template = container.streams.video[0]

    class Paced:  # the stream as a consumer sees it; the real client's pacing is tested in test_rtsp.py
        info = StreamInfo("h264", 320, 240, 15.0, template.codec_context.extradata)
        copy_template = template
        pace = 0.25
        wakes = 0

        def wake(self) -> None:
            self.wakes += 1

    stream = Paced()
    live = LiveStream("cam", asyncio.get_running_loop())
    live.on_connect(stream)  # type: ignore[arg-type]
    live.on_packet(got[0])
    assert stream.pace == 0.25
    viewer = live.join()
    assert stream.wakes == 1, "a new viewer ends the reader's wait for its next batch"
    live.on_packet(got[1])
    assert stream.pace == 0.0
    live.leave(viewer)
    live.on_packet(got[2])
    assert stream.pace == 0.25
    container.close()
