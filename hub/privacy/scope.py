"""Scopes (cameras and one bounded time window) and the strict reading of JSON bodies.

Every outside request, decision and override names a `Scope`. `Fields`
reads a JSON object field by field and refuses, with the field's name and
what would be right, anything missing, mistyped, too long or unknown, and
text with control characters (only a multi-line field keeps newlines), which
would reach the owners' terminals and logs. A required field's reader
returns its value's type, an optional one's may return None (the overloads
say which), so callers need no checks of their own.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Literal, overload

from camhub.audit.canonical import is_text
from camhub.clock import parse_time, utc_text
from camhub.errors import HubError
from camhub.terminal import first_control

TEXT_MAX = 200  # characters of a text field, unless the field says otherwise


class InvalidField(HubError):
    """A field of a request body is missing or wrong; the message names it and what is expected."""

    key = "invalid_field"
    status = 400


@dataclass(frozen=True)
class Scope:
    """Cameras and a time window [start_s, end_s) in Unix seconds; optionally only chosen clips."""

    cameras: tuple[str, ...]
    start_s: int
    end_s: int
    clip_ids: tuple[int, ...] | None = None

    def covers(self, camera: str, start: float, end: float) -> bool:
        """True when [start, end) of `camera` lies wholly inside this scope's window."""
        return camera in self.cameras and self.start_s <= start and end <= self.end_s

    def overlaps(self, camera: str, start: float, end: float) -> bool:
        return camera in self.cameras and start < self.end_s and end > self.start_s

    def within(self, outer: Scope) -> bool:
        """True when this scope asks for nothing outside `outer`."""
        if not set(self.cameras) <= set(outer.cameras):
            return False
        if not (outer.start_s <= self.start_s and self.end_s <= outer.end_s):
            return False
        return outer.clip_ids is None or (self.clip_ids is not None and set(self.clip_ids) <= set(outer.clip_ids))

    def narrowed(
        self,
        cameras: tuple[str, ...] | None,
        start_s: int | None,
        end_s: int | None,
        clip_ids: tuple[int, ...] | None,
    ) -> Scope:
        """This scope as an owner narrows it: what is None stays as it was. InvalidField if the
        narrowed window is empty or the result asks for anything outside this scope."""
        scope = Scope(
            cameras or self.cameras,
            self.start_s if start_s is None else start_s,
            self.end_s if end_s is None else end_s,
            clip_ids or self.clip_ids,
        )
        if scope.end_s <= scope.start_s:
            raise InvalidField(
                f"the narrowed window ends ({utc_text(scope.end_s)}) before it starts ({utc_text(scope.start_s)})"
            )
        if not scope.within(self):
            raise InvalidField(f"narrowing may only shrink the request: asked {self}, got {scope}")
        return scope

    def __str__(self) -> str:
        clips = f", clips {list(self.clip_ids)}" if self.clip_ids else ""
        return f"{', '.join(self.cameras)} {utc_text(self.start_s)} to {utc_text(self.end_s)}{clips}"

    def as_json(self) -> dict[str, Any]:
        clips = list(self.clip_ids) if self.clip_ids is not None else None
        return {"cameras": list(self.cameras), "start_s": self.start_s, "end_s": self.end_s, "clip_ids": clips}

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> Scope:
        clips = value.get("clip_ids")
        return cls(
            tuple(value["cameras"]),
            int(value["start_s"]),
            int(value["end_s"]),
            tuple(clips) if clips is not None else None,
        )


class Fields:
    """Reads one JSON object; call `done()` last so unknown keys are refused."""

    def __init__(self, body: Any, where: str = "body") -> None:
        if not isinstance(body, dict):
            raise InvalidField(f"the {where} must be a JSON object")
        self.body = body
        self.where = where
        self._seen: set[str] = set()

    def _get(self, name: str, required: bool) -> Any:
        self._seen.add(name)
        value = self.body.get(name)
        if value is None and required:
            raise InvalidField(f"{name!r} is required")
        return value

    @overload
    def text(
        self, name: str, max_len: int = TEXT_MAX, required: Literal[True] = True, multiline: bool = False
    ) -> str: ...
    @overload
    def text(self, name: str, max_len: int = TEXT_MAX, *, required: bool, multiline: bool = False) -> str | None: ...
    def text(self, name: str, max_len: int = TEXT_MAX, required: bool = True, multiline: bool = False) -> str | None:
        """A non-empty string of at most `max_len` characters, without control characters;
        newlines only when `multiline`."""
        value = self._get(name, required)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise InvalidField(f"{name!r} must be a non-empty string")
        if not is_text(value):
            raise InvalidField(f"{name!r} holds a lone surrogate (U+D800 to U+DFFF), which is not Unicode text")
        if len(value) > max_len:
            raise InvalidField(f"{name!r} is {len(value)} characters; at most {max_len}")
        control = first_control(value, "\n" if multiline else "")
        if control is not None:
            allowed = "; only newlines may break its lines" if multiline else ""
            raise InvalidField(f"{name!r} holds the control character {control}, which text fields refuse{allowed}")
        return value.strip()

    def whole(self, name: str, lowest: int, highest: int, default: int) -> int:
        """A whole number between `lowest` and `highest`; `default` when left out."""
        value = self._get(name, required=False)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or not lowest <= value <= highest:
            raise InvalidField(f"{name!r} must be a whole number from {lowest} to {highest}, got {value!r}")
        return value

    @overload
    def choice(self, name: str, options: Collection[str], required: Literal[True] = True) -> str: ...
    @overload
    def choice(self, name: str, options: Collection[str], *, required: bool) -> str | None: ...
    def choice(self, name: str, options: Collection[str], required: bool = True) -> str | None:
        value = self._get(name, required)
        if value is None:
            return None
        if not isinstance(value, str) or value not in options:
            shown = repr(value) if isinstance(value, str) else "something that is not a string"
            raise InvalidField(f"{name!r} must be one of {', '.join(sorted(options))}, got {shown}")
        return str(value)

    @overload
    def time(self, name: str, required: Literal[True] = True) -> int: ...
    @overload
    def time(self, name: str, *, required: bool) -> int | None: ...
    def time(self, name: str, required: bool = True) -> int | None:
        """Unix seconds (an integer) or an ISO 8601 time with a zone, e.g. 2026-11-29T10:00:00Z."""
        value = self._get(name, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise InvalidField(f"{name!r} must be Unix seconds (an integer) or an ISO 8601 time, got {value!r}")
        try:
            return int(parse_time(value))
        except ValueError as exc:
            raise InvalidField(f"{name!r}: {exc}") from None

    @overload
    def names(self, name: str, known: Collection[str], required: Literal[True] = True) -> tuple[str, ...]: ...
    @overload
    def names(self, name: str, known: Collection[str], *, required: bool) -> tuple[str, ...] | None: ...
    def names(self, name: str, known: Collection[str], required: bool = True) -> tuple[str, ...] | None:
        value = self._get(name, required)
        if value is None:
            return None
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise InvalidField(f"{name!r} must be a non-empty list of camera names")
        unknown = sorted(set(value) - set(known))
        if unknown:
            raise InvalidField(
                f"{name!r}: no camera named {', '.join(map(repr, unknown))}; "
                f"known: {', '.join(sorted(known)) or 'none'}"
            )
        return tuple(dict.fromkeys(value))

    def ids(self, name: str) -> tuple[int, ...] | None:
        """Clip ids, always optional: left out means every clip."""
        value = self._get(name, required=False)
        if value is None:
            return None
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
        ):
            raise InvalidField(f"{name!r} must be a non-empty list of clip ids (positive integers)")
        return tuple(sorted(set(value)))

    def done(self) -> None:
        extra = sorted(set(self.body) - self._seen)
        if extra:
            raise InvalidField(f"unknown field(s) {', '.join(map(repr, extra))} in the {self.where}")


def check_window(start_s: int, end_s: int, now: float, max_seconds: float) -> None:
    """A window must be bounded, in order, in the past and at most `max_seconds` long."""
    if end_s <= start_s:
        raise InvalidField(f"the window ends ({utc_text(end_s)}) before it starts ({utc_text(start_s)})")
    if end_s - start_s > max_seconds:
        raise InvalidField(f"the window is {(end_s - start_s) / 3600:g} h long; at most {max_seconds / 3600:g} h")
    if end_s > now:
        raise InvalidField(
            f"the window ends in the future ({utc_text(end_s)}); footage that does not exist yet cannot be asked for"
        )
