"""A clip carries the motion zones its event touched: recorder, finisher, index, bus.

The recorder's side runs on synthetic packets with a fake writer and a
finisher that notes what it is given (as in test_recorder_unit.py); the
finisher's side on a real MP4, a real index file and a real bus.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import av
import pytest

import camhub.recording.recorder
from camhub.bus import Bus
from camhub.capture.media import Packet, StreamInfo
from camhub.recording.clipwriter import WrittenClip
from camhub.recording.finisher import ClipFinisher, ClipSaved
from camhub.recording.recorder import CameraRecorder
from camhub.store.files import PARTIAL, clip_path
from camhub.store.index import MAX_CLIP_SECONDS, open_index, query_clips, reading_index

T0 = 1_790_000_000.0


class NotingWriter:
    """Takes every packet; `close` says what a real writer would have written."""

    def __init__(self, path: Path, info: StreamInfo, template: Any) -> None:
        self.path, self.packets, self._first_capture, self._last = path, 0, None, 0.0

    def write(self, packet: Packet) -> None:
        self.packets += 1
        self._first_capture = self._first_capture or packet.capture_time
        self._last = packet.capture_time

    def close(self) -> WrittenClip:
        first = self._first_capture or 0.0
        return WrittenClip(self.path, first, self._last - first, self.packets, "h264", 64, 64)

    def abort(self) -> None:
        pass


class NotingFinisher:
    def __init__(self) -> None:
        self.submitted: list[tuple[float, tuple[str, ...]]] = []

    def submit(self, camera: str, written: WrittenClip, peak: Any, zones: tuple[str, ...] = ()) -> None:
        self.submitted.append((written.first_capture, zones))


def packet(t: float) -> Packet:
    return Packet(av.Packet(b"\x00" * 10), t, True)  # every packet a keyframe: one a second


@pytest.fixture
def recorder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[CameraRecorder, NotingFinisher]:
    monkeypatch.setattr(camhub.recording.recorder, "make_writer", NotingWriter)
    finisher = NotingFinisher()
    recorder = CameraRecorder("yard", tmp_path, finisher=finisher, pre_roll=1.0)  # type: ignore[arg-type]
    recorder._info = StreamInfo("h264", 64, 64, 1.0)
    return recorder, finisher


def test_the_end_commands_zones_go_with_the_clip(recorder: tuple[CameraRecorder, NotingFinisher]) -> None:
    rec, finisher = recorder
    for t in range(5):
        rec.on_packet(packet(T0 + t))
    rec.start(T0 + 4)
    for t in range(5, 10):
        rec.on_packet(packet(T0 + t))
    rec.end(T0 + 9, None, ("gate", "drive"))
    rec.on_packet(packet(T0 + 10))
    assert [zones for _, zones in finisher.submitted] == [("gate", "drive")]


def test_a_clip_closed_before_its_event_ended_has_no_zones(recorder: tuple[CameraRecorder, NotingFinisher]) -> None:
    rec, finisher = recorder
    rec.start(T0)
    t = T0
    while t < T0 + MAX_CLIP_SECONDS:  # past the split, a little before the index's maximum
        rec.on_packet(packet(t))
        t += 1
    rec.on_disconnect()  # the second part, cut before the event ended
    assert [zones for _, zones in finisher.submitted] == [(), ()]
    rec.start(t)
    rec.on_packet(packet(t))
    rec.end(t + 1, None, ("drive",))
    rec.on_disconnect()  # the end command is applied before the disconnect closes the clip
    assert [zones for _, zones in finisher.submitted] == [(), (), ("drive",)]


def partial_clip(data: Path, clip_mp4: Path) -> Path:
    """A copy of a real MP4 as camera yard's clip being written at T0, under its `.partial` name."""
    partial = data / clip_path(data, "yard", T0)
    partial = partial.with_name(partial.name + PARTIAL)
    partial.parent.mkdir(parents=True)
    shutil.copy(clip_mp4, partial)
    return partial


async def test_the_finisher_indexes_the_zones_and_announces_them(tmp_path: Path, clip_mp4: Path) -> None:
    data = tmp_path / "data"
    db = open_index(data)
    bus = Bus()
    finisher = ClipFinisher(data, db, bus)
    try:
        with bus.subscribe(ClipSaved) as saved:
            partial = partial_clip(data, clip_mp4)
            finisher.submit(
                "yard", WrittenClip(partial, T0, 2.0, 20, "h264", 320, 240), None, ("gate", "drive", "gate")
            )
            event = await asyncio.wait_for(saved.get(), 30)
        assert event.clip.zones == ("drive", "gate")
        with reading_index(data) as read:
            (indexed,) = query_clips(read, zones=["gate"])
        assert indexed == event.clip
    finally:
        finisher.close()
        db.close()
