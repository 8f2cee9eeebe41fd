"""Canonical JSON for audit entries (RFC 8785) and the entry layout.

An entry is the canonical JSON of
`{"actor": str, "event": str, "fields": {...}, "index": int, "time_ms": int}`.
Its bytes are the Merkle leaf, so the same event must always give the same
bytes: RFC 8785 fixes key order, white space and string escapes. Fields hold
strings, integers, booleans, null, lists and objects only; floats are
refused because their text form is where JSON encoders disagree (use an
integer with a unit in the name, like `start_s`).

Speed: the `rfc8785` package is pure Python (some 80 µs for an export
entry). For the values the log holds (strings, safe integers, booleans,
null, lists and objects whose keys are ASCII) the standard library's C JSON
encoder, sorting keys and writing UTF-8 without escapes beyond the ones
RFC 8785 makes, gives the same bytes in a few µs; `canonical` uses it for
those and `rfc8785` for anything else, and tests/audit/test_canonical.py
holds the two to the same bytes.
"""

from __future__ import annotations

import _json
import json
from typing import Any, NoReturn

import rfc8785

from camhub.audit.errors import AuditError

# The largest integer every JSON reader holds exactly (IEEE double).
MAX_SAFE_INT = 2**53 - 1
ENTRY_KEYS = ("actor", "event", "fields", "index", "time_ms")


def _not_json(value: Any) -> NoReturn:
    raise TypeError(f"{type(value).__name__} is not JSON")


# The stdlib's C JSON encoder as json.dumps(ensure_ascii=False, sort_keys=True, separators=(",", ":"),
# allow_nan=False, check_circular=False) builds it, made once: `dumps` builds a new one per call.
# RFC 8785 3.2.2.2 escapes exactly what it escapes with ensure_ascii=False (quote, backslash,
# control characters, \u00xx in lower case) and writes the rest as is.
_c_encoder = _json.make_encoder(None, _not_json, _json.encode_basestring, None, ":", ",", True, False, False)


_quoted = _json.encode_basestring  # a string as that encoder writes it


def _stdlib_dumps(value: Any) -> str:
    return "".join(_c_encoder(value, 0))


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


def _plain(value: Any, depth: int = 0) -> bool:
    """True when the stdlib encoder writes `value` exactly as RFC 8785 does.

    Exact types only (a subclass might serialise differently), safe integers,
    no floats, ASCII keys (RFC 8785 sorts keys by UTF-16 code units, Python by
    code points; for ASCII they agree). Lone surrogates are left to the UTF-8
    encoding, which refuses them. Deep nesting goes the checked way. Scalars
    are checked inline, not by recursion: this runs for every append.
    """
    kind = type(value)
    if kind is dict:
        for key in value:
            if type(key) is not str or not key.isascii():
                return False
        items = value.values()
    elif kind is list or kind is tuple:
        items = value
    else:
        return kind is str or kind is bool or value is None or (kind is int and -MAX_SAFE_INT <= value <= MAX_SAFE_INT)
    if depth > 32:
        return False
    for item in items:
        kind = type(item)
        if kind is str or kind is bool or item is None:
            continue
        if kind is int:
            if -MAX_SAFE_INT <= item <= MAX_SAFE_INT:
                continue
            return False
        if not _plain(item, depth + 1):
            return False
    return True


def _rfc8785_bytes(value: Any) -> bytes:
    """RFC 8785 bytes of any value rfc8785 takes (floats included), the fast way when it can."""
    if _plain(value):
        try:
            return _stdlib_dumps(value).encode("utf-8")
        except UnicodeEncodeError:
            pass  # a lone surrogate: rfc8785 refuses it with its own error
    return rfc8785.dumps(value)


def canonical(value: Any, where: str = "value") -> bytes:
    """RFC 8785 bytes of a JSON value; AuditError naming `where` for what `check_value` refuses."""
    if _plain(value):
        try:
            return _stdlib_dumps(value).encode("utf-8")
        except UnicodeEncodeError:
            pass  # a lone surrogate: check_value names where
    check_value(value, where)
    return rfc8785.dumps(value)


def entry_parts(time_ms: int, actor: str, event: str, fields: dict[str, Any]) -> tuple[bytes, bytes]:
    """The canonical entry without its index: entry = head + str(index) + tail.

    What an append can canonicalise before it knows its place in the log.
    Canonical key order is actor, event, fields, index, time_ms, so the
    envelope around `fields` is fixed text; only `fields` needs encoding.
    """
    if (
        type(actor) is str
        and type(event) is str
        and type(time_ms) is int
        and -MAX_SAFE_INT <= time_ms <= MAX_SAFE_INT
        and type(fields) is dict
        and _plain(fields)
    ):
        text = f'{{"actor":{_quoted(actor)},"event":{_quoted(event)},"fields":{_stdlib_dumps(fields)},"index":'
        try:
            return text.encode("utf-8"), b',"time_ms":%d}' % time_ms
        except UnicodeEncodeError:
            pass  # a lone surrogate: the checked way names where
    check_value(fields, f"event {event}")
    entry = {"actor": actor, "event": event, "fields": fields, "index": 0, "time_ms": time_ms}
    whole = canonical(entry, f"event {event} entry")
    # The last ',"index":0,' is the top-level one: only time_ms, an integer, follows it.
    at = whole.rindex(b',"index":0,')
    return whole[: at + 9], whole[at + 10 :]


def encode_entry(index: int, time_ms: int, actor: str, event: str, fields: dict[str, Any]) -> bytes:
    head, tail = entry_parts(time_ms, actor, event, fields)
    return head + str(index).encode() + tail


def decode_entry(data: bytes, index: int) -> dict[str, Any]:
    """Parse a stored entry, checking layout and canonical form; errors name the entry."""
    try:
        value = json.loads(data)
    except (UnicodeDecodeError, ValueError) as exc:
        raise AuditError(f"entry {index}: not valid UTF-8 JSON ({exc})") from None
    if not isinstance(value, dict) or tuple(sorted(value)) != ENTRY_KEYS:
        raise AuditError(f"entry {index}: expected the keys {', '.join(ENTRY_KEYS)}")
    try:
        again = _rfc8785_bytes(value)
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
