"""Logging set-up, with one filter that masks secrets in every record.

Camera URLs carry passwords; whatever a module logs passes through
`RedactingFilter` before it reaches a handler.
"""

from __future__ import annotations

import logging
import sys

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
