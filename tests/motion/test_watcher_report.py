"""The motion watcher's report: every field of its status, as it was when asked."""

from __future__ import annotations

from dataclasses import asdict, fields

from camhub.config import MotionConfig
from camhub.motion.watcher import CameraMotion, MotionStatus


class _Events:
    def publish_threadsafe(self, event: object) -> None:
        pass


def test_the_report_has_every_status_field_and_does_not_follow_later_changes() -> None:
    watcher = CameraMotion("yard", MotionConfig(), _Events())
    watcher.status.score, watcher.status.zones, watcher.status.events = 0.25, ("drive",), 3
    report = watcher.report()
    assert report == asdict(watcher.status)
    assert set(report) == {f.name for f in fields(MotionStatus)}
    watcher.status.score, watcher.status.zones = 0.5, ("gate",)
    assert report["score"] == 0.25 and report["zones"] == ("drive",)
