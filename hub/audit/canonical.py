"""Canonical JSON for audit entries (RFC 8785) and the entry layout.

An entry is the canonical JSON of
`{"actor": str, "event": str, "fields": {...}, "index": int, "time_ms": int}`.
Its bytes are the Merkle leaf, so the same event must always give the same
bytes: RFC 8785 fixes key order, white space and string escapes. Fields hold
strings, integers, booleans, null, lists and objects only; floats are
refused because their text form is where JSON encoders disagree (use an
integer with a unit in the name, like `start_s`).
"""

from __future__ import annotations

import json
from typing import Any

import rfc8785

from camhub.audit.errors import AuditError

# The largest integer every JSON reader holds exactly (IEEE double).
MAX_SAFE_INT = 2**53 - 1
ENTRY_KEYS = ("actor", "event", "fields", "index", "time_ms")


def is_text(value: str) -> bool:
    """True unless `value` holds a lone surrogate (JSON can carry one as \\ud800; UTF-8 cannot)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_value(value: Any, where: str) -> None:
    """Raise AuditError naming `where` unless value is plain JSON without floats."""
    if isinstance(value, str):
        if not is_text(value):
            raise AuditError(f"{where}: the text holds a lone surrogate, which is not Unicode text")
        return
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INT:
            raise AuditError(f"{where}: integer {value} is too large for JSON readers (over 2**53)")
        return
    if isinstance(value, float):
        raise AuditError(f"{where}: {value!r} is a float; audit fields take integers with a unit")
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            check_value(item, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise AuditError(f"{where}: key {key!r} is not a string")
            check_value(key, f"{where} key")
            check_value(item, f"{where}.{key}")
        return
    raise AuditError(f"{where}: {type(value).__name__} {value!r} cannot be stored in the audit log")


def canonical(value: Any) -> bytes:
    """RFC 8785 bytes of a JSON value (checked with `check_value` first)."""
    check_value(value, "value")
    return rfc8785.dumps(value)


def encode_entry(index: int, time_ms: int, actor: str, event: str, fields: dict[str, Any]) -> bytes:
    check_value(fields, f"event {event} fields")
    return rfc8785.dumps({"actor": actor, "event": event, "fields": fields, "index": index, "time_ms": time_ms})


def decode_entry(data: bytes, index: int) -> dict[str, Any]:
    """Parse a stored entry, checking layout and canonical form; errors name the entry."""
    try:
        value = json.loads(data)
    except (UnicodeDecodeError, ValueError) as exc:
        raise AuditError(f"entry {index}: not valid UTF-8 JSON ({exc})") from None
    if not isinstance(value, dict) or tuple(sorted(value)) != ENTRY_KEYS:
        raise AuditError(f"entry {index}: expected the keys {', '.join(ENTRY_KEYS)}")
    try:
        again = rfc8785.dumps(value)
    except Exception as exc:  # rfc8785 refuses NaN, huge integers and the like
        raise AuditError(f"entry {index}: not canonical JSON ({exc})") from None
    if again != data:
        raise AuditError(f"entry {index}: not in canonical JSON form (RFC 8785)")
    return value


def index_of(data: bytes) -> int | None:
    """The top-level "index" of a canonical entry, read without parsing it all.

    Canonical key order puts "index" after "fields" and before "time_ms", and
    only integers follow it, so its last occurrence is the top-level one.
    This keeps a 1-million-entry verification within seconds.
    """
    at = data.rfind(b',"index":')
    if at < 0:
        return None
    end = data.find(b",", at + 9)
    try:
        return int(data[at + 9 : end])
    except ValueError:
        return None
