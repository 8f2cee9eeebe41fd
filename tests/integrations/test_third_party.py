"""A third-party integration, installed by pip beside camhub, records a clip: nothing in camhub changes.

The test writes a small distribution, camhub-loopfile, that reads a local
video file under its own URL scheme `loop+file://`, declares stream_copy
and takes one option. It is packed as a wheel (a zip with its dist-info,
as any build backend makes it; made here so the test needs no build
backend and no network), installed by pip into a temporary site folder,
and found through its entry point by a real `camhub run` process that has
that folder on PYTHONPATH. The hub must record a motion clip from it that
ffprobe reads, with the source's own H.264 copied, not re-encoded.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from camhub.registry import ENTRY_POINT_GROUP
from camhub.sim.render import Rendering

from ..conftest import free_port

pytestmark = pytest.mark.timeout(240)

DIST, VERSION, PACKAGE = "camhub-loopfile", "0.1.0", "camhub_loopfile"
DEADLINE = 120.0  # seconds the hub gets to record a clip; generous, since the machine is shared

CODE = '''\
"""A looped local video file under its own URL scheme, loop+file://, as a third party writes one."""

from pydantic import Field

from camhub.capture.media import ContainerStream
from camhub.config import InputConfig
from camhub.registry import Options, SetupContext


class LoopOptions(Options):
    realtime: bool = Field(default=True, description="play at the file's own rate")


class LoopFileSource:
    def __init__(self, config: InputConfig, options: LoopOptions) -> None:
        self._path = config.url.removeprefix("loop+file://")
        self._realtime = options.realtime
        self._timeout = config.timeout
        self.description = f"looped file {self._path}"

    def open(self) -> ContainerStream:
        return ContainerStream(self._path, loop=True, realtime=self._realtime, timeout=self._timeout)


def setup(ctx: SetupContext) -> None:
    ctx.register_source(LoopFileSource, options=LoopOptions)
'''

MANIFEST = {
    "domain": "loopfile",
    "name": "Looped local file (third-party example)",
    "kind": "source",
    "version": VERSION,
    "url_schemes": ["loop+file"],
    "capabilities": ["stream_copy"],
}


def record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build_wheel(folder: Path) -> Path:
    """A pure-Python wheel of camhub-loopfile, laid out as PEP 427 says."""
    info = f"{PACKAGE}-{VERSION}.dist-info"
    files = {
        f"{PACKAGE}/__init__.py": CODE.encode(),
        f"{PACKAGE}/manifest.json": json.dumps(MANIFEST, indent=2).encode(),
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {DIST}\nVersion: {VERSION}\n".encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: camhub-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{info}/entry_points.txt": f"[{ENTRY_POINT_GROUP}]\nloopfile = {PACKAGE}\n".encode(),
    }
    record = [record_line(name, data) for name, data in files.items()] + [f"{info}/RECORD,,"]
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = folder / f"{PACKAGE}-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return wheel


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """camhub-loopfile, installed by pip (offline, without dependencies) into its own folder."""
    folder = tmp_path_factory.mktemp("third-party")
    target = folder / "site"
    wheel = build_wheel(folder)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        timeout=120,
        capture_output=True,
    )
    assert (target / PACKAGE / "manifest.json").is_file()
    assert (target / f"{PACKAGE}-{VERSION}.dist-info" / "entry_points.txt").is_file()
    return target


def camhub(site: Path, *args: str, **kwargs: object) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}
    return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-m", "camhub.cli.main", *args], env=env, text=True, **kwargs
    )


def write_config(folder: Path, video: Path, options: str) -> Path:
    config = folder / "camhub.yaml"
    config.write_text(
        textwrap.dedent(f"""\
            data_dir: data
            discovery: {{interfaces: [127.0.0.1]}}
            retention: {{min_free_bytes: 0}}
            cameras:
              porch:
                inputs:
                  - url: loop+file://{video}
                    options: {options}
                motion: {{post_roll: 1}}
                record: {{pre_roll: 1}}
            """)
    )
    return config


def ffprobe(path: Path, *args: str) -> dict[str, Any]:
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v", *args, "-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert not result.stderr.strip(), result.stderr
    return dict(json.loads(result.stdout))


def packet_hashes(path: Path) -> list[str]:
    packets = ffprobe(path, "-show_entries", "packet=data_hash", "-show_data_hash", "MD5")["packets"]
    return [p["data_hash"] for p in packets]


def test_a_pip_installed_integration_records_a_clip(site: Path, sim_rendering: Rendering, tmp_path: Path) -> None:
    video = sim_rendering.sub.mp4  # 640x360 H.264, an object crosses it 2 to 5 s into each 10 s loop
    config = write_config(tmp_path, video, "{realtime: true}")
    data = tmp_path / "data"
    proc = camhub(site, "run", "-c", str(config), "--port", str(free_port()), stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + DEADLINE
        while not (clips := sorted(data.glob("clips/porch/*/*.mp4"))):
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, f"no clip from the loopfile camera in {DEADLINE:g} s"
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, stderr
    [stream] = ffprobe(clips[0], "-count_frames", "-show_entries", "stream=codec_name,width,height,nb_read_frames")[
        "streams"
    ]
    assert (stream["codec_name"], stream["width"], stream["height"]) == ("h264", 640, 360)
    assert int(stream["nb_read_frames"]) >= 15  # at least a second of the 15 fps file
    # Declared stream_copy: every packet of the clip is one of the file's own, byte for byte, not re-encoded.
    clip = packet_hashes(clips[0])
    assert clip and set(clip) <= set(packet_hashes(video))


def test_its_options_are_checked_with_their_key_path(site: Path, sim_rendering: Rendering, tmp_path: Path) -> None:
    config = write_config(tmp_path, sim_rendering.sub.mp4, "{realtime: sometimes}")
    proc = camhub(site, "run", "-c", str(config), "--port", "0", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert stderr.strip() == (
        f"camhub: {config}: cameras.porch.inputs[0].options.realtime Input should be a valid boolean, "
        "unable to interpret input (got 'sometimes')"
    )
