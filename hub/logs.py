"""Logging set-up: one filter that masks secrets, one that bounds repeats.

Camera URLs carry passwords; whatever a module logs passes through
`RedactingFilter` before it reaches a handler. A flood from outside (a
thousand refused connections, failing logins) would otherwise write one line
each; `RepeatFilter` lets the first few lines of one message through per
interval and then says how many it held back, so the log grows by a bounded
amount whatever the network does. `ClientFaultFilter` keeps malformed
requests, which anyone can send, from being logged as the hub's own errors.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web import RequestPayloadError

from camhub.redact import redact

# Lines of one message let through per interval, and the interval in seconds.
REPEAT_BURST = 10
REPEAT_INTERVAL = 60.0
# Messages tracked at once; the oldest are forgotten first (bounded memory under a flood of distinct texts).
REPEAT_KEYS = 1024


class RedactingFilter(logging.Filter):
    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message, self.secrets)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            # Tracebacks are rendered later; render now so they can be cleaned too.
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info), self.secrets)
            record.exc_info = None
        return True


class ClientFaultFilter(logging.Filter):
    """For aiohttp's server logger: what it logs at ERROR with a traceback for a malformed request line,
    header or body encoding becomes one DEBUG line; every other record passes unchanged."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if not isinstance(exc, (HttpProcessingError, RequestPayloadError)):
            return True
        # The parser's text can quote the request (a token in a header, say): keep only the kind of fault.
        record.msg, record.args = "%s: refused a malformed request (%s)", (record.getMessage(), type(exc).__name__)
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        record.exc_info, record.exc_text = None, None
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


def quiet_client_faults() -> None:
    """Put `ClientFaultFilter` on aiohttp's server logger, once."""
    server = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, ClientFaultFilter) for f in server.filters):
        server.addFilter(ClientFaultFilter())


@dataclass
class _Window:
    start: float
    passed: int = 0
    suppressed: int = 0


class RepeatFilter(logging.Filter):
    """Per message, the first `burst` records of each `interval` pass; the rest are counted, not written.

    A message is its logger, level and format string, before arguments: "refused %s" from a
    thousand addresses is one message. The record that starts the suppression says so, and the
    first record of a later interval says how many were held back. Must run before
    `RedactingFilter`, which replaces the format string with the formatted text.
    """

    def __init__(
        self, burst: int = REPEAT_BURST, interval: float = REPEAT_INTERVAL, now: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.burst, self.interval, self._now = burst, interval, now
        self._windows: dict[tuple[str, int, str], _Window] = {}
        # Handlers call filters outside their lock, and records come from reader threads too.
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, str(record.msg)[:200])
        now = self._now()
        with self._lock:
            window = self._windows.get(key)
            if window is None or now - window.start >= self.interval:
                held = window.suppressed if window is not None else 0
                self._windows.pop(key, None)
                self._windows[key] = window = _Window(start=now)
                while len(self._windows) > REPEAT_KEYS:
                    del self._windows[next(iter(self._windows))]
                if held:
                    _append(record, f"({held} more like this were suppressed in the previous {self.interval:g} s)")
            window.passed += 1
            if window.passed <= self.burst:
                return True
            if window.passed == self.burst + 1:
                _append(record, f"(repeated; more like this are suppressed for up to {self.interval:g} s)")
                return True
            window.suppressed += 1
            return False


def _append(record: logging.LogRecord, note: str) -> None:
    record.msg, record.args = f"{record.getMessage()} {note}", None


class _HubHandler(logging.StreamHandler[TextIO]):
    """The handler `setup_logging` puts on the root logger; a second call finds it and does not add another."""


def setup_logging(verbosity: int = 0, secrets: tuple[str, ...] = ()) -> None:
    level = logging.WARNING if verbosity < 0 else logging.INFO if verbosity < 2 else logging.DEBUG
    root = logging.getLogger()
    handler = next((h for h in root.handlers if isinstance(h, _HubHandler)), None)
    if handler is None:
        handler = _HubHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    handler.filters = [RepeatFilter(), RedactingFilter(secrets)]
    root.setLevel(level)
    # FFmpeg's own chatter comes through PyAV's logger; warnings are already in our status.
    logging.getLogger("libav").setLevel(logging.ERROR)
