"""Text from outside, made safe to print on a terminal: the one escaping function.

Requesters, package manifests, audit entries, remote witnesses and file names
on disk all reach `camhub`'s output. Printed raw, an ESC or CSI sequence can
clear the owner's screen or recolour it, a CR can overwrite a line, a bidi
control (U+202E) can reverse what is read, and a newline can forge a line
such as "vote: ...". `escape` turns every such character into a visible
escape; `quote` also marks where a field begins and ends, and shows a
newline inside a multi-line field as an indented continuation line that
cannot be mistaken for a field of its own. `first_control` finds what
text fields refuse on the way in (hub/privacy/scope.py `Fields.text`).
"""

from __future__ import annotations

import unicodedata

# Cc: C0, DEL and C1 controls; Cf: format controls (bidi overrides and isolates, zero-width
# characters); Zl/Zp: U+2028 and U+2029, which some terminals and viewers break lines at.
_UNSAFE = frozenset(("Cc", "Cf", "Zl", "Zp"))
# Bidi embeddings, overrides, isolates and marks: they reorder what a reader sees.
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escaped(char: str) -> str:
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def escape(text: object, *, keep: str = "", also: str = "") -> str:
    """`text` with every control and format character shown as a Python-style escape (\\x1b, \\u202e).

    Characters in `keep` stay as they are; characters in `also` are escaped with a backslash too.
    """
    text = str(text)
    # The common case, in C: isprintable() is False for every Cc, Cf, Zl and Zp character (all are
    # "Other" or "Separator"), so such text needs no escape unless it holds a character of `also`.
    if text.isprintable() and not any(char in text for char in also):
        return text
    out = []
    for char in text:
        if char in keep:
            out.append(char)
        elif char in also:
            out.append("\\" + char)
        elif unicodedata.category(char) in _UNSAFE:
            out.append(_escaped(char))
        else:
            out.append(char)
    return "".join(out)


def quote(text: object, continuation: str | None = None) -> str:
    """`text` escaped between double quotes; with `continuation`, each newline starts a new line
    with that prefix (an indent deeper than any label), else it shows as \\n."""
    if continuation is None:
        return '"' + escape(text, also='"\\') + '"'
    lines = [escape(line, also='"\\') for line in str(text).split("\n")]
    return '"' + ("\n" + continuation).join(lines) + '"'


def first_control(text: str, allowed: str = "") -> str | None:
    """The first control character, line or paragraph separator or bidi control in `text`, escaped;
    None when there is none. Other format characters (zero-width joiners in emoji, soft hyphens) pass."""
    for char in text:
        if char not in allowed and (char in _BIDI or unicodedata.category(char) in ("Cc", "Zl", "Zp")):
            return _escaped(char)
    return None
