"""Trimming a clip to an approved window: real MP4s made by ffmpeg, checked with ffprobe.

Every source is 6 s at 15 fps with a keyframe each second, so a window's cut
is predictable: it starts at the next whole second and ends by the window's
end. The privacy property (nothing outside the window) is checked with
`span_of` on the written file, also over random windows.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import pytest
from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from camhub.capture.media import Packet, StreamInfo
from camhub.errors import BadRequest, NotFound
from camhub.privacy.trim import TrimError, TrimResult, span_of, trim_clip
from camhub.recording.clipwriter import CopyWriter
from camhub.store.mp4 import top_level_boxes

C = 1_700_000_123.25  # the clips' first packet, in Unix seconds
FPS, SECONDS, GOP = 15, 6, 15
FRAME = 1 / FPS
ENCODE = ["-f", "lavfi", "-i", f"testsrc=size=320x240:rate={FPS}", "-t", str(SECONDS), "-pix_fmt", "yuv420p"]
# Frames a cut may end early by: a P-frame past the end comes before the
# B-frames shown ahead of it in decode order, and the cut stops at it.
SLACK_NO_B, SLACK_B = 1, 5


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", *args], check=True)


def ffprobe(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-show_streams", "-show_format", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(out.stdout))


def first_packet_flags(path: Path) -> str:
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            "v",
            "-show_entries",
            "packet=flags",
            "-of",
            "csv=p=0",
            "-read_intervals",
            "%+#1",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def decode_errors(path: Path) -> str:
    args = ["ffmpeg", "-v", "error", "-i", str(path), "-f", "null", "-"]
    return subprocess.run(args, check=False, capture_output=True, text=True).stderr


def packet_count(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for p in container.demux(container.streams.video[0]) if p.size)


def has_libx265() -> bool:
    out = subprocess.run(["ffmpeg", "-hide_banner", "-encoders"], check=False, capture_output=True, text=True).stdout
    return " libx265 " in out


def copywriter_clip(src: Path, dst: Path) -> Path:
    """A clip written the way the recorder writes one: CopyWriter's fragmented MP4, first packet at C."""
    with av.open(str(src)) as container:
        stream = container.streams.video[0]
        ctx = stream.codec_context
        writer = CopyWriter(dst, StreamInfo(ctx.name, ctx.width, ctx.height, float(FPS)), stream)
        for packet in container.demux(stream):
            if packet.size and packet.pts is not None:  # the flush packet at the end has neither
                writer.write(Packet(packet, C + float(packet.pts * packet.time_base), packet.is_keyframe))
        writer.close()
    return dst


@pytest.fixture(scope="module")
def sources(make_video: Callable[..., Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, int]]:
    """name -> (MP4, frames a cut may end early by)."""
    folder = tmp_path_factory.mktemp("trim-sources")
    plain = make_video(size="320x240", rate=FPS, seconds=SECONDS, gop=GOP)
    bframes = folder / "bframes.mp4"
    ffmpeg(
        *ENCODE,
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-bf",
        "3",
        "-g",
        str(GOP),
        "-sc_threshold",
        "0",
        str(bframes),
    )
    fragmented = make_video(size="320x240", rate=FPS, seconds=SECONDS, gop=GOP, fragmented=True)
    made = {
        "h264": (plain, SLACK_NO_B),
        "h264-bframes": (bframes, SLACK_B),
        "h264-fragmented": (fragmented, SLACK_NO_B),
        "copywriter": (copywriter_clip(plain, folder / "copywriter.mp4"), SLACK_NO_B),
        "copywriter-bframes": (copywriter_clip(bframes, folder / "copywriter-bframes.mp4"), SLACK_B),
    }
    if has_libx265():
        hevc = folder / "hevc.mp4"
        # x265's defaults: B-frames and open GOPs, whose leading pictures show before their keyframe.
        params = f"log-level=error:keyint={GOP}:min-keyint={GOP}:scenecut=0"
        ffmpeg(*ENCODE, "-c:v", "libx265", "-x265-params", params, "-tag:v", "hvc1", str(hevc))
        made["hevc"] = (hevc, SLACK_B)
    return made


SOURCES = ["h264", "h264-bframes", "h264-fragmented", "copywriter", "copywriter-bframes", "hevc"]


@pytest.fixture(params=SOURCES)
def source(request: pytest.FixtureRequest, sources: dict[str, tuple[Path, int]]) -> tuple[Path, int]:
    if request.param not in sources:
        pytest.skip("this ffmpeg has no libx265 encoder, so no H.265 test clip can be made")
    return sources[request.param]


def assert_inside(result: TrimResult, dst: Path, start: float, end: float) -> None:
    first, last = span_of(dst, result.start_time)
    assert start <= first and last <= end, f"{dst} spans [{first}, {last}), outside [{start}, {end})"
    assert (first, last) == (result.start_time, result.end_time)


def test_the_source_spans_the_whole_clip(source: tuple[Path, int]) -> None:
    assert span_of(source[0], C) == pytest.approx((C, C + SECONDS), abs=1e-6)


def test_a_window_inside_the_clip_starts_at_the_next_keyframe_and_ends_by_its_end(
    source: tuple[Path, int], tmp_path: Path
) -> None:
    src, slack = source
    dst = tmp_path / "out.mp4"
    start, end = C + 1.5, C + 4.2
    result = trim_clip(src, dst, C, start, end)
    assert result is not None
    assert_inside(result, dst, start, end)
    assert result.start_time == pytest.approx(C + 2.0, abs=1e-6)  # the keyframe after 1.5 s, not the one before
    assert end - slack * FRAME - 1e-6 <= result.end_time <= end
    assert result.bytes == dst.stat().st_size
    probe = ffprobe(dst)
    (stream,) = probe["streams"]
    src_codec = ffprobe(src)["streams"][0]["codec_name"]
    assert (stream["codec_name"], stream["width"], stream["height"]) == (src_codec, 320, 240)
    assert float(probe["format"]["duration"]) == pytest.approx(result.end_time - result.start_time, abs=FRAME)
    assert int(stream["nb_read_frames"]) == result.packets  # every copied packet decodes to a frame
    assert first_packet_flags(dst).startswith("K")
    assert decode_errors(dst) == ""


def test_a_window_over_the_whole_clip_keeps_every_packet(source: tuple[Path, int], tmp_path: Path) -> None:
    src, _ = source
    dst = tmp_path / "out.mp4"
    result = trim_clip(src, dst, C, C - 10, C + 100)
    assert result is not None
    assert result.packets == packet_count(src) == FPS * SECONDS
    assert (result.start_time, result.end_time) == pytest.approx((C, C + SECONDS), abs=1e-6)
    assert_inside(result, dst, C - 10, C + 100)
    assert decode_errors(dst) == ""


def test_the_output_is_a_plain_mp4_with_its_index_first(sources: dict[str, tuple[Path, int]], tmp_path: Path) -> None:
    dst = tmp_path / "out.mp4"
    assert trim_clip(sources["copywriter"][0], dst, C, C + 1, C + 3) is not None
    kinds = [kind for kind, _, _ in top_level_boxes(dst)]
    assert "moof" not in kinds and kinds.index("moov") < kinds.index("mdat"), kinds


NO_KEYFRAME_INSIDE = {  # windows in seconds after the clip's first packet
    "before": (-5.0, -1.0),
    "ends-inside-the-first-frame": (-5.0, 0.05),
    "after": (6.0, 9.0),
    "between-keyframes": (2.01, 2.99),
    "shorter-than-a-frame": (2.0, 2.0 + FRAME / 2),
    "empty": (3.0, 3.0),
    "reversed": (4.0, 2.0),
}


@pytest.mark.parametrize("window", NO_KEYFRAME_INSIDE.values(), ids=NO_KEYFRAME_INSIDE.keys())
def test_a_window_without_a_whole_keyframe_gives_none_and_no_file(
    window: tuple[float, float], sources: dict[str, tuple[Path, int]], tmp_path: Path
) -> None:
    dst = tmp_path / "out.mp4"
    assert trim_clip(sources["h264"][0], dst, C, C + window[0], C + window[1]) is None
    assert list(tmp_path.iterdir()) == []


@settings(max_examples=30, deadline=None)
@given(
    name=st.sampled_from(["h264-bframes", "copywriter", "hevc"]),
    start=st.one_of(st.floats(-2, 7), st.integers(-2 * FPS, 7 * FPS).map(lambda k: k / FPS)),
    length=st.one_of(st.floats(0.01, 8), st.integers(1, 8 * FPS).map(lambda k: k / FPS)),
)
# Found in CI: an H.265 cut whose kept keyframe's MP4 sample looked four frames long, because the
# B-frames shown before it were cut out (sample durations are steps in decode order).
@example(name="hevc", start=3.25, length=1.0)
@example(name="hevc", start=3.2666666666666666, length=1.0)
def test_a_trimmed_clip_never_reaches_outside_its_window(
    name: str,
    start: float,
    length: float,
    sources: dict[str, tuple[Path, int]],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    if name not in sources:
        name = "h264-bframes"
    folder = tmp_path_factory.mktemp("prop")
    dst = folder / "out.mp4"
    result = trim_clip(sources[name][0], dst, C, C + start, C + start + length)
    event("no keyframe inside" if result is None else "cut")
    if result is None:
        assert not dst.exists()
        return
    assert_inside(result, dst, C + start, C + start + length)
    assert result.start_time < C + max(start, 0.0) + 1.0  # the first keyframe at or after the start: within a GOP
    shutil.rmtree(folder)


def test_audio_follows_the_same_window(tmp_path: Path) -> None:
    src, dst = tmp_path / "av.mp4", tmp_path / "out.mp4"
    ffmpeg(
        *ENCODE[:4],
        "-f",
        "lavfi",
        "-i",
        "sine=r=48000",
        *ENCODE[4:],
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-g",
        str(GOP),
        "-c:a",
        "aac",
        str(src),
    )
    result = trim_clip(src, dst, C, C + 1.5, C + 4.2)
    assert result is not None
    assert_inside(result, dst, C + 1.5, C + 4.2)
    codecs = sorted(s["codec_name"] for s in ffprobe(dst)["streams"])
    assert codecs == ["aac", "h264"]
    assert decode_errors(dst) == ""


def test_a_window_that_is_not_a_number_is_refused(sources: dict[str, tuple[Path, int]], tmp_path: Path) -> None:
    with pytest.raises(BadRequest, match="start"):
        trim_clip(sources["h264"][0], tmp_path / "out.mp4", C, math.nan, C + 1)
    assert list(tmp_path.iterdir()) == []


def test_a_missing_source_is_named(tmp_path: Path) -> None:
    src = tmp_path / "gone.mp4"
    with pytest.raises(NotFound, match=str(src)):
        trim_clip(src, tmp_path / "out.mp4", C, C, C + 1)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fragmented", [False, True], ids=["index-first", "fragmented"])
def test_a_source_cut_short_fails_naming_it_and_leaves_no_file(
    fragmented: bool, sources: dict[str, tuple[Path, int]], tmp_path: Path
) -> None:
    whole = tmp_path / "whole.mp4"
    if fragmented:
        shutil.copy(sources["h264-fragmented"][0], whole)
    else:
        ffmpeg("-i", str(sources["h264"][0]), "-c", "copy", "-movflags", "+faststart", str(whole))
    src = tmp_path / "src" / "cut.mp4"
    src.parent.mkdir()
    _, offset, size = [box for box in top_level_boxes(whole) if box[0] == "mdat"][-1]
    src.write_bytes(whole.read_bytes()[: offset + size // 2])  # the file ends in the middle of its last packets
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(TrimError, match=str(src)):
        trim_clip(src, out / "clip.mp4", C, C, C + 100)  # fails while writing: packets before the cut were copied
    assert list(out.iterdir()) == []


def test_a_destination_that_cannot_be_written_is_named(sources: dict[str, tuple[Path, int]], tmp_path: Path) -> None:
    dst = tmp_path / "no-such-folder" / "out.mp4"
    with pytest.raises(TrimError, match=str(dst)):
        trim_clip(sources["h264"][0], dst, C, C, C + 3)
    assert not dst.parent.exists()
