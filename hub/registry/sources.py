"""Source integrations as the hub holds them: options schema, URL claims, declared capabilities.

A camera input is read by the integration its `kind:` names, or else by the
one whose manifest claims the URL: its scheme (`url_schemes`), narrowed by
globs on the path (`url_paths`). Among the integrations claiming a scheme,
one whose globs match the path wins over one without globs, which is the
scheme's default; any tie is a config error asking for `kind:`. A plain
path has the scheme `file`.

The hub never talks to an integration's Source directly: `DeclaredSource`
wraps it, and its streams show `copy_template` only when the manifest
declares `stream_copy`, so what a clip does (copy or re-encode) follows the
declaration. A stream that declares it and gives no template fails loudly,
naming the integration.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import av
from av.video.stream import VideoStream
from pydantic import BaseModel, ConfigDict, ValidationError

from camhub.capture.media import OpenStream, PacedStream, Packet, PolledStream, Source, StreamInfo
from camhub.errors import ConfigError, IntegrationError
from camhub.redact import redact_url
from camhub.registry.manifest import Manifest

if TYPE_CHECKING:
    from camhub.config import InputConfig

FILE_SCHEME = "file"  # the scheme of a URL that is a plain path


class Options(BaseModel):
    """Base of an integration's options schema, the `options:` of an input: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoOptions(Options):
    """The schema of a source that takes no options of its own."""


class InputNotClaimed(ConfigError):
    """No single source integration reads an input; `key` is the input's key at fault (kind or url)."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"the input's {key} {reason}")
        self.key = key
        self.reason = reason


@dataclass(frozen=True)
class SourceIntegration:
    """A loaded source integration: its manifest, its factory and the schema of its options."""

    manifest: Manifest
    factory: Callable[[InputConfig, Any], Source]  # called with options validated by `options`
    options: type[Options]

    @property
    def domain(self) -> str:
        return self.manifest.domain

    def build(self, config: InputConfig) -> Source:
        """The input's Source. parse_config has checked its options; a config built otherwise is checked here."""
        try:
            options = self.options.model_validate(config.options)
        except ValidationError as exc:
            first = exc.errors()[0]
            key = ".".join(str(part) for part in first["loc"])
            raise ConfigError(
                f"options.{key} of the {self.domain} input {redact_url(config.url)}: {first['msg']}"
            ) from None
        return DeclaredSource(self.factory(config, options), self.manifest)


def url_scheme(url: str) -> str:
    """The URL's scheme, lower-case; a plain path's is `file`."""
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        raise InputNotClaimed("url", "is not a URL the hub can parse") from None
    return scheme or FILE_SCHEME


def claimant(sources: Iterable[SourceIntegration], url: str) -> SourceIntegration:
    """The one source integration whose manifest claims `url`; InputNotClaimed names the others."""
    scheme = url_scheme(url)
    sources = list(sources)
    claiming = [s for s in sources if scheme in s.manifest.url_schemes]
    if not claiming:
        known = ", ".join(sorted({s for i in sources for s in i.manifest.url_schemes})) or "none"
        raise InputNotClaimed(
            "url", f"has the scheme {scheme!r}, which no source integration reads; known schemes: {known}"
        )
    path = urlsplit(url).path.lower()
    by_path = [s for s in claiming if any(fnmatchcase(path, glob) for glob in s.manifest.url_paths)]
    chosen = by_path or [s for s in claiming if not s.manifest.url_paths]
    if len(chosen) == 1:
        return chosen[0]
    names = ", ".join(sorted(s.domain for s in (chosen or claiming)))
    if chosen:
        raise InputNotClaimed("url", f"is claimed by several source integrations ({names}); choose one with kind:")
    raise InputNotClaimed(
        "url", f"matches none of the paths of the integrations reading {scheme}:// ({names}); choose one with kind:"
    )


class DeclaredSource:
    """An integration's Source whose streams keep to what its manifest declares."""

    def __init__(self, source: Source, manifest: Manifest) -> None:
        self._source = source
        self.manifest = manifest
        self.description = source.description

    def open(self) -> DeclaredStream:
        return DeclaredStream(self._source.open(), self.manifest)


class DeclaredStream:
    """An open stream of a DeclaredSource: the integration's, with `copy_template` as declared."""

    def __init__(self, stream: OpenStream, manifest: Manifest) -> None:
        self._stream = stream
        # Looked up once: a check against a runtime Protocol costs tens of microseconds, and the live
        # view reads `pace` at every packet.
        self._paced = stream if isinstance(stream, PacedStream) else None
        self._polled = stream if isinstance(stream, PolledStream) and stream.pollable else None
        self.info: StreamInfo = stream.info
        self.copy_template: VideoStream | None = None
        if manifest.can("stream_copy"):
            self.copy_template = stream.copy_template
            if self.copy_template is None:
                stream.close()
                raise IntegrationError(
                    f"integration {manifest.domain!r} declares stream_copy in its manifest, "
                    "but its open stream gives no copy_template"
                )

    @property
    def pace(self) -> float:
        """The integration's stream's pace (`PacedStream`), or 0 for one that reads as packets come."""
        return self._paced.pace if self._paced is not None else 0.0

    @pace.setter
    def pace(self, seconds: float) -> None:
        if self._paced is not None:
            self._paced.pace = seconds

    def wake(self) -> None:
        if self._paced is not None:
            self._paced.wake()

    @property
    def pollable(self) -> bool:
        return self._polled is not None

    def poll(self) -> list[Packet]:
        if self._polled is None:
            raise TypeError(f"{type(self._stream).__name__} cannot be polled; read it with packets()")
        return self._polled.poll()

    def packets(self) -> Iterator[Packet]:
        return self._stream.packets()

    def decode(self, packet: Packet) -> list[av.VideoFrame]:
        return self._stream.decode(packet)

    def close(self) -> None:
        self._stream.close()
