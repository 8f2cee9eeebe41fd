"""Integrations: found by manifest, loaded by one registry, failing loudly.

An integration is a folder `integrations/<domain>/` holding `manifest.json`
and an `__init__.py` with `setup(ctx: SetupContext) -> None`. Setup
registers what the integration offers through the context; built-in
integrations use exactly this API. Any broken manifest, import or setup
raises `IntegrationError` naming the integration: a hub that silently lost a
camera source would be worse than one that does not start.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import camhub.integrations as builtin_integrations
from camhub.capture.media import Source
from camhub.config import InputConfig
from camhub.errors import IntegrationError

KINDS = ("source", "output", "discovery")
SourceFactory = Callable[[InputConfig], Source]
BUILTIN_DIR = Path(builtin_integrations.__file__).resolve().parent
_DOMAIN = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Manifest:
    domain: str
    name: str
    kind: str
    version: str
    zeroconf: tuple[str, ...] = ()
    requirements: tuple[str, ...] = ()

    @classmethod
    def read(cls, path: Path) -> Manifest:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise IntegrationError(f"{path}: cannot read manifest: {exc}") from None
        if not isinstance(raw, dict):
            raise IntegrationError(f"{path}: a manifest is a JSON object")
        known = {"domain", "name", "kind", "version", "zeroconf", "requirements"}
        if unknown := sorted(set(raw) - known):
            raise IntegrationError(f"{path}: unknown manifest key {unknown[0]!r}; known keys: {sorted(known)}")
        for key in ("domain", "name", "kind", "version"):
            if not isinstance(raw.get(key), str) or not raw[key]:
                raise IntegrationError(f"{path}: manifest key {key!r} must be a non-empty string")
        if not _DOMAIN.match(raw["domain"]):
            raise IntegrationError(f"{path}: domain {raw['domain']!r} must be lower-case letters, digits and '_'")
        if raw["domain"] != path.parent.name:
            raise IntegrationError(f"{path}: domain {raw['domain']!r} must match its folder {path.parent.name!r}")
        if raw["kind"] not in KINDS:
            raise IntegrationError(f"{path}: kind {raw['kind']!r} is not one of {', '.join(KINDS)}")
        for key in ("zeroconf", "requirements"):
            value = raw.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise IntegrationError(f"{path}: manifest key {key!r} must be a list of strings")
        return cls(
            domain=raw["domain"],
            name=raw["name"],
            kind=raw["kind"],
            version=raw["version"],
            zeroconf=tuple(raw.get("zeroconf", [])),
            requirements=tuple(raw.get("requirements", [])),
        )


@dataclass
class SetupContext:
    """What an integration's setup() may register. One per integration."""

    manifest: Manifest
    registry: Registry
    registered: list[str] = field(default_factory=list)

    def register_source(self, factory: SourceFactory) -> None:
        if self.manifest.kind != "source":
            raise IntegrationError(f"integration {self.manifest.domain!r} is a {self.manifest.kind}, not a source")
        self.registry._sources[self.manifest.domain] = factory
        self.registered.append("source")

    def register_output(self, factory: Callable[..., Any]) -> None:
        if self.manifest.kind != "output":
            raise IntegrationError(f"integration {self.manifest.domain!r} is a {self.manifest.kind}, not an output")
        self.registry._outputs[self.manifest.domain] = factory
        self.registered.append("output")


class Registry:
    def __init__(self) -> None:
        self.manifests: dict[str, Manifest] = {}
        self._sources: dict[str, SourceFactory] = {}
        self._outputs: dict[str, Callable[..., Any]] = {}

    def load(self, folder: Path = BUILTIN_DIR, package: str = "camhub.integrations") -> Registry:
        """Load every integration under `folder`, importable as `package.<domain>`."""
        if not folder.is_dir():
            raise IntegrationError(f"{folder}: no integrations folder")
        for manifest_path in sorted(folder.glob("*/manifest.json")):
            self.load_one(manifest_path, package)
        return self

    def load_one(self, manifest_path: Path, package: str) -> None:
        manifest = Manifest.read(manifest_path)
        domain = manifest.domain
        if domain in self.manifests:
            raise IntegrationError(f"integration {domain!r} is loaded twice ({manifest_path})")
        try:
            module = importlib.import_module(f"{package}.{domain}")
        except Exception as exc:
            raise IntegrationError(f"integration {domain!r} failed to import: {type(exc).__name__}: {exc}") from exc
        setup = getattr(module, "setup", None)
        if not callable(setup):
            raise IntegrationError(f"integration {domain!r} has no setup(ctx) function in its __init__.py")
        ctx = SetupContext(manifest, self)
        try:
            setup(ctx)
        except IntegrationError:
            raise
        except Exception as exc:
            raise IntegrationError(f"integration {domain!r} failed in setup: {type(exc).__name__}: {exc}") from exc
        if not ctx.registered:
            raise IntegrationError(f"integration {domain!r} registered nothing in setup()")
        self.manifests[domain] = manifest

    def source_factory(self, kind: str) -> SourceFactory:
        try:
            return self._sources[kind]
        except KeyError:
            known = ", ".join(sorted(self._sources)) or "none loaded"
            raise IntegrationError(f"no source integration {kind!r}; known: {known}") from None

    def source_for(self, config: InputConfig) -> Source:
        return self.source_factory(config.guessed_kind())(config)

    @property
    def source_kinds(self) -> tuple[str, ...]:
        return tuple(sorted(self._sources))
