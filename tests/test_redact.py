"""Secrets are masked in URLs, free text and log records."""

from __future__ import annotations

import logging

from camhub.logs import RedactingFilter
from camhub.redact import redact, redact_url


def test_redact_url_masks_password_and_query_secrets() -> None:
    assert redact_url("rtsp://admin:p%40ss@10.0.0.5:554/live") == "rtsp://admin:***@10.0.0.5:554/live"
    assert redact_url("http://cam/snap.jpg?user=a&password=xyz&x=1") == "http://cam/snap.jpg?user=a&password=***&x=1"
    assert redact_url("rtsp://10.0.0.5/live") == "rtsp://10.0.0.5/live"


def test_redact_free_text_and_known_secrets() -> None:
    text = "failed to open rtsp://bob:topsecret@cam/x and http://u:pw2@h/y; token hunter2"
    out = redact(text, secrets=("hunter2",))
    assert "topsecret" not in out and "pw2" not in out and "hunter2" not in out
    assert "rtsp://bob:***@cam/x" in out


def test_log_filter_masks_arguments_and_tracebacks() -> None:
    record = logging.LogRecord("t", logging.WARNING, __file__, 1, "open %s failed", ("rtsp://a:zzsecret@h/",), None)
    try:
        raise ValueError("rtsp://a:zzsecret@h/ refused")
    except ValueError as exc:
        record.exc_info = (type(exc), exc, exc.__traceback__)
    RedactingFilter().filter(record)
    formatted = logging.Formatter().format(record)
    assert "zzsecret" not in formatted
    assert "rtsp://a:***@h/" in formatted
