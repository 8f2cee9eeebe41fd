"""The OpenAPI document says what the code enforces, so schemathesis (and any client) can trust it.

- Every input (path and query parameters, JSON body fields) is bounded: a
  string by a `maxLength`, a `pattern` or an enum, an integer by a `maximum`.
- The notice kinds are exactly the kinds the code emits.
- Exactly the secured operations refuse an anonymous caller, whatever the
  method (logout answers anyone, so it is not secured).
- Every error response is documented as the JSON `Error` the hub sends.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import camhub
from camhub.http.openapi import openapi_document

DOCUMENT = openapi_document()
OPERATIONS = [(path, method, op) for path, item in DOCUMENT["paths"].items() for method, op in item.items()]


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    node: Any = DOCUMENT
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return _resolve(node)


def _types(schema: dict[str, Any]) -> set[str]:
    kind = schema.get("type", ())
    return {kind} if isinstance(kind, str) else set(kind)


def unbounded(schema: dict[str, Any], where: str) -> Iterator[str]:
    """Where in `schema` a string has no maxLength, pattern or enum, or an integer no maximum."""
    schema = _resolve(schema)
    if "enum" in schema or "const" in schema:
        return
    types = _types(schema)
    bounded_text = "maxLength" in schema or "pattern" in schema or schema.get("format") == "binary"  # a file: 413
    if "string" in types and not bounded_text:
        yield f"{where}: a string without maxLength or pattern"
    if "integer" in types and "maximum" not in schema and "exclusiveMaximum" not in schema:
        yield f"{where}: an integer without maximum"
    for name, sub in schema.get("properties", {}).items():
        yield from unbounded(sub, f"{where}.{name}")
    if "items" in schema:
        yield from unbounded(schema["items"], f"{where}[]")
    for key in ("oneOf", "anyOf", "allOf"):
        for i, sub in enumerate(schema.get(key, ())):
            yield from unbounded(sub, f"{where}/{key}/{i}")


def test_every_input_is_bounded() -> None:
    gaps = []
    for path, method, op in OPERATIONS:
        for parameter in op.get("parameters", ()):
            gaps += unbounded(parameter["schema"], f"{method.upper()} {path} {parameter['in']} {parameter['name']}")
        for media, content in op.get("requestBody", {}).get("content", {}).items():
            gaps += unbounded(content.get("schema", {}), f"{method.upper()} {path} body ({media})")
    assert not gaps, "\n".join(gaps)


def test_the_checker_finds_a_gap() -> None:
    """The walk above reaches nested fields, items and alternatives."""
    schema = {
        "type": "object",
        "properties": {
            "a": {
                "type": "array",
                "items": {"oneOf": [{"type": "integer", "maximum": 3}, {"type": ["string", "null"]}]},
            }
        },
    }
    assert list(unbounded(schema, "x")) == ["x.a[]/oneOf/1: a string without maxLength or pattern"]


def emitted_notice_kinds() -> set[str]:
    """Every kind passed to `notify(...)` anywhere in hub/; a kind that is not a literal fails the test."""
    kinds: set[str] = set()
    for file in Path(camhub.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(file.read_text(), str(file))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "notify":
                first = node.args[0] if node.args else None
                assert isinstance(first, ast.Constant) and isinstance(first.value, str), (
                    f"{file}:{node.lineno}: a notice kind must be a string literal, so this test can see it"
                )
                kinds.add(first.value)
    return kinds


def test_notice_kinds_are_the_ones_the_code_emits() -> None:
    documented = DOCUMENT["paths"]["/api/notices"]["get"]["responses"]["200"]["content"]["application/json"]
    kind = _resolve(documented["schema"]["items"])["properties"]["kind"]
    emitted = emitted_notice_kinds()
    assert {"request_received", "requester_registered"} <= emitted  # the scan finds them
    assert set(kind["enum"]) == emitted


def test_every_error_is_documented_as_json() -> None:
    wrong = []
    for path, method, op in OPERATIONS:
        for status, response in op["responses"].items():
            if status.startswith(("4", "5")) and set(response.get("content", {})) != {"application/json"}:
                wrong.append(f"{method.upper()} {path} {status}: {sorted(response.get('content', {}))}")
    assert not wrong, "\n".join(wrong)


EXAMPLE = {
    "{name}": "yard",
    "{id}": "1",
    "{file}": "style.css",
    "{index}": "0",
    "{token}": "x",
    "{username}": "bob",
    "{verdict}": "approve",
}


async def test_secured_is_exactly_what_refuses_anonymous(privacy_hub: Any) -> None:
    """Anonymous calls with no body: 401 login_required exactly where the document asks for credentials."""
    ph = await privacy_hub(clips=[])
    anonymous = ph.client()
    wrong = []
    for path, method, op in OPERATIONS:
        url = path
        for param, value in EXAMPLE.items():
            url = url.replace(param, value)
        async with anonymous.request(method, url) as response:
            body = await response.json() if response.content_type == "application/json" else {}
        refused = response.status == 401 and body.get("error") == "login_required"
        if refused != bool(op.get("security")):
            wrong.append(f"{method.upper()} {path}: secured={bool(op.get('security'))}, got {response.status} {body}")
    assert not wrong, "\n".join(wrong)
