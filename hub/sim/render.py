"""Render a `Scene` once into the files the simulated cameras serve.

Per scene, in `cache_dir/<name>-<digest>-v<RENDER_VERSION>/`:

- `main.<h264|h265>` / `sub.<h264|h265>`: Annex-B elementary streams with the
  parameter sets repeated before every keyframe (so any keyframe is a valid
  place for a decoder to start), closed GOPs, no B-frames;
- `main.json` / `sub.json`: the access-unit index the servers pace by
  (`frames`: `[byte offset, size, keyframe 0/1, pts in frames]`);
- `main.mp4` / `sub.mp4`: the same packets in MP4, for file-based sources;
- `sub.mjpeg` + `sub.mjpeg.json`: the sub-stream frames as concatenated JPEGs
  and their `[offset, size]` index, for the MJPEG and snapshot endpoints.

`render_main` renders the main stream alone (index and MP4, no Annex-B) into
`cache_dir/<name>-<digest>-main-v<RENDER_VERSION>/`, for the labelled motion
corpus (`camhub.sim.corpus`), which is decoded, never served.

Everything is written into a temporary directory that is renamed into place
only when complete, so a killed render never leaves files that look finished,
and a second run with the same scene definition reuses them.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from camhub.sim.effects import LeavesPatch, draw_object, draw_rain, shifted, tone_luts
from camhub.sim.scene import Background, Scene, Tone

# Bump when the pixels or file layout change, so old caches are not reused.
RENDER_VERSION = 2
SUB_SIZE = (640, 360)
JPEG_QUALITY = 80
_NOISE_BANK = 12  # distinct noise fields, cycled; enough to look random to a differ

Progress = Callable[[str], None]
_NEUTRAL = Tone()


@dataclass(frozen=True)
class StreamFiles:
    """One rendered stream (main or sub) and where its files are."""

    codec: str  # "h264" or "hevc"
    width: int
    height: int
    fps: int
    gop: int
    annexb: Path
    index: Path
    mp4: Path

    @property
    def ext(self) -> str:
        """File/URL suffix: h264 or h265."""
        return "h264" if self.codec == "h264" else "h265"


@dataclass(frozen=True)
class Rendering:
    scene: Scene
    directory: Path
    main: StreamFiles
    sub: StreamFiles
    mjpeg: Path
    mjpeg_index: Path
    seconds: float  # time spent rendering; 0.0 when taken from the cache


class AccessUnits:
    """An Annex-B stream in memory with its index, for pacing servers."""

    def __init__(self, files: StreamFiles) -> None:
        self.files = files
        self.data = files.annexb.read_bytes()
        frames = json.loads(files.index.read_text())["frames"]
        self.offsets = [f[0] for f in frames]
        self.sizes = [f[1] for f in frames]
        self.keyframes = [i for i, f in enumerate(frames) if f[2]]

    def __len__(self) -> int:
        return len(self.offsets)

    def unit(self, n: int) -> bytes:
        o = self.offsets[n]
        return self.data[o : o + self.sizes[n]]

    def keyframe_at_or_before(self, n: int) -> int:
        best = self.keyframes[0]
        for k in self.keyframes:
            if k > n:
                break
            best = k
        return best


class JpegFrames:
    """The MJPEG frames in memory: `frame(n)` is one complete JPEG."""

    def __init__(self, data: Path, index: Path) -> None:
        self.data = data.read_bytes()
        self.index: list[list[int]] = json.loads(index.read_text())["frames"]

    def __len__(self) -> int:
        return len(self.index)

    def frame(self, n: int) -> bytes:
        o, size = self.index[n]
        return self.data[o : o + size]


def _files(directory: Path, scene: Scene, role: str, width: int, height: int) -> StreamFiles:
    ext = "h264" if scene.codec == "h264" else "h265"
    return StreamFiles(
        codec=scene.codec,
        width=width,
        height=height,
        fps=scene.fps,
        gop=scene.gop,
        annexb=directory / f"{role}.{ext}",
        index=directory / f"{role}.json",
        mp4=directory / f"{role}.mp4",
    )


def _rendering(directory: Path, scene: Scene, seconds: float) -> Rendering:
    return Rendering(
        scene=scene,
        directory=directory,
        main=_files(directory, scene, "main", scene.width, scene.height),
        sub=_files(directory, scene, "sub", *SUB_SIZE),
        mjpeg=directory / "sub.mjpeg",
        mjpeg_index=directory / "sub.mjpeg.json",
        seconds=seconds,
    )


def render_scene(scene: Scene, cache_dir: Path | str, progress: Progress | None = None) -> Rendering:
    """Render `scene` (or reuse the cached render) and return where the files are."""

    def build(tmp: Path) -> None:
        (tmp / "scene.json").write_text(json.dumps(scene.to_dict(), indent=1, sort_keys=True))
        # Main and sub encode in parallel: x264/x265, cv2 and numpy release the GIL.
        with ThreadPoolExecutor(max_workers=2) as pool:
            jobs = [
                pool.submit(_render_stream, scene, tmp, "main", scene.width, scene.height, False, progress),
                pool.submit(_render_stream, scene, tmp, "sub", *SUB_SIZE, True, progress),
            ]
            for job in jobs:
                job.result()

    final = Path(cache_dir) / f"{scene.name}-{scene.digest()}-v{RENDER_VERSION}"
    seconds = _cached(final, build)
    if progress and seconds:
        progress(f"{scene.name}: rendered in {seconds:.1f}s")
    return _rendering(final, scene, seconds)


def render_main(scene: Scene, cache_dir: Path | str, progress: Progress | None = None) -> StreamFiles:
    """Render only the main stream of `scene` (or reuse the cache): what an analysis corpus needs.

    Cached beside full renders, in `cache_dir/<name>-<digest>-main-v<RENDER_VERSION>/`. Only the MP4
    and the index are kept: nothing serves these, and the Annex-B copy would double the space.
    """

    def build(tmp: Path) -> None:
        (tmp / "scene.json").write_text(json.dumps(scene.to_dict(), indent=1, sort_keys=True))
        _render_stream(scene, tmp, "main", scene.width, scene.height, False, progress)
        _files(tmp, scene, "main", scene.width, scene.height).annexb.unlink()

    final = Path(cache_dir) / f"{scene.name}-{scene.digest()}-main-v{RENDER_VERSION}"
    seconds = _cached(final, build)
    if progress and seconds:
        progress(f"{scene.name}: rendered in {seconds:.1f}s")
    return _files(final, scene, "main", scene.width, scene.height)


def _cached(final: Path, build: Callable[[Path], None]) -> float:
    """Make `final` by `build(tmp)` in a temporary sibling renamed into place; 0.0 when it already existed."""
    if final.is_dir():
        return 0.0
    final.parent.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        build(tmp)
        try:
            os.rename(tmp, final)
        except OSError:
            if not final.is_dir():  # a concurrent render that won the race is fine
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return max(time.monotonic() - began, 1e-6)


def _encoder(scene: Scene, width: int, height: int, kbps: int = 0) -> av.VideoCodecContext:
    # No global header: the encoder then repeats SPS/PPS (VPS) in-band before
    # every keyframe, which the Annex-B servers need for clients joining late.
    if scene.codec == "h264":
        cc = av.CodecContext.create("libx264", "w")
        cc.options = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "x264-params": f"keyint={scene.gop}:min-keyint={scene.gop}:scenecut=0:bframes=0:sliced-threads=0"
            + _rate(kbps),
        }
    else:
        cc = av.CodecContext.create("libx265", "w")
        cc.options = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "x265-params": f"keyint={scene.gop}:min-keyint={scene.gop}:scenecut=0:bframes=0:open-gop=0:log-level=error"
            + _rate(kbps),
        }
    assert isinstance(cc, av.VideoCodecContext)
    cc.width, cc.height = width, height
    cc.pix_fmt = "yuv420p"
    cc.time_base = Fraction(1, scene.fps)
    cc.framerate = Fraction(scene.fps, 1)
    return cc


def _rate(kbps: int) -> str:
    """x264/x265 parameters for an average bit rate capped over one second, as cameras encode; none for 0."""
    return f":bitrate={kbps}:vbv-maxrate={kbps}:vbv-bufsize={kbps}" if kbps else ""


def _render_stream(
    scene: Scene, directory: Path, role: str, width: int, height: int, jpegs: bool, progress: Progress | None
) -> None:
    files = _files(directory, scene, role, width, height)
    cc = _encoder(scene, width, height, scene.sub_kbps if role == "sub" else 0)
    index: list[list[int]] = []
    jpeg_index: list[list[int]] = []
    total = scene.frame_count
    offset = jpeg_offset = 0
    with (
        open(files.annexb, "wb") as out,
        open(directory / "sub.mjpeg", "wb") if jpegs else open(os.devnull, "wb") as jout,
    ):

        def write(packets: list[av.Packet[Any]]) -> None:
            nonlocal offset
            for p in packets:
                data = bytes(p)
                out.write(data)
                index.append([offset, len(data), int(p.is_keyframe), len(index)])
                offset += len(data)

        for n, yuv in enumerate(frames(scene, width, height)):
            frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
            frame.pts = n
            write(cc.encode(frame))
            if jpegs:
                ok, jpg = cv2.imencode(
                    ".jpg", cv2.cvtColor(yuv, cv2.COLOR_YUV2BGR_I420), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
                )
                if not ok:
                    raise RuntimeError(f"{scene.name}: JPEG encoding failed at frame {n}")
                jout.write(jpg.tobytes())
                jpeg_index.append([jpeg_offset, len(jpg)])
                jpeg_offset += len(jpg)
            if progress and (n + 1) % (scene.fps * 10) == 0:
                progress(f"{scene.name}: {role} {100 * (n + 1) // total}%")
        write(cc.encode(None))
    if len(index) != total:
        raise RuntimeError(f"{scene.name}: {role} encoded {len(index)} of {total} frames")
    meta = {"codec": scene.codec, "width": width, "height": height, "fps": scene.fps, "gop": scene.gop, "frames": index}
    files.index.write_text(json.dumps(meta))
    if jpegs:
        (directory / "sub.mjpeg.json").write_text(json.dumps({"frames": jpeg_index}))
    _remux_mp4(files)


def _remux_mp4(files: StreamFiles) -> None:
    """Copy the Annex-B packets into MP4 with exact timestamps (no re-encode)."""
    tb = Fraction(1, files.fps)
    with av.open(str(files.annexb), format=files.codec) as src, av.open(str(files.mp4), "w", format="mp4") as dst:
        stream = dst.add_stream_from_template(src.streams.video[0])
        stream.time_base = tb
        n = 0
        for packet in src.demux(video=0):
            if packet.size == 0:
                continue
            packet.stream = stream
            packet.time_base = tb
            packet.pts = packet.dts = n
            packet.duration = 1
            dst.mux(packet)
            n += 1


# --- pixels -----------------------------------------------------------------


def frames(scene: Scene, width: int, height: int) -> Iterator[np.ndarray]:
    """Yield the scene's frames as I420 arrays of shape (height * 3 / 2, width)."""
    bg = background_rgb(scene.background, width, height)
    rng = np.random.default_rng(scene.background.seed + 7919)
    pos_noise, neg_noise = _noise_bank(rng, scene.noise_sigma, width, height)
    leaves = [LeavesPatch(item, width, height) for item in scene.leaves]
    lut_cache: dict[Tone, tuple[np.ndarray, np.ndarray]] = {}
    for n in range(scene.frame_count):
        t = n / scene.fps
        rgb = bg.copy()
        for patch in leaves:
            patch.draw(rgb, t)
        for obj in scene.objects:
            centre = obj.position(t)
            if centre is not None:
                draw_object(rgb, obj, centre)
        for rain in scene.rain:
            if rain.t0 <= t <= rain.t1:
                draw_rain(rgb, rain, n)
        shift = scene.shift_at(t)
        if shift is not None:
            rgb = shifted(rgb, *shift)
        yuv = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)
        tone = scene.tone_at(t)
        if tone != _NEUTRAL:
            if tone not in lut_cache:
                lut_cache[tone] = tone_luts(tone)
            luma_lut, chroma_lut = lut_cache[tone]
            yuv[:height] = cv2.LUT(yuv[:height], luma_lut)
            yuv[height:] = cv2.LUT(yuv[height:], chroma_lut)
        if pos_noise is not None and neg_noise is not None:
            k = (n * 5) % _NOISE_BANK
            luma = yuv[:height]
            cv2.add(luma, pos_noise[k], dst=luma)
            cv2.subtract(luma, neg_noise[k], dst=luma)
        yield yuv


def _noise_bank(
    rng: np.random.Generator, sigma: float, width: int, height: int
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Precomputed noise split into positive and negative parts for saturating adds."""
    if sigma <= 0:
        return None, None
    noise = rng.normal(0.0, sigma, (_NOISE_BANK, height, width)).astype(np.float32)
    pos = np.clip(noise, 0, 255).round().astype(np.uint8)
    neg = np.clip(-noise, 0, 255).round().astype(np.uint8)
    return pos, neg


def background_rgb(background: Background, width: int, height: int) -> np.ndarray:
    """A deterministic RGB backdrop: gradients, a few rectangles, fixed texture."""
    rng = np.random.default_rng(background.seed)
    ys = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    img = np.empty((height, width, 3), np.float32)
    boxes: list[tuple[float, float, float, float, tuple[int, ...]]]  # x, y, width, height (fractions), RGB
    if background.style == "yard":
        horizon = int(height * rng.uniform(0.35, 0.5))
        sky = np.array([110, 160, 230], np.float32) * (1.0 - 0.3 * ys[:horizon]) + 20
        img[:horizon] = sky
        grass = np.array([50, 120, 45], np.float32) * (0.8 + 0.4 * ys[horizon:])
        img[horizon:] = grass
        boxes = [(0.55, 0.12, 0.3, horizon / height - 0.12, (170, 150, 130))]  # the house
    elif background.style == "room":
        floor = int(height * 0.7)
        img[:floor] = np.array([200, 190, 170], np.float32) * (0.85 + 0.15 * ys[:floor])
        img[floor:] = np.array([120, 90, 60], np.float32) * (0.9 + 0.2 * ys[floor:])
        boxes = [(0.1, 0.2, 0.15, 0.5, (90, 60, 40)), (0.4, 0.15, 0.25, 0.25, (150, 190, 220))]
    else:
        img[:] = 128.0
        boxes = []
    for _ in range(int(rng.integers(3, 7)) if background.style != "flat" else 0):
        x, y = rng.uniform(0.0, 0.9), rng.uniform(0.5, 0.9)
        boxes.append(
            (x, y, rng.uniform(0.03, 0.1), rng.uniform(0.03, 0.08), tuple(int(c) for c in rng.integers(30, 220, 3)))
        )
    for x, y, w, h, colour in boxes:
        x0, y0 = int(x * width), int(y * height)
        img[y0 : y0 + max(1, int(h * height)), x0 : x0 + max(1, int(w * width))] = colour
    # Fixed texture so the picture is not flat (flat areas encode unrealistically well).
    small = rng.normal(0.0, 6.0, (max(2, height // 8), max(2, width // 8), 1)).astype(np.float32)
    img += cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)[:, :, None]
    return np.clip(img, 0, 255).astype(np.uint8)
