"""The one reader of request bodies, used by every route that takes one.

`read_json(request, limit, setting)` returns the body as a JSON object, or
raises `InvalidBody` (400) or `PayloadTooLarge` (413); nothing a client
sends makes it raise anything else. In order:
1. the Content-Type is `application/json` (UTF-8 if a charset is named): a
   page on another site cannot send that without a CORS preflight the hub
   never grants, so no form can post with an owner's cookie;
2. the body is read up to `limit` bytes, declared or streamed (413 above);
   a client that hangs up mid-body gets one DEBUG line, not a traceback;
3. the bytes are strict UTF-8 (no encoded surrogates, no other encoding);
4. nesting is at most `MAX_DEPTH` deep, counted before parsing, so the
   recursive parser cannot run out of stack;
5. the parse refuses numbers longer than `MAX_NUMBER_CHARS` (Python would
   spend quadratic time on, or refuse, a 5,000-digit integer), floats that
   overflow, NaN and Infinity (not JSON), and a key given twice;
6. no string or key holds a lone surrogate (`\\ud800` is valid JSON but not
   Unicode text; SQLite, logs and the audit log could not store it).
Messages say what is wrong and where a setting allows more, never the
body's text.
"""

from __future__ import annotations

import json
import logging
import math
import re
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from camhub.audit.canonical import is_text
from camhub.errors import HubError

log = logging.getLogger(__name__)

# Every body the hub takes nests a list in an object at most; 32 leaves room and no risk.
MAX_DEPTH = 32
# The longest number text: integers of up to 40 digits, or a float in any usual notation.
MAX_NUMBER_CHARS = 40
# For routes with no setting of their own (the /api/auth bodies are a few hundred bytes).
DEFAULT_LIMIT = 16 * 1024
CHUNK = 64 * 1024
# For the OpenAPI document's 400 answers.
BODY_RULES = (
    f"not a JSON object sent as application/json in UTF-8, nested at most {MAX_DEPTH} deep, with numbers of "
    f"at most {MAX_NUMBER_CHARS} characters, no NaN or Infinity, no key twice and no lone surrogates"
)


class InvalidBody(HubError):
    """A request body is not a JSON object the hub reads; the message says what is wrong with it."""

    key = "invalid_body"
    status = 400


class PayloadTooLarge(HubError):
    key = "payload_too_large"
    status = 413


async def read_body(request: web.Request, limit: int, setting: str | None = None) -> bytes:
    """The whole body, refusing it (413) as soon as it is over `limit` bytes, declared or streamed."""
    allowed = f"{limit} bytes" + (f" ({setting})" if setting else "")
    declared = request.content_length
    if declared is not None and declared > limit:
        raise PayloadTooLarge(f"the body is {declared} bytes; at most {allowed}")
    chunks, size = [], 0
    try:
        async for chunk in request.content.iter_chunked(CHUNK):
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"the body is over {allowed}")
            chunks.append(chunk)
    except ConnectionError:
        log.debug("%s %s: the client hung up after %d bytes of the body", request.method, request.path, size)
        raise InvalidBody(f"the connection closed after {size} bytes of the body") from None
    except (HttpProcessingError, web.RequestPayloadError):
        # Broken chunked framing or compression: the client's fault, answered like any bad body.
        raise InvalidBody(f"the body's transfer or content encoding is broken (after {size} bytes)") from None
    return b"".join(chunks)


async def read_json(request: web.Request, limit: int = DEFAULT_LIMIT, setting: str | None = None) -> dict[str, Any]:
    """The body as a JSON object, read within the bounds above."""
    if request.content_type != "application/json":
        raise InvalidBody(f"send the body as Content-Type application/json, not {request.content_type or 'nothing'}")
    if (request.charset or "utf-8").lower() != "utf-8":
        raise InvalidBody("a JSON body is UTF-8; leave out the charset or name utf-8")
    value = parse(await read_body(request, limit, setting))
    if not isinstance(value, dict):
        raise InvalidBody(f"the body must be a JSON object, not {_kind(value)}")
    return value


def parse(data: bytes) -> Any:
    """A JSON value from bytes, within the bounds in the module docstring; else `InvalidBody`."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidBody(f"the body is not UTF-8: byte {exc.start} is invalid") from None
    if not text.strip():
        raise InvalidBody("the body is empty; send a JSON object")
    _check_depth(text)
    try:
        value = json.loads(
            text, parse_int=_integer, parse_float=_float, parse_constant=_constant, object_pairs_hook=_object
        )
    except json.JSONDecodeError as exc:
        raise InvalidBody(f"the body is not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    except RecursionError:  # unreachable after _check_depth; kept so the parser can never answer 500
        raise InvalidBody(f"the body is nested more than {MAX_DEPTH} deep") from None
    if _has_lone_surrogate(value):
        raise InvalidBody("a string in the body holds a lone surrogate (\\ud800 to \\udfff), which is not Unicode text")
    return value


# A JSON string, escapes included; what is left outside them is structure and scalars.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


def _check_depth(text: str) -> None:
    depth = 0
    for bracket in _BRACKET.finditer(_STRING.sub("", text)):
        if bracket.group() in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise InvalidBody(f"the body is nested more than {MAX_DEPTH} deep")
        else:
            depth -= 1


def _number(text: str) -> None:
    if len(text) > MAX_NUMBER_CHARS:
        raise InvalidBody(f"a number in the body is {len(text)} characters long; at most {MAX_NUMBER_CHARS}")


def _integer(text: str) -> int:
    _number(text)
    return int(text)


def _float(text: str) -> float:
    _number(text)
    value = float(text)
    if not math.isfinite(value):
        raise InvalidBody("a number in the body is too large to be a finite number")
    return value


def _constant(name: str) -> Any:
    # The parser calls this only for its own three words, so naming one repeats no body text.
    raise InvalidBody(f"the body holds {name}, which is not JSON; send a finite number or null")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) < len(pairs):
        raise InvalidBody("an object in the body holds the same key twice")
    return value


def _has_lone_surrogate(value: Any) -> bool:
    """True if any string or key holds a lone surrogate (depth is bounded, so recursion is safe)."""
    if isinstance(value, str):
        return not is_text(value)
    if isinstance(value, list):
        return any(map(_has_lone_surrogate, value))
    if isinstance(value, dict):
        return any(not is_text(key) or _has_lone_surrogate(item) for key, item in value.items())
    return False


def _kind(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "true or false", type(None): "null"}.get(type(value), "a number")
