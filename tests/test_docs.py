"""Every config key is documented in docs/config.md; a new key without a line there fails."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import BaseModel

from camhub.config import HubConfig
from camhub.registry import Registry, builtin_integrations

DOC = Path(__file__).resolve().parent.parent / "docs" / "config.md"


def model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        if (found := model_of(arg)) is not None:
            return found
    return None


def key_paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    paths = []
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        paths.append(path)
        annotation = field.annotation
        origin = get_origin(annotation)
        if origin is dict:
            inner = model_of(get_args(annotation)[1])
            if inner is not None:
                paths += key_paths(inner, f"{path}.<name>.")
        elif origin is tuple and (inner := model_of(annotation)) is not None:
            paths += key_paths(inner, f"{path}[].")
        elif (inner := model_of(annotation)) is not None:
            paths += key_paths(inner, f"{path}.")
    return paths


def option_paths() -> list[str]:
    """The options of the built-in integrations, an input's `options:` keys."""
    sources = Registry().load(builtin_integrations()).sources.values()
    return [path for s in sources for path in key_paths(s.options, "cameras.<name>.inputs[].options.")]


def test_every_config_key_is_documented() -> None:
    documented = set(re.findall(r"^\| `([^`]+)` \|", DOC.read_text(), re.MULTILINE))
    keys = set(key_paths(HubConfig)) | set(option_paths())
    # Container keys (mqtt, web, ...) are documented through their children.
    leaves = {k for k in keys if not any(other.startswith(k + ".") for other in keys)} | {
        "cameras",
        "cameras.<name>.inputs",
    }
    assert leaves - documented == set(), "add these keys to docs/config.md"
    assert documented - keys == set(), "docs/config.md documents keys that do not exist"
