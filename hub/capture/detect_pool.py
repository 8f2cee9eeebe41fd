"""The hub's side of its detect processes (`camhub.capture.detect_process`).

`DetectProcesses` starts `detect_processes` worker processes and gives each
camera with a detect input of its own to the one running fewest. The
camera's pipeline gets a `RemoteInput` in place of that input's reader: its
status is what the process last reported, its watcher (`RemoteMotion`) and
live view (`RemotePictures`) forward settings and requests, and the
process's recorder commands reach the camera's recorder here, on the
worker's receiving thread, as the watcher's would on a reader thread.

A process that ends (a crash, an out-of-memory kill) takes only its detect
inputs with it: each goes "retrying" with the reason, an open motion event
ends at its last analysed frame (the recorder closes its clip, MQTT hears
the end), and the process is started again with backoff, its cameras added
again with the settings in force. Recording goes on throughout: the record
inputs never left the hub.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import multiprocessing
import queue
import threading
import time
from dataclasses import replace
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

import av

from camhub.bus import Bus
from camhub.capture import detect_process
from camhub.capture.backoff import Backoff
from camhub.capture.detect_process import DetectSpec
from camhub.capture.remote_detect import RemoteInput
from camhub.clock import Clock
from camhub.motion.watcher import ClipCommands
from camhub.recording.finisher import Peak

log = logging.getLogger(__name__)

RESTART_FIRST = 1.0  # seconds before a detect process that ended is started again; doubled each time, capped
RESTART_CAP = 30.0
STABLE_AFTER = 60.0  # seconds a process must run before its restart backoff is forgotten
STOP_WAIT = 5.0  # seconds a stopping process gets to close its cameras before it is killed
# Messages waiting to be sent to one process. The event loop never writes to a pipe itself: a process that
# stops reading (stopped, swapped out) would block it once the pipe is full. Past this, a message is dropped.
OUTBOX = 1000


class DetectProcesses:
    """The hub's detect processes, each its cameras' detect inputs under its own GIL."""

    def __init__(self, count: int, bus: Bus, clock: Clock, secrets: tuple[str, ...] = ()) -> None:
        if count < 1:
            raise ValueError(f"detect processes: {count} asked for, at least 1 is needed")
        self.bus = bus
        self.clock = clock
        self.secrets = secrets
        self._workers = [DetectWorker(i, self) for i in range(count)]
        self._keys = itertools.count(1)
        self._requests = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[tuple[int, bytes] | None]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        """Start every process (on the event loop, which picture requests are answered on)."""
        self._loop = asyncio.get_running_loop()
        for worker in self._workers:
            worker.start()

    def input_for(self, spec: DetectSpec, recorder: ClipCommands | None, source: str) -> RemoteInput:
        """A camera's detect input to run in a process, `source` its description for status and logs;
        `spec.key` is given here, unique per start."""
        return RemoteInput(self, replace(spec, key=f"{spec.camera}#{next(self._keys)}"), recorder, source)

    def assign(self, remote: RemoteInput) -> DetectWorker:
        worker = min(self._workers, key=lambda w: len(w.inputs))
        worker.add(remote)
        return worker

    def pids(self) -> list[int]:
        """The running processes' ids (benchmarks count their CPU and memory with the hub's)."""
        return [pid for worker in self._workers if (pid := worker.pid) is not None]

    async def ask_picture(
        self, worker: DetectWorker, key: str, after: int, wait: bool, timeout: float
    ) -> tuple[int, bytes] | None:
        request = next(self._requests)
        future = self._waiting[request] = asyncio.get_running_loop().create_future()
        try:
            worker.send(("picture", key, request, after, wait))
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            return None
        finally:
            self._waiting.pop(request, None)

    def answer_picture(self, request: int, seq: int, data: bytes | None) -> None:
        """On a receiving thread: a picture came (None: the process had none)."""

        def answer() -> None:
            future = self._waiting.get(request)
            if future is not None and not future.done():
                future.set_result(None if data is None else (seq, data))

        if self._loop is not None:
            try:
                self._loop.call_soon_threadsafe(answer)
            except RuntimeError:
                pass  # the loop closed: nobody waits

    async def close(self) -> None:
        """Stop every process: each closes its connections, then it is waited for (killed after STOP_WAIT)."""
        await asyncio.to_thread(self._close)

    def _close(self) -> None:
        for worker in self._workers:
            worker.stop()
        for worker in self._workers:
            worker.join()


class DetectWorker:
    """One detect process, its pipe, and the thread that receives from it and restarts it when it ends."""

    def __init__(self, index: int, pool: DetectProcesses) -> None:
        self.index = index
        self._pool = pool
        self.inputs: dict[str, RemoteInput] = {}
        self._lock = threading.Lock()  # `inputs`, and the process and its pipe as they are replaced
        self._conn: Connection | None = None
        self._process: BaseProcess | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"detect-process-{index}", daemon=True)
        self._outbox: queue.Queue[tuple[Any, ...] | None] = queue.Queue(OUTBOX)
        self._resync = False  # a message was dropped; the sender syncs the process once it has caught up
        self._sender = threading.Thread(target=self._send_forever, name=f"detect-send-{index}", daemon=True)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None and self._process.is_alive() else None

    def start(self) -> None:
        self._spawn()
        self._thread.start()
        self._sender.start()

    def _spawn(self) -> None:
        context = multiprocessing.get_context("spawn")  # never fork a process with threads
        ours, theirs = context.Pipe()
        level = logging.getLogger().getEffectiveLevel()
        process = context.Process(
            target=detect_process.main,
            args=(theirs, level, self._pool.secrets),
            name=f"camhub-detect-{self.index}",
            daemon=True,
        )
        process.start()
        theirs.close()
        with self._lock:
            old, self._conn, self._process = self._conn, ours, process
            for remote in self.inputs.values():
                self.send(("add", remote.spec.key, remote.spec))
        if old is not None:
            old.close()  # the ended process's end; a send on it fails and is dropped

    def send(self, message: tuple[Any, ...]) -> None:
        """Queue `message` for the process; from any thread, never blocking."""
        try:
            self._outbox.put_nowait(message)
        except queue.Full:
            self._resync = True
            log.warning(
                "detect process %d takes no messages; %r dropped, its cameras synced later", self.index, message[0]
            )

    def _send_forever(self) -> None:
        while (message := self._outbox.get()) is not None:
            conn = self._conn
            if conn is None:
                continue
            try:
                conn.send(message)
                if self._resync and self._outbox.empty():
                    # Messages were dropped: the process is sent every input it should run, with its settings.
                    self._resync = False
                    with self._lock:
                        specs = [remote.spec for remote in self.inputs.values()]
                    conn.send(("sync", "", specs))
            except (OSError, ValueError):
                pass  # the process ended: the receiving thread restarts it and sends its cameras again

    def add(self, remote: RemoteInput) -> None:
        with self._lock:
            self.inputs[remote.spec.key] = remote
            self.send(("add", remote.spec.key, remote.spec))

    def remove(self, remote: RemoteInput) -> None:
        with self._lock:
            if self.inputs.pop(remote.spec.key, None) is not None:
                self.send(("remove", remote.spec.key))

    def _run(self) -> None:
        backoff = Backoff(RESTART_FIRST, RESTART_CAP)
        while True:
            started = time.monotonic()
            self._receive_until_end()
            process = self._process
            assert process is not None
            process.join(STOP_WAIT if self._stop.is_set() else 1.0)
            if self._stop.is_set():
                return
            reason = f"detect process {self.index} ended (exit code {process.exitcode})"
            with self._lock:
                inputs = list(self.inputs.values())
            if time.monotonic() - started >= STABLE_AFTER:
                backoff.reset()
            delay = backoff.next_delay()
            log.error("%s; its %d detect input(s) start again in %.1f s", reason, len(inputs), delay)
            for remote in inputs:
                remote.lost(reason, self._pool.clock, self._pool.bus)
            if self._stop.wait(delay):
                return
            self._spawn()

    def _receive_until_end(self) -> None:
        conn = self._conn
        assert conn is not None
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                return
            except Exception:  # a message that cannot be read: what follows cannot be trusted either
                log.exception("detect process %d sent what cannot be read; it is restarted", self.index)
                if self._process is not None:
                    self._process.kill()
                return
            try:
                self._dispatch(message)
            except Exception:  # a message this hub cannot act on must not stop the others
                log.exception("detect process %d: message %r not handled", self.index, message[:1])

    def _dispatch(self, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "event":
            self._pool.bus.publish_threadsafe(message[1])
            return
        if kind == "picture":
            self._pool.answer_picture(*message[1:])
            return
        if kind == "statuses":
            for key, values, motion in message[2]:
                if (remote := self.inputs.get(key)) is not None:
                    remote.reported(values, motion)
            return
        remote = self.inputs.get(message[1])
        if remote is None:
            return  # an input removed a moment ago
        if kind == "status":
            remote.reported(message[2], message[3])
        elif kind == "start" and remote.recorder is not None:
            remote.recorder.start(message[2])
        elif kind == "end" and remote.recorder is not None:
            at, picture, score, zones = message[2:]
            peak = None if picture is None else Peak(av.VideoFrame.from_ndarray(picture, format="bgr24"), score)
            remote.recorder.end(at, peak, zones)

    def stop(self) -> None:
        self._stop.set()
        self.send(("stop", ""))
        try:
            self._outbox.put_nowait(None)  # the sender ends after the stop
        except queue.Full:
            pass  # it waits on a process that join() kills; a daemon thread, it ends with the hub

    def join(self) -> None:
        if self._thread.is_alive():
            self._thread.join(STOP_WAIT + 2.0)
        process = self._process
        if process is not None and process.is_alive():
            log.warning("detect process %d did not stop in %.0f s; killed", self.index, STOP_WAIT)
            process.kill()
            process.join(2.0)
