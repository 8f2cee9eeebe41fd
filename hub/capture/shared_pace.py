"""One thread that reads many paced detect inputs in turn, instead of a thread each.

A detect process reads every camera's detect input a batch at a time (`motion.batch`). With a thread per
input, each of 64 threads woke once a second for a few milliseconds of decoding and analysis, and the
same work done by one thread, input after input, cost a sixth to a fifth less (bench/results/pipeline.md,
docs/decisions.md 2026-12-02): each wake-up of a thread starts the decoder cold, and threads that wake
apart leave the cores idle in between. So `SharedPace` runs one thread that, at each input's due time
(every `pace` seconds, on a common phase so that inputs with the same pace are read together), takes what
its stream has (`PolledStream.poll`, which never waits) and hands each packet to its reader's `take`.

The input's own reader thread still connects, reconnects and closes; while its stream is open it sleeps
in `read` until the stream fails or the reader stops. A stream that fails leaves the turn with its error,
which `read` raises on the reader's thread: one camera's broken stream never stops the others. A stream
is only touched by this thread while it is in the turn, so its reader closes it after `read` returns.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from camhub.capture.media import Packet, PolledStream


@dataclass(eq=False)
class _Member:
    stream: PolledStream
    take: Callable[[Packet], None]
    pace: float
    stop: threading.Event
    due: float = 0.0
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class SharedPace:
    """The turn: started with the first input that joins; `name` names its thread."""

    def __init__(self, name: str = "shared-pace") -> None:
        self._name = name
        self._members: list[_Member] = []
        self._lock = threading.Lock()
        self._changed = threading.Event()
        self._thread: threading.Thread | None = None

    def read(self, stream: PolledStream, take: Callable[[Packet], None], pace: float, stop: threading.Event) -> None:
        """On the input's reader thread: `stream`'s packets go to `take` on the shared thread, every `pace`
        seconds, until the stream fails (its error is raised here) or `stop` is set and `wake` called."""
        if pace <= 0:
            raise ValueError(f"a shared pace needs a pace above 0 seconds, not {pace}")
        member = _Member(stream, take, pace, stop)
        with self._lock:
            self._members.append(member)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
        self._changed.set()
        member.done.wait()
        if member.error is not None:
            raise member.error

    def wake(self) -> None:
        """Look at the inputs now rather than at the next due time (a reader was told to stop)."""
        self._changed.set()

    @property
    def inputs(self) -> int:
        """Inputs in the turn now."""
        return len(self._members)

    def _run(self) -> None:
        while True:
            with self._lock:
                members = list(self._members)
            now = time.monotonic()
            for member in members:
                if member.stop.is_set():
                    self._leave(member, None)
                elif now >= member.due:
                    # The next due time on a common phase: inputs with one pace are read one after the other.
                    member.due = (math.floor(now / member.pace) + 1) * member.pace
                    self._turn(member)
            with self._lock:
                wait = min((m.due for m in self._members), default=math.inf) - time.monotonic()
            self._changed.wait(max(0.0, min(wait, 60.0)))
            self._changed.clear()

    def _turn(self, member: _Member) -> None:
        try:
            for packet in member.stream.poll():
                if member.stop.is_set():
                    break
                member.take(packet)
        except Exception as exc:  # the stream's or a bug's: it leaves the turn, the others stay
            self._leave(member, exc)

    def _leave(self, member: _Member, error: BaseException | None) -> None:
        with self._lock:
            self._members.remove(member)
        member.error = error
        member.done.set()
