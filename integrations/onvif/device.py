"""Asking a found ONVIF device for its streams, with the owner's credentials (onvif-zeep-async).

`ask_streams` opens the device service the probe found, learns the service
addresses (GetServices, else GetCapabilities), reads the media profiles
(GetProfiles) and each profile's RTSP URI (GetStreamUri), and returns them
as streams, largest first. Every failure is an `OnvifError` with a `code`
the adoption flow names: unreachable, auth_failed, timeout, bad_answer. Its
message names the device, never the credentials.

What the device answers is trusted no further than needed: service
addresses and stream URLs on another host are moved to the device's own
address (the owner's credentials go to the device they were given for and
nowhere else), and stream URLs lose any credentials the device put in them.
The library is imported in a thread on first use (it loads zeep and lxml),
and each request is bounded by the caller's timeout.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from camhub.discovery.describe import stream_url, url_path
from camhub.discovery.model import MAX_STREAMS, Finding, Stream, clean_text
from camhub.errors import HubError

log = logging.getLogger(__name__)

CODES = ("unreachable", "auth_failed", "timeout", "bad_answer")
STREAM_SCHEMES = {"rtsp": 554, "rtsps": 322}
# Largest sensible side of a video, in pixels; larger claims are ignored.
MAX_SIDE = 16384
_PROXY_VARIABLES = ("http_proxy", "https_proxy")


class OnvifError(HubError):
    """An ONVIF device could not be asked for its streams; `code` says why (one of CODES)."""

    key = "onvif_failed"
    status = 502

    def __init__(self, code: str, message: str) -> None:
        if code not in CODES:
            raise ValueError(f"ONVIF error code {code!r} is not one of {', '.join(CODES)}")
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class _Profile:
    token: str
    name: str
    width: int | None
    height: int | None


async def ask_streams(finding: Finding, username: str, password: str, timeout: float) -> tuple[Stream, ...]:
    """The streams of the ONVIF device `finding` describes, main (largest) first, URLs without credentials."""
    where = f"ONVIF device {finding.name!r} at {finding.host}:{finding.port}"
    try:
        async with asyncio.timeout(timeout):
            onvif = await asyncio.to_thread(_import_onvif)
            streams = await _ask(onvif, finding, username, password)
    except OnvifError:
        raise
    except Exception as exc:
        raise _named(exc, where, timeout) from None
    if not streams:
        raise OnvifError("bad_answer", f"{where} offers no RTSP stream")
    return streams


async def _ask(onvif: ModuleType, finding: Finding, username: str, password: str) -> tuple[Stream, ...]:
    parts = urlsplit(finding.device_service)
    # ONVIFCamera reaches the device service at <host>:<port>/onvif/device_service, over https when
    # the host is given with its scheme.
    host = f"https://{parts.netloc.rsplit(':', 1)[0]}" if parts.scheme == "https" else finding.host
    with _proxy_settings_kept():
        camera = onvif.client.ONVIFCamera(host, finding.port, username, password, no_cache=True)
    try:
        await camera.update_xaddrs()
        camera.xaddrs = {ns: _on_device(onvif, url, finding) for ns, url in camera.xaddrs.items()}
        media = await camera.create_media_service()
        profiles = [_profile(p) for p in (await media.GetProfiles() or [])[:MAX_STREAMS]]
        urls: list[tuple[_Profile, str]] = []
        for profile in profiles:
            answer = await media.GetStreamUri(
                {
                    "StreamSetup": {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}},
                    "ProfileToken": profile.token,
                }
            )
            url = _stream_url(getattr(answer, "Uri", None), finding)
            if url is not None:
                urls.append((profile, url))
        return _streams(urls)
    finally:
        await camera.close()


def _import_onvif() -> ModuleType:
    """onvif-zeep-async, imported without the logging set-up it does at import (logging.basicConfig):
    the hub configures logging itself, and a second handler would print every line twice."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        module = importlib.import_module("onvif")
        importlib.import_module("onvif.client")
        importlib.import_module("onvif.util")
    finally:
        for handler in root.handlers[:]:
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(level)
    return module


@contextmanager
def _proxy_settings_kept() -> Iterator[None]:
    """ONVIFCamera() deletes http_proxy and https_proxy from the process's environment; put them back."""
    saved = {name: os.environ[name] for name in _PROXY_VARIABLES if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


def _on_device(onvif: ModuleType, url: Any, finding: Finding) -> Any:
    """A service address the device gave, moved onto the device's own address when it named another host."""
    if not isinstance(url, str) or urlsplit(url).hostname == finding.host:
        return url
    return onvif.util.replace_host_port(url, finding.host, finding.port)


def _profile(profile: Any) -> _Profile:
    token = getattr(profile, "token", None)
    if not isinstance(token, str) or not token:
        raise OnvifError("bad_answer", "an ONVIF media profile has no token")
    resolution = getattr(getattr(profile, "VideoEncoderConfiguration", None), "Resolution", None)
    width, height = _side(getattr(resolution, "Width", None)), _side(getattr(resolution, "Height", None))
    return _Profile(token, clean_text(getattr(profile, "Name", None), 32), width, height)


def _side(value: object) -> int | None:
    return value if isinstance(value, int) and 0 < value <= MAX_SIDE else None


def _stream_url(uri: object, finding: Finding) -> str | None:
    """An RTSP URI from the device, on the device's own address and without credentials; None if unusable."""
    if not isinstance(uri, str) or len(uri) > 2048:
        return None
    try:
        parts = urlsplit(uri.strip())
        scheme = parts.scheme.lower()
        port = STREAM_SCHEMES.get(scheme, 0) if parts.port is None else parts.port
    except ValueError:
        return None
    path = url_path((parts.path or "/") + (f"?{parts.query}" if parts.query else ""))
    if scheme not in STREAM_SCHEMES or path is None or not 0 < port < 65536:
        return None
    return stream_url(scheme, finding.host, port, path)


def _streams(urls: Sequence[tuple[_Profile, str]]) -> tuple[Stream, ...]:
    """Largest first, one stream per URL; labelled main, then by profile name, the smallest sub."""
    ranked = sorted(urls, key=lambda pu: -((pu[0].width or 0) * (pu[0].height or 0)))
    unique: list[tuple[str, _Profile]] = []
    for profile, url in ranked:
        if all(url != kept for kept, _ in unique):
            unique.append((url, profile))
    streams: list[Stream] = []
    for index, (url, profile) in enumerate(unique):
        label = "main" if index == 0 else "sub" if index == len(unique) - 1 else profile.name or profile.token
        streams.append(Stream(url, label, profile.width, profile.height))
    return tuple(streams)


def _named(exc: BaseException, where: str, timeout: float) -> OnvifError:
    """The library's failure as one of CODES; the message names the device and the kind of failure only."""
    from zeep.exceptions import Fault, TransportError

    causes = [exc, exc.__cause__] if exc.__cause__ is not None else [exc]
    for cause in causes:
        if isinstance(cause, (TimeoutError, asyncio.TimeoutError)) or type(cause).__name__ == "ONVIFTimeoutError":
            return OnvifError("timeout", f"{where} did not answer within {timeout:g} s")
        if _refused_credentials(cause, Fault, TransportError):
            return OnvifError("auth_failed", f"{where} refused the user name and password")
        if isinstance(cause, (aiohttp.ClientConnectionError, OSError)):
            return OnvifError("unreachable", f"{where} cannot be reached ({type(cause).__name__})")
    log.debug("ONVIF: %s answered what could not be read: %s", where, type(exc).__name__)
    return OnvifError("bad_answer", f"{where} gave an answer that is not ONVIF ({type(exc).__name__})")


def _refused_credentials(exc: BaseException, fault: type[Exception], transport_error: type[Exception]) -> bool:
    if type(exc).__name__ == "ONVIFAuthError":
        return True
    if isinstance(exc, transport_error) and getattr(exc, "status_code", None) == 401:
        return True
    if isinstance(exc, fault):
        import onvif.util

        return bool(onvif.util.is_auth_error(exc))
    return False
