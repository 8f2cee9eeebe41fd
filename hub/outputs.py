"""Outputs: integrations that tell the world what the hub does (MQTT), and what they are given.

An output integration registers a factory (`SetupContext.register_output`);
the hub calls it once per run with an `OutputContext` and runs the result as
a task of its TaskGroup, cancelled when the hub stops. An output reads the
bus, the cameras' status and settings, and the privacy counts; it changes
settings only through `CameraSettings.change`, which writes the audit log
first. It never sees footage beyond a clip's snapshot file, a token or a
password other than its own config's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from camhub.bus import Bus
from camhub.clock import Clock
from camhub.config import HubConfig
from camhub.settings import CameraSettings


class Cameras(Protocol):
    """The running cameras, as an output sees them."""

    def names(self) -> list[str]: ...

    def status(self, camera: str) -> Mapping[str, Any] | None:
        """The camera's status (as /api/cameras shows it), None for a camera that is not running."""
        ...


@dataclass(frozen=True)
class OutputContext:
    config: HubConfig
    bus: Bus
    hub_id: str  # stable per data folder
    version: str  # camhub's
    data_dir: Path  # clips' snapshot paths are relative to it
    cameras: Cameras
    settings: CameraSettings
    privacy_counts: Callable[[], Awaitable[Mapping[str, int]]]  # pending_requests, active_overrides
    latest_checkpoint: Callable[[], str | None]  # the audit log's latest signed note
    clock: Clock


class Output(Protocol):
    async def run(self) -> None:
        """Run until cancelled (the hub stops); say goodbye on the way out where the protocol has one."""
        ...

    def health(self) -> dict[str, object]:
        """What /api/health shows for this output, as JSON values."""
        ...


# Called once per run; None when the config gives the output nothing to do (MQTT without a broker).
OutputFactory = Callable[[OutputContext], Output | None]
