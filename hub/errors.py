"""The hub's one family of errors.

Every error a user can see is a `HubError` with a stable `key`; the API maps
keys to status codes in one middleware and the CLI prints the message.
Messages never contain secrets: callers pass URLs through `camhub.redact`.
"""

from __future__ import annotations


class HubError(Exception):
    """Base of every error the hub raises on purpose."""

    key = "hub_error"
    status = 500


class ConfigError(HubError):
    """A config file is missing, unreadable or invalid."""

    key = "config_invalid"
    status = 400


class IntegrationError(HubError):
    """An integration failed to load: a broken manifest, import or setup."""

    key = "integration_broken"


class SourceError(HubError):
    """A camera input could not be opened or read."""

    key = "source_failed"
    status = 502


class CameraAnswered(SourceError):
    """The camera answered a request with an error status (RTSP or HTTP), kept in `answered`: a reader
    that speaks the protocol itself says what FFmpeg's errors say (401 and 403: credentials, 404: path)."""

    def __init__(self, message: str, answered: int) -> None:
        super().__init__(message)
        self.answered = answered


class BadRequest(HubError):
    """A request's parameters are malformed; the message names the parameter and what is expected."""

    key = "bad_request"
    status = 400


class NotFound(HubError):
    key = "not_found"
    status = 404
