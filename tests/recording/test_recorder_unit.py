"""The recorder's rules on synthetic packets: pre-roll from whole GOPs, and no retry storm.

The clip writer is replaced by a recording fake here (the real one is tested
end to end in test_recording.py); packets are real av.Packets.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import av
import pytest

import camhub.recording.recorder
from camhub.capture.media import Packet, StreamInfo
from camhub.recording.recorder import CameraRecorder
from camhub.recording.ring import PacketRing

FPS, GOP = 10, 10  # one keyframe a second


def packets(n: int, t0: float = 1000.0) -> list[Packet]:
    return [Packet(av.Packet(bytes([i % 256]) * 10), t0 + i / FPS, i % GOP == 0) for i in range(n)]


def test_ring_keeps_whole_gops_covering_the_pre_roll() -> None:
    ring = PacketRing(seconds=1.5)
    stream = packets(50)
    for p in stream:
        ring.add(p)
    newest = stream[-1].capture_time
    kept = ring.since(newest - 1.5)
    assert kept[0].keyframe and kept[0].capture_time <= newest - 1.5
    assert newest - kept[0].capture_time < 1.5 + 1.0  # within one GOP of the pre-roll point
    assert ring.since(0.0)[0].keyframe  # earlier than the buffer: its oldest keyframe


def test_ring_is_bounded_in_bytes_dropping_the_oldest_gops_first() -> None:
    # 10-byte packets, 10 a GOP: 100 bytes a GOP; a 60 s pre-roll would keep everything, the bound does not.
    ring = PacketRing(seconds=60.0, max_bytes=350)
    stream = packets(100)
    for p in stream:
        ring.add(p)
        assert ring.bytes <= 350
    kept = ring.since(0.0)
    assert kept == stream[70:], "the three newest GOPs (300 bytes) and nothing older"
    assert ring.bytes == 300


def test_a_gop_bigger_than_the_bound_is_not_kept_and_the_next_keyframe_starts_again() -> None:
    ring = PacketRing(seconds=60.0, max_bytes=350)
    huge = [Packet(av.Packet(b"x" * 100), 1000.0 + i / FPS, i == 0) for i in range(5)]  # one 500-byte GOP
    for p in huge:
        ring.add(p)
        assert ring.bytes <= 350
    assert ring.since(0.0) == []
    assert ring.newest_time() is None
    after = packets(10, t0=1001.0)
    for p in after:
        ring.add(p)
    assert ring.since(0.0) == after


def test_ring_keeps_nothing_before_the_first_keyframe() -> None:
    ring = PacketRing(seconds=5.0)
    stream = packets(25)[5:]  # joins mid-GOP: the first keyframe is the 6th packet
    for p in stream:
        ring.add(p)
    assert ring.since(0.0) == stream[5:]
    assert ring.bytes == 10 * len(stream[5:])


class FlakyWriter:
    made: ClassVar[list[FlakyWriter]] = []
    fail_first = True

    def __init__(self, path: Path, info: StreamInfo, template: Any) -> None:
        self.path, self.written = path, []
        self.packets, self._first_capture = 0, None
        self.fail = FlakyWriter.fail_first
        FlakyWriter.fail_first = False
        FlakyWriter.made.append(self)

    def write(self, packet: Packet) -> None:
        if self.fail:
            raise OSError(22, "Invalid argument")
        self.written.append(packet)
        self.packets += 1
        self._first_capture = self._first_capture or packet.capture_time

    def abort(self) -> None:
        pass


def test_a_failed_clip_retries_from_the_next_keyframe_not_the_same_pre_roll(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(camhub.recording.recorder, "make_writer", FlakyWriter)
    FlakyWriter.made, FlakyWriter.fail_first = [], True
    recorder = CameraRecorder("cam", tmp_path, finisher=None, pre_roll=1.0)  # type: ignore[arg-type]
    recorder._info = StreamInfo("h264", 64, 64, FPS)
    stream = packets(60)
    for p in stream[:25]:
        recorder.on_packet(p)
    recorder.start(stream[24].capture_time)
    for p in stream[25:]:
        recorder.on_packet(p)
    first, second = FlakyWriter.made[0], FlakyWriter.made[1]
    assert len(FlakyWriter.made) == 2, "one failure, one retry: no storm of reopened clips"
    assert "clip write failed" in (recorder.status.error or "")
    assert second.written[0].keyframe
    assert second.written[0].capture_time > stream[25].capture_time  # a later GOP than the failed one
    assert first.written == []


@pytest.mark.parametrize("motion_delay", [0.0, 1.5])
def test_a_start_heard_late_still_finds_its_pre_roll_when_the_ring_keeps_the_delay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, motion_delay: float
) -> None:
    """motion.batch: the watcher hears of the frame that starts an event up to a batch late; by then the
    record input has read on, and a ring of only pre-roll + 0.5 s has dropped the GOP the clip needs."""
    monkeypatch.setattr(camhub.recording.recorder, "make_writer", FlakyWriter)
    FlakyWriter.made, FlakyWriter.fail_first = [], False
    recorder = CameraRecorder(
        "cam",
        tmp_path,
        finisher=None,  # type: ignore[arg-type]
        pre_roll=1.0,
        motion_delay=motion_delay,
    )
    recorder._info = StreamInfo("h264", 64, 64, FPS)
    stream = packets(80)
    began = stream[30].capture_time  # a keyframe: 3 s into the stream
    heard = 46  # the start reaches the recorder 1.5 s later
    for p in stream[:heard]:
        recorder.on_packet(p)
    recorder.start(began)
    for p in stream[heard:]:
        recorder.on_packet(p)
    first = FlakyWriter.made[0].written[0]
    if motion_delay:
        assert first.capture_time == stream[20].capture_time  # the keyframe 1 s (the pre-roll) before
    else:
        assert first.capture_time > began - 1.0  # the pre-roll's GOP was gone
    recorder.set_pre_roll(2.0)  # a pre-roll changed while the hub runs keeps the allowance
    assert recorder.ring.seconds == 2.0 + 0.5 + motion_delay


def test_a_clip_ends_at_its_events_end_even_when_the_record_input_reads_in_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A record input read every second (`RECORD_PACE`) hands the recorder its packets in batches,
    after the watcher already said the event ended: those captured up to the end belong in the clip."""
    monkeypatch.setattr(camhub.recording.recorder, "make_writer", FlakyWriter)
    FlakyWriter.made, FlakyWriter.fail_first = [], False
    recorder = CameraRecorder("cam", tmp_path, finisher=None, pre_roll=1.0)  # type: ignore[arg-type]
    recorder._info = StreamInfo("h264", 64, 64, FPS)
    closed: list[int] = []

    def close_clip(*_: object) -> None:  # the real one hands the clip to the finisher, which is not here
        if recorder._writer is not None:
            closed.append(recorder._writer.packets)
        recorder._writer = None

    monkeypatch.setattr(recorder, "_close_clip", close_clip)
    stream = packets(80)
    for p in stream[:20]:
        recorder.on_packet(p)
    recorder.start(stream[20].capture_time)
    for p in stream[20:40]:
        recorder.on_packet(p)
    end = stream[47].capture_time
    recorder.end(end)  # heard before the packets up to the end were read
    for p in stream[40:60]:  # the next batch: 2 s of packets
        recorder.on_packet(p)
    written = FlakyWriter.made[0].written
    assert closed == [len(written)], "the clip was closed once, when a packet after the end came"
    assert written[-1].capture_time == end, "every packet up to the event's end is in the clip, none after"
