"""Logging set-up, with one filter that masks secrets in every record.

Camera URLs carry passwords; whatever a module logs passes through
`RedactingFilter` before it reaches a handler. `ClientFaultFilter` keeps
malformed requests, which anyone can send, from being logged as the hub's
own errors.
"""

from __future__ import annotations

import logging
import sys

from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web import RequestPayloadError

from hub.redact import redact


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


def setup_logging(verbosity: int = 0, secrets: tuple[str, ...] = ()) -> None:
    level = logging.WARNING if verbosity < 0 else logging.INFO if verbosity < 2 else logging.DEBUG
    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, "_camhub", False)), None)
    if handler is None:
        handler = logging.StreamHandler(sys.stderr)
        handler._camhub = True  # type: ignore[attr-defined]
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    handler.filters = [RedactingFilter(secrets)]
    root.setLevel(level)
    # FFmpeg's own chatter comes through PyAV's logger; warnings are already in our status.
    logging.getLogger("libav").setLevel(logging.ERROR)
