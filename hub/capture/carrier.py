"""One thread that reads every paced record-only input of the hub, all at once, at their pace.

Why (docs/decisions.md, 2026-12-01, "one thread for the paced record inputs"): with a reader thread per
input, 64 cameras woke 64 record threads twice a second each, and those threads took turns at the GIL,
sleeping and waking in its wait; each wake-up of a thread on this kind of machine also finds its caches
cold. The record reader cost twice as much per camera at 64 cameras as at one (bench/results/pipeline.md).
Here one thread wakes on a common grid of the pace and reads every carried stream in turn.

What is carried: a record-only input whose stream can be read without waiting (`BatchedStream`, the
hub's RTSP client) while its pace is above 0. Its reader thread connects it as before, hands it over
(`Carrier.carry`) and sleeps until it comes back (`Carrier.wait`):

- when the stream fails: the error is raised in the reader thread, which reconnects with its backoff;
  connecting and retrying stay on each input's own thread, so a camera that does not answer holds up
  nobody;
- when its pace drops to 0 (a live viewer, on this thread, in `on_packet`): the reader thread reads it
  as packets come until the pace returns;
- when the reader stops (`Carrier.release`).

For each stream a pass takes what came (`take(wait=False)`) and hands every packet to the reader's
delivery: its status, the recorder, the live view. A consumer that blocks, a disk that stalls, holds up
the other carried streams until it returns: they are recorded to the same disk, and their sockets keep
what arrives meanwhile. The detect inputs keep their own threads, so motion is not held up.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from camhub.capture.media import BatchedStream, Packet

log = logging.getLogger(__name__)

# Streams due within this many seconds of a pass are read in it: one wake-up serves them all.
GROUPING = 0.05


class Carried:
    """A stream handed to the carrier, and how it came back."""

    def __init__(self, stream: BatchedStream, deliver: Callable[[Packet], None]) -> None:
        self.stream = stream
        self.deliver = deliver
        self.due = 0.0  # monotonic seconds of its next read; 0: at once, to take what came since it connected
        self.done = threading.Event()  # set when the carrier no longer reads it
        self.busy = threading.Lock()  # held while the carrier reads it
        self.error: BaseException | None = None


class Carrier:
    """Reads the streams it carries on one daemon thread, started at the first `carry`."""

    def __init__(self, name: str = "paced-record-reads") -> None:
        self._name = name
        self._changed = threading.Condition()
        self._carried: list[Carried] = []
        self._thread: threading.Thread | None = None

    def carry(self, stream: BatchedStream, deliver: Callable[[Packet], None]) -> Carried:
        """Read `stream` from now on, handing each packet to `deliver` on the carrier's thread."""
        carried = Carried(stream, deliver)
        with self._changed:
            self._carried.append(carried)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            self._changed.notify()
        return carried

    def release(self, carried: Carried) -> None:
        """Stop reading it (any thread; it never waits for a read in progress: `wait` does)."""
        with self._changed:
            if carried in self._carried:
                self._carried.remove(carried)
        carried.done.set()

    def wait(self, carried: Carried) -> None:
        """On the stream's reader thread: sleep until the stream comes back, then raise its error, if any.

        On return the carrier no longer touches the stream: it may be read or closed.
        """
        carried.done.wait()
        with carried.busy:  # a read that began before the release ends first
            pass
        if carried.error is not None:
            raise carried.error

    @property
    def carried(self) -> int:
        """How many streams are being read."""
        return len(self._carried)

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._carried:
                    self._changed.wait()
                now = time.monotonic()
                soonest = min(c.due for c in self._carried)
                if soonest > now:
                    self._changed.wait(soonest - now)
                    continue
                due = [c for c in self._carried if c.due <= now + GROUPING]
            for carried in due:
                self._read(carried, now)

    def _read(self, carried: Carried, now: float) -> None:
        with carried.busy:
            if carried.done.is_set():
                return
            try:
                for packet in carried.stream.take(wait=False):
                    carried.deliver(packet)
            except Exception as exc:  # the reader thread reports it and reconnects
                carried.error = exc
                self.release(carried)
                return
            pace = carried.stream.pace
            if pace <= 0:
                self.release(carried)  # read as packets come, by its own thread, while it is watched
                return
            # The next multiple of the pace: streams of the same pace share their wake-ups.
            carried.due = (now // pace + 1) * pace


# The hub's carrier: one thread for all its paced record inputs.
SHARED = Carrier()
