"""The simulated cameras' RTSP server, as seen from the venv.

The venv cannot import GObject introspection, so `RtspServer` runs
`gst_rtsp_server.py` (in this package) under Debian's /usr/bin/python3 and
talks to it through argv, a `READY <port>` line on stdout, and stdin: the
child exits when its stdin closes, which also happens when this process dies,
so it never outlives us. (PR_SET_PDEATHSIG is not used: it fires when the
*thread* that forked exits, which would kill the server whenever it was
started from a worker thread.)

Mounts: `/<camera>/main` and `/<camera>/sub` for each camera.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import json
import logging
import subprocess
import threading
import time
from collections.abc import Mapping
from pathlib import Path

from camhub.sim.render import Rendering

log = logging.getLogger(__name__)

SYSTEM_PYTHON = "/usr/bin/python3"
SCRIPT = Path(__file__).with_name("gst_rtsp_server.py")
HOST = "127.0.0.1"
# Pipelines per rendered stream of a shared server (`RtspServer(shared=True)`).
SHARED_PHASES = 8


class RtspUnavailable(RuntimeError):
    """Debian's GStreamer RTSP server cannot be used on this machine."""


@functools.cache
def rtsp_available() -> bool:
    """True when /usr/bin/python3 can import gi's GstRtspServer."""
    probe = (
        "import gi; gi.require_version('Gst', '1.0'); "
        "gi.require_version('GstRtspServer', '1.0'); "
        "from gi.repository import GstRtspServer"
    )
    try:
        return subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


class RtspServer:
    """GstRtspServer in a child process, serving rendered scenes on 127.0.0.1.

    `port=0` picks a free port on the first start; later starts reuse it, so a
    test can stop and start the server to exercise a client's reconnection.
    """

    def __init__(
        self,
        cameras: Mapping[str, Rendering],
        port: int = 0,
        credentials: tuple[str, str] | None = None,
        loop_start: float | None = None,
        shared: bool = False,
    ) -> None:
        self.cameras = dict(cameras)
        # A few pipelines per rendered stream for all the cameras that show it (clients join mid-GOP),
        # instead of one per client: for benchmarks, where the server's CPU is not what is measured.
        self.shared = shared
        self.port = port
        self.credentials = credentials
        # Loop position 0 in wall-clock seconds; shared with the HTTP server
        # so every endpoint shows the same moment of the scene.
        self.loop_start = time.time() if loop_start is None else loop_start
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: collections.deque[str] = collections.deque(maxlen=40)
        self._drain: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def url(self, camera: str, role: str = "main", with_credentials: bool = True) -> str:
        """rtsp://[user:password@]127.0.0.1:<port>/<camera>/<role>."""
        userinfo = ""
        if with_credentials and self.credentials:
            userinfo = f"{self.credentials[0]}:{self.credentials[1]}@"
        return f"rtsp://{userinfo}{HOST}:{self.port}/{camera}/{role}"

    def _config(self) -> str:
        mounts: list[dict[str, object]] = []
        for i, (name, rendering) in enumerate(self.cameras.items()):
            for role, files in (("main", rendering.main), ("sub", rendering.sub)):
                mount: dict[str, object] = {"path": f"/{name}/{role}", "codec": files.codec}
                mount |= {"annexb": str(files.annexb), "index": str(files.index)}
                if self.shared:
                    # Cameras take turns over SHARED_PHASES pipelines of each stream. A pipeline's clock starts
                    # with its first client, so their frames do not all arrive at one moment, as real cameras'.
                    mount["share"] = f"{files.annexb}#{i % SHARED_PHASES}"
                mounts.append(mount)
        return json.dumps(
            {
                "host": HOST,
                "port": self.port,
                "loop_start": self.loop_start,
                "credentials": list(self.credentials) if self.credentials else None,
                "mounts": mounts,
            }
        )

    async def start(self, timeout: float = 20.0) -> None:
        """Start the child and return once the port accepts connections."""
        if self.running:
            return
        if not await asyncio.to_thread(rtsp_available):
            raise RtspUnavailable(
                f"{SYSTEM_PYTHON} cannot import gi.repository.GstRtspServer; install "
                "python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-{good,bad,ugly}"
            )
        deadline = time.monotonic() + timeout
        while True:
            try:
                await self._spawn(deadline)
                break
            except RtspUnavailable:
                # A just-closed port can linger briefly; retry until the deadline.
                if self.port == 0 or time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
        await _wait_port(self.port, deadline)

    async def _spawn(self, deadline: float) -> None:
        # Popen on the loop's thread: it is quick, and the child's stdin must
        # belong to this process for its whole life.
        proc = subprocess.Popen(  # noqa: ASYNC220 (see above)
            [SYSTEM_PYTHON, str(SCRIPT), self._config()],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self._proc = proc
        self._stderr.clear()
        self._drain = threading.Thread(target=self._drain_stderr, args=(proc,), daemon=True)
        self._drain.start()
        assert proc.stdout is not None  # stdout=PIPE
        try:
            line = await asyncio.wait_for(
                asyncio.to_thread(proc.stdout.readline),
                max(0.1, deadline - time.monotonic()),
            )
        except TimeoutError:
            line = b""
        text = line.decode(errors="replace").strip()
        if not text.startswith("READY "):
            await self.stop()
            detail = text or "no READY line"
            tail = " | ".join(self._stderr)[-800:]
            raise RtspUnavailable(f"RTSP server on {HOST}:{self.port} did not start: {detail}; stderr: {tail}")
        self.port = int(text.split()[1])
        log.info("RTSP server listening on %s:%d (pid %d)", HOST, self.port, proc.pid)

    def _drain_stderr(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stderr is not None
        for raw in proc.stderr:
            line = raw.decode(errors="replace").rstrip()
            self._stderr.append(line)
            log.debug("gst-rtsp: %s", line)

    async def stop(self) -> None:
        """Stop the child (stdin EOF, then SIGTERM, then SIGKILL) and reap it."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        await asyncio.to_thread(_reap, proc, self._drain)

    async def __aenter__(self) -> RtspServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


def _reap(proc: subprocess.Popen[bytes], drain: threading.Thread | None) -> None:
    for step in ("stdin", "terminate", "kill"):
        if step == "stdin" and proc.stdin is not None:
            try:
                proc.stdin.close()
            except OSError:
                pass
        elif step == "terminate":
            proc.terminate()
        elif step == "kill":
            proc.kill()
        try:
            proc.wait(timeout=3)
            break
        except subprocess.TimeoutExpired:
            continue
    if drain is not None:
        drain.join(timeout=3)  # stderr hits EOF once the child is gone
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()


async def _wait_port(port: int, deadline: float) -> None:
    while True:
        try:
            _, writer = await asyncio.open_connection(HOST, port)
            writer.close()
            await writer.wait_closed()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RtspUnavailable(f"RTSP server never accepted connections on {HOST}:{port}") from None
            await asyncio.sleep(0.05)
