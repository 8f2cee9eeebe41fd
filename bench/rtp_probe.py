"""A measurement probe, not production code: would a Python RTSP/RTP client cost less CPU than FFmpeg's demuxer?

    .venv/bin/python bench/rtp_probe.py [--n 1,16] [--seconds 30] [--rounds 2] [--out bench/results/rtp_probe.md]

bench/results/pipeline.md found that reading RTSP through PyAV (FFmpeg's demuxer) costs what a whole
`ffmpeg -c copy -f segment` recorder costs, which leaves issue 15's 1.5x no room. For N simulated cameras
(pipeline.py's 1080p15 main, 5 fps 512 kbit/s 640x360 sub) each mode runs in its own process, one at a
time, interleaved in rounds; the parent measures its on-CPU time (all threads, /proc/<pid>/task/*/schedstat,
ns) over the same window after the same warm-up:

- ffmpeg-recorder: one Frigate-style recorder process per main stream, summed.
- pyav-demux: a thread per main stream running `container.demux()` with the hub's RTSP options.
- py-depay: one asyncio loop for all main streams: DESCRIBE, SETUP `RTP/AVP/TCP;interleaved=0-1`, PLAY,
  `$` framing, RTP header, H.264 single-NAL, STAP-A and FU-A reassembly into Annex B access units.
  py-depay+packet also builds an `av.Packet` per unit (pts, time base, keyframe flag), as a stream-copy
  mux would take it.
- pyav-sub-decode / py-depay-sub-decode: the sub-streams, every frame decoded on one thread.
- pyav-camera / py-depay-camera: each camera's main (PyAV packets / av.Packets) and sub (decoded) in one
  process: the hub's two readers, without the recorder's mux, motion, index or web server.

Not done here (a real client needs them): authentication, H.265, RTCP and keepalives, timestamp
unwrapping, loss and reordering, and any care for hostile input.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime
import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import cast

import av
from ffmpeg_recorders import recorder_command  # bench/ffmpeg_recorders.py
from machine import describe  # bench/machine.py: run as python bench/<name>.py
from pipeline import add_cache_argument, bench_rendering, camera_names, machine_ticks

from camhub.capture.media import LIVE_PROBE
from camhub.sim.rtsp import HOST, RtspServer

ROOT = Path(__file__).resolve().parent.parent
MAIN_MODES = ("ffmpeg-recorder", "pyav-demux", "py-depay", "py-depay+packet")
SUB_MODES = ("pyav-sub-decode", "py-depay-sub-decode")
CAMERA_MODES = ("pyav-camera", "py-depay-camera")  # main and sub of each camera, in one process
MODES = (*MAIN_MODES, *SUB_MODES, *CAMERA_MODES)
BASE = {**dict.fromkeys(MAIN_MODES, "pyav-demux"), **dict.fromkeys(SUB_MODES, "pyav-sub-decode")}
BASE.update(dict.fromkeys(CAMERA_MODES, "pyav-camera"))
START_CODE = b"\x00\x00\x00\x01"
RTP_TIME_BASE = Fraction(1, 90_000)


def task_ns(pid: int) -> int:
    """On-CPU nanoseconds of every live thread of a process (finer than the 10 ms of /proc/<pid>/stat)."""
    total = 0
    for stat in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        try:
            total += int(stat.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue  # a thread that ended between the listing and the read
    return total


# -- the worker side: one way of reading N streams, counting what it got


@dataclasses.dataclass
class Counters:
    """One stream's counts, written by one thread only (`+=` from several threads could lose counts)."""

    units: int = 0  # access units (PyAV: packets)
    bytes: int = 0
    frames: int = 0  # decoded frames (decode modes)
    reads: int = 0  # socket reads that delivered data (depacketiser modes)


class H264Depacketiser:
    """RFC 6184 payloads (single NAL, STAP-A, FU-A) into Annex B access units; the RTP marker bit ends one.

    Trusts its input (TCP from a known server, no loss, no reordering): a probe, not a parser for cameras.
    """

    def __init__(self, on_unit: Callable[[bytes, int, bool], None]) -> None:
        self.on_unit = on_unit
        self.unit = bytearray()
        self.key = False

    def rtp(self, packet: memoryview) -> None:
        b0 = packet[0]
        offset = 12 + 4 * (b0 & 0x0F)  # CSRCs
        if b0 & 0x10:  # header extension
            offset += 4 + 4 * ((packet[offset + 2] << 8) | packet[offset + 3])
        end = len(packet) - (packet[-1] if b0 & 0x20 else 0)  # padding
        nal = packet[offset]
        kind = nal & 0x1F
        unit = self.unit
        if kind == 28:  # FU-A
            fu = packet[offset + 1]
            if fu & 0x80:  # start of a fragmented NAL: rebuild its header
                unit += START_CODE
                unit.append((nal & 0xE0) | (fu & 0x1F))
                self.key |= (fu & 0x1F) == 5
            unit += packet[offset + 2 : end]
        elif kind == 24:  # STAP-A
            pos = offset + 1
            while pos + 2 < end:
                size = (packet[pos] << 8) | packet[pos + 1]
                pos += 2
                unit += START_CODE
                unit += packet[pos : pos + size]
                self.key |= (packet[pos] & 0x1F) == 5
                pos += size
        else:
            unit += START_CODE
            unit += packet[offset:end]
            self.key |= kind == 5
        if packet[1] & 0x80:  # marker: the last packet of the access unit
            timestamp = int.from_bytes(packet[4:8], "big")
            self.on_unit(bytes(unit), timestamp, self.key)
            self.unit = bytearray()
            self.key = False


class RtspInterleaved(asyncio.Protocol):
    """One RTSP-over-TCP session: requests answered in turn, then `$`-framed RTP on channel 0 to a depacketiser."""

    def __init__(self, depacketiser: H264Depacketiser, counters: Counters) -> None:
        self.depacketiser = depacketiser
        self.counters = counters
        self.buf = bytearray()
        self.playing = False
        self.answer: asyncio.Future[tuple[dict[str, str], bytes]] | None = None
        self.play_next = False
        self.transport: asyncio.Transport | None = None
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)
        if self.answer is not None and not self.answer.done():
            self.answer.set_exception(ConnectionError("RTSP connection closed"))

    async def request(self, method: str, url: str, cseq: int, headers: dict[str, str]) -> tuple[dict[str, str], bytes]:
        assert self.transport is not None
        self.answer = asyncio.get_running_loop().create_future()
        self.play_next = method == "PLAY"
        lines = [f"{method} {url} RTSP/1.0", f"CSeq: {cseq}", *(f"{k}: {v}" for k, v in headers.items())]
        self.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        return await self.answer

    def data_received(self, data: bytes) -> None:
        self.buf += data
        self.counters.reads += 1
        if not self.playing:
            self._response()
        if self.playing:
            self._frames()

    def _response(self) -> None:
        head_end = self.buf.find(b"\r\n\r\n")
        if head_end < 0 or self.answer is None:
            return
        lines = self.buf[:head_end].decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        body_end = head_end + 4 + int(headers.get("content-length", "0"))
        if len(self.buf) < body_end:
            return
        body = bytes(self.buf[head_end + 4 : body_end])
        del self.buf[:body_end]
        if not lines[0].split(" ")[1].startswith("2"):
            self.answer.set_exception(ConnectionError(f"RTSP answered {lines[0]!r}"))
            return
        self.playing = self.play_next
        self.answer.set_result((headers, body))

    def _frames(self) -> None:
        buf = self.buf
        size = len(buf)
        pos = 0
        view = memoryview(buf)
        rtp = self.depacketiser.rtp
        while size - pos >= 4:
            if buf[pos] != 0x24:  # an RTSP message between the frames: skip its head (a probe ignores it)
                end = buf.find(b"\r\n\r\n", pos)
                if end < 0:
                    break
                pos = end + 4
                continue
            length = (buf[pos + 2] << 8) | buf[pos + 3]
            if size - pos - 4 < length:
                break
            if buf[pos + 1] == 0:
                rtp(view[pos + 4 : pos + 4 + length])
            pos += 4 + length
        view.release()
        del buf[:pos]


async def play(url: str, depacketiser: H264Depacketiser, counters: Counters) -> RtspInterleaved:
    """DESCRIBE, SETUP (RTP/AVP/TCP interleaved 0-1) and PLAY the first video track of `url`; no auth."""
    host_port = url.split("/")[2]
    host, _, port = host_port.partition(":")
    loop = asyncio.get_running_loop()
    _, client = await loop.create_connection(lambda: RtspInterleaved(depacketiser, counters), host, int(port or 554))
    headers, sdp = await client.request("DESCRIBE", url, 1, {"Accept": "application/sdp"})
    base = headers.get("content-base", url + "/")
    video = sdp.decode("latin-1").split("m=video", 1)[1]
    control = next(line[10:].strip() for line in video.splitlines() if line.startswith("a=control:"))
    track = control if control.startswith("rtsp://") else base.rstrip("/") + "/" + control
    headers, _ = await client.request("SETUP", track, 2, {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"})
    session = headers["session"].split(";")[0]
    await client.request("PLAY", base, 3, {"Session": session, "Range": "npt=0.000-"})
    return client


def unit_sink(kind: str, counters: Counters) -> Callable[[bytes, int, bool], None]:
    """What each access unit goes to: "count" it, build an av "packet" as a stream-copy mux takes, or "decode" it."""
    decoder = av.CodecContext.create("h264", "r") if kind == "decode" else None
    if decoder is not None:
        decoder.thread_count = 1  # as the hub's ContainerStream decodes

    def sink(unit: bytes, timestamp: int, key: bool) -> None:
        counters.units += 1
        counters.bytes += len(unit)
        if kind == "count":
            return
        packet = av.Packet(unit)
        packet.pts = packet.dts = timestamp
        packet.time_base = RTP_TIME_BASE
        packet.is_keyframe = key
        if decoder is not None:
            counters.frames += len(decoder.decode(packet))

    return sink


async def depay_worker(streams: list[tuple[str, str, Counters]], ready: threading.Event) -> None:
    clients = [await play(url, H264Depacketiser(unit_sink(kind, c)), c) for url, kind, c in streams]
    while not all(c.units for _, _, c in streams):
        await asyncio.sleep(0.1)
    ready.set()
    await asyncio.gather(*(c.closed for c in clients))


def pyav_reader(url: str, decode: bool, counters: Counters) -> None:
    options = {"rtsp_transport": "tcp", "allowed_media_types": "video", "timeout": "10000000", **LIVE_PROBE}
    with av.open(url, "r", format="rtsp", options=options, timeout=(10.0, None)) as container:
        stream = container.streams.video[0]
        decoder = av.CodecContext.create(stream.codec_context.name, "r")
        decoder.thread_count = 1
        if stream.codec_context.extradata:
            decoder.extradata = stream.codec_context.extradata
        for packet in container.demux(stream):
            if packet.size == 0:
                continue
            counters.units += 1
            counters.bytes += packet.size
            if decode:
                counters.frames += len(decoder.decode(packet))


def stream_kinds(mode: str, url: str) -> list[tuple[str, str]]:
    """(url, what its units go to) for one camera in this mode; a *-camera mode reads its main and sub."""
    sub = url.rsplit("/", 1)[0] + "/sub"
    if mode.endswith("camera"):
        return [(url, "packet" if mode.startswith("py-") else "count"), (sub, "decode")]
    kind = "decode" if "decode" in mode else "packet" if "packet" in mode else "count"
    return [(url, kind)]


def worker(mode: str, urls: list[str]) -> None:
    """Read until stdin closes; print READY once every stream delivers, and the counts for each stdin line."""
    streams = [(u, kind, Counters()) for url in urls for u, kind in stream_kinds(mode, url)]
    ready = threading.Event()
    if mode.startswith("pyav"):
        for url, kind, count in streams:
            threading.Thread(target=pyav_reader, args=(url, kind == "decode", count), daemon=True).start()
        while not all(c.units for _, _, c in streams):
            time.sleep(0.1)
        ready.set()
    else:
        threading.Thread(target=functools.partial(asyncio.run, depay_worker(streams, ready)), daemon=True).start()
    ready.wait()
    print("READY", flush=True)
    for _ in sys.stdin:  # a line asks for the counts so far, summed over the streams
        print(
            json.dumps([sum(column) for column in zip(*(dataclasses.astuple(c) for *_, c in streams), strict=True)]),
            flush=True,
        )


# -- the parent side: the server, one subprocess per mode, the window


@dataclasses.dataclass
class Row:
    n: int
    round: int
    mode: str
    cpu_per_camera: float  # % of one core
    sys_share: float  # % of the CPU time spent in the kernel (from 10 ms ticks: rough)
    units_s: float  # per camera: access units (PyAV packets), bytes, decoded frames, socket reads with data
    kbytes_s: float
    frames_s: float
    reads_s: float
    load1: float  # the machine's 1-minute load average at the window's start
    machine_busy: float  # % of all CPUs busy over the window


def read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    """One line of a worker's stdout, or RuntimeError after `timeout` seconds."""
    box: list[str] = []
    reader = threading.Thread(target=lambda: box.append(proc.stdout.readline() if proc.stdout else ""), daemon=True)
    reader.start()
    reader.join(timeout)
    if not box or not box[0]:
        raise RuntimeError(f"worker gave no line within {timeout:.0f} s (exit code {proc.poll()})")
    return box[0].strip()


def counts(procs: list[subprocess.Popen[str]]) -> list[int]:
    """The worker's counts so far (units, bytes, frames, reads); none for ffmpeg recorders."""
    if procs[0].stdin is None:
        return [0, 0, 0, 0]
    procs[0].stdin.write("\n")
    procs[0].stdin.flush()
    return list(json.loads(read_line(procs[0], 10)))


def cpu(procs: list[subprocess.Popen[str]]) -> tuple[int, int, int]:
    """(on-CPU ns, user ticks, system ticks) summed over the processes; the ticks (10 ms) only for the split."""
    stats = [Path(f"/proc/{p.pid}/stat").read_text() for p in procs]
    fields = [text[text.rindex(")") + 2 :].split() for text in stats]
    return sum(task_ns(p.pid) for p in procs), sum(int(f[11]) for f in fields), sum(int(f[12]) for f in fields)


def measure(n: int, round_: int, mode: str, urls: list[str], args: argparse.Namespace) -> Row:
    """One mode in its own process(es): CPU over the window after a warm-up, and what it received."""
    procs: list[subprocess.Popen[str]] = []
    with tempfile.TemporaryDirectory(prefix="rtp-probe-") as tmp:
        try:
            if mode == "ffmpeg-recorder":
                for i, url in enumerate(urls):
                    (Path(tmp) / f"cam{i:02d}").mkdir()
                    command = recorder_command(url, Path(tmp) / f"cam{i:02d}")
                    procs.append(subprocess.Popen(command, stdin=subprocess.DEVNULL, text=True))
            else:
                command = [sys.executable, str(Path(__file__)), "--worker", mode, *urls]
                procs.append(subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
                if read_line(procs[0], 60) != "READY":
                    raise RuntimeError(f"{mode}: the worker did not say READY")
            time.sleep(args.warmup)
            counts0, cpu0, machine0, t0 = counts(procs), cpu(procs), machine_ticks(), time.monotonic()
            load = os.getloadavg()[0]
            time.sleep(args.seconds)
            counts1, cpu1, machine1, window = counts(procs), cpu(procs), machine_ticks(), time.monotonic() - t0
            if any(p.poll() is not None for p in procs):
                raise RuntimeError(f"{mode}: a process exited during the window")
        finally:
            for p in procs:
                p.stdin.close() if p.stdin else p.terminate()  # a worker exits when its stdin closes
            for p in procs:
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
    units, size, frames, reads = ((b - a) / n / window for a, b in zip(counts0, counts1, strict=True))
    user, kernel = cpu1[1] - cpu0[1], cpu1[2] - cpu0[2]
    busy = (machine1[0] - machine0[0]) / max(1, machine1[1] - machine0[1]) * 100
    cpu_per_camera = (cpu1[0] - cpu0[0]) / 1e9 / window * 100 / n
    kernel_share = kernel / max(1, user + kernel) * 100
    return Row(n, round_, mode, cpu_per_camera, kernel_share, units, size / 1e3, frames, reads, load, busy)


async def run(args: argparse.Namespace) -> list[Row]:
    rendering = await asyncio.to_thread(bench_rendering, Path(args.cache), 5)  # 5 fps 512 kbit/s sub, as pipeline.py
    modes = args.modes.split(",")
    rows: list[Row] = []
    for n in sorted({int(v) for v in args.n.split(",")}):
        names = camera_names(n)
        async with RtspServer(dict.fromkeys(names, rendering)) as server:
            for round_ in range(args.rounds):
                # Alternate the order each round, so a drift in the machine's load falls on every mode alike.
                for mode in modes if round_ % 2 == 0 else modes[::-1]:
                    role = "sub" if mode in SUB_MODES else "main"
                    urls = [f"rtsp://{HOST}:{server.port}/{name}/{role}" for name in names]
                    try:
                        row = await asyncio.to_thread(measure, n, round_, mode, urls, args)
                    except RuntimeError as exc:
                        print(f"N={n} {mode}: failed: {exc}", flush=True)
                        continue
                    rows.append(row)
                    print(
                        f"N={n} round {round_} {mode}: {row.cpu_per_camera:.3f}% a camera, {row.units_s:.2f} units/s, "
                        f"{row.kbytes_s:.1f} kB/s, load {row.load1:.2f}, machine {row.machine_busy:.0f}%",
                        flush=True,
                    )
        write_report(rows, args)  # after each N, so a later N that fails loses nothing
    return rows


def table(rows: list[Row]) -> str:
    lines = [
        "| N | mode | % of a core per camera, each round | median | vs PyAV, same round | vs ffmpeg recorder, "
        "same round | kernel share | units/s | kB/s | frames decoded/s | socket reads/s | load avg | machine busy |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for n in sorted({r.n for r in rows}):
        by_round: dict[int, dict[str, float]] = {}
        for r in rows:
            if r.n == n:
                by_round.setdefault(r.round, {})[r.mode] = r.cpu_per_camera

        def ratio(mode: str, base: str, by_round: dict[int, dict[str, float]] = by_round) -> str:
            ratios = [m[mode] / m[base] for m in by_round.values() if mode in m and m.get(base)]
            return f"{statistics.median(ratios):.2f}x" if ratios else "-"

        for mode in MODES:
            mine = [r for r in rows if r.n == n and r.mode == mode]
            if not mine:
                continue
            med = {
                k: statistics.median(getattr(r, k) for r in mine) for k in dataclasses.asdict(mine[0]) if k != "mode"
            }
            counted = mode != "ffmpeg-recorder"
            lines.append(
                f"| {n} | {mode} | {', '.join(f'{r.cpu_per_camera:.3f}' for r in mine)} | {med['cpu_per_camera']:.3f}% "
                f"| {ratio(mode, BASE[mode])} | {ratio(mode, 'ffmpeg-recorder')} | {med['sys_share']:.0f}% "
                + (
                    f"| {med['units_s']:.2f} | {med['kbytes_s']:.1f} | {med['frames_s']:.2f} | {med['reads_s']:.1f} "
                    if counted
                    else "| - | - | - | - "
                )
                + f"| {min(r.load1 for r in mine):.2f}-{max(r.load1 for r in mine):.2f} | {med['machine_busy']:.0f}% |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--n", default="1,16", help="camera counts, comma-separated")
    parser.add_argument("--seconds", type=float, default=30.0, help="window per mode (30: two loops of the scene)")
    parser.add_argument("--warmup", type=float, default=4.0, help="seconds after every stream delivers")
    parser.add_argument("--rounds", type=int, default=2, help="times each mode is measured per N, interleaved")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "rtp_probe.md"))
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)  # MODE URL...: one measured process
    add_cache_argument(parser)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], args.worker[1:])
        return
    rows = asyncio.run(run(args))
    if not rows:
        sys.exit("nothing measured")
    print(table(rows))


def write_report(rows: list[Row], args: argparse.Namespace) -> None:
    out = Path(args.out)
    head = (
        "# RTP probe: a Python RTSP/RTP depacketiser against FFmpeg's RTSP demuxer\n\n"
        f"Date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC  \n"
        f"Machine: {describe()}, PyAV {av.__version__}; shared with other benchmarks (load average per row)  \n"
        f"Command: `.venv/bin/python bench/rtp_probe.py {' '.join(sys.argv[1:])}`\n\n"
    )
    # The hand-written reading below the table is kept across runs.
    previous = out.read_text() if out.exists() else ""
    reading = previous[previous.index("## Reading") :] if "## Reading" in previous else ""
    out.write_text(head + table(rows) + ("\n" + reading if reading else ""))


if __name__ == "__main__":
    main()
