"""Loading integrations: manifest first, then import, then setup(ctx), failing loudly.

`Registry.load()` loads the built-in folder and every installed distribution's
entry point alike (found.py). For each: read and check the manifest, refuse
a domain claimed twice (naming both claimants), import the package, call its
`setup(ctx)`, and require that it registered what its kind promises. Any
broken manifest, import or setup raises `IntegrationError` naming the
integration and where it came from: a hub that silently lost a camera
source would be worse than one that does not start.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from functools import cache
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar, overload

from pydantic import BaseModel

from camhub.capture.media import Source
from camhub.discovery.model import Finding, ServiceRecord, Stream
from camhub.errors import IntegrationError
from camhub.registry.found import FoundIntegration, builtin_integrations, installed_integrations
from camhub.registry.manifest import Manifest
from camhub.registry.sources import InputNotClaimed, NoOptions, Options, SourceIntegration, claimant

if TYPE_CHECKING:
    from camhub.config import InputConfig
    from camhub.outputs import OutputFactory

OptionsT = TypeVar("OptionsT", bound=Options)
log = logging.getLogger(__name__)

# What a zeroconf announcement matched by an integration's manifest is, in its words; None: not a device of its.
Describe = Callable[[ServiceRecord], Finding | None]
# One probe of the network (ONVIF WS-Discovery): the interfaces' addresses (None: all), seconds to listen.
Probe = Callable[[tuple[str, ...] | None, float], Awaitable[list[Finding]]]
# The streams of a found device, asked for with the owner's credentials: finding, user, password, timeout.
AskStreams = Callable[[Finding, str, str, float], Awaitable[tuple[Stream, ...]]]


class Prober:
    """A discovery integration's probe and, when it can, its way to ask a device for its streams."""

    def __init__(self, domain: str, probe: Probe, ask_streams: AskStreams | None) -> None:
        self.domain = domain
        self.probe = probe
        self.ask_streams = ask_streams


class SetupContext:
    """What an integration's setup() may register. One per integration, for its setup() only."""

    def __init__(self, manifest: Manifest, registry: Registry) -> None:
        self.manifest = manifest
        self._registry = registry
        self.registered: list[str] = []

    @overload
    def register_source(self, factory: Callable[[InputConfig], Source]) -> None: ...

    @overload
    def register_source(self, factory: Callable[[InputConfig, OptionsT], Source], options: type[OptionsT]) -> None: ...

    def register_source(self, factory: Callable[..., Source], options: type[Options] | None = None) -> None:
        """Register the Source factory; with `options`, the input's `options:` are validated by it and passed in."""
        domain = self.manifest.domain  # its kind is a source: the manifest allows no other yet
        if "source" in self.registered:
            raise IntegrationError(f"integration {domain!r} registers a source twice")
        if not callable(factory):
            raise IntegrationError(f"integration {domain!r} registers a source factory that is not callable")
        if options is None:
            schema: type[Options] = NoOptions

            def build(config: InputConfig, _options: Any) -> Source:
                return factory(config)

        else:
            if not (isinstance(options, type) and issubclass(options, BaseModel)):
                raise IntegrationError(f"integration {domain!r}: options must be a pydantic model class")
            if options.model_config.get("extra") != "forbid":
                raise IntegrationError(
                    f"integration {domain!r}: its options model must forbid unknown keys (subclass "
                    "camhub.registry.Options)"
                )
            schema, build = options, factory
        self._registry._add_source(SourceIntegration(self.manifest, build, schema))
        self.registered.append("source")

    def register_zeroconf(self, describe: Describe) -> None:
        """Register what the announcements matched by the manifest's `zeroconf` entries describe."""
        domain = self.manifest.domain
        if not self.manifest.zeroconf:
            raise IntegrationError(f"integration {domain!r} registers a zeroconf describer but lists no 'zeroconf'")
        if "zeroconf" in self.registered or not callable(describe):
            raise IntegrationError(f"integration {domain!r} registers a zeroconf describer twice or not callable")
        self._registry._describers[domain] = describe
        self.registered += ["zeroconf", "discovery"]

    def register_prober(self, probe: Probe, ask_streams: AskStreams | None = None) -> None:
        """Register a network probe (a discovery kind of its own, like ONVIF WS-Discovery)."""
        domain = self.manifest.domain
        if self.manifest.kind != "discovery":
            raise IntegrationError(f"integration {domain!r}: only a discovery integration registers a prober")
        if "prober" in self.registered or not callable(probe):
            raise IntegrationError(f"integration {domain!r} registers a prober twice or not callable")
        self._registry._probers[domain] = Prober(domain, probe, ask_streams)
        self.registered += ["prober", "discovery"]

    def register_output(self, factory: OutputFactory) -> None:
        """Register an output (like MQTT): the hub calls `factory` once per run and runs what it returns."""
        domain = self.manifest.domain
        if self.manifest.kind != "output":
            raise IntegrationError(f"integration {domain!r}: only an output integration registers an output")
        if "output" in self.registered or not callable(factory):
            raise IntegrationError(f"integration {domain!r} registers an output twice or not callable")
        self._registry._outputs[domain] = factory
        self.registered.append("output")


class Registry:
    """The loaded integrations, by domain."""

    def __init__(self) -> None:
        self.manifests: dict[str, Manifest] = {}
        self.origins: dict[str, str] = {}  # domain -> where it was found, for errors
        self._sources: dict[str, SourceIntegration] = {}
        self._describers: dict[str, Describe] = {}
        self._probers: dict[str, Prober] = {}
        self._outputs: dict[str, OutputFactory] = {}

    def load(self, found: Iterable[FoundIntegration] | None = None) -> Registry:
        """Load `found`, by default the built-in folder and then every installed entry point."""
        for integration in [*builtin_integrations(), *installed_integrations()] if found is None else found:
            self.load_one(integration)
        return self

    def load_one(self, found: FoundIntegration) -> None:
        try:
            manifest = Manifest.read(found.manifest_path)
        except IntegrationError as exc:
            raise IntegrationError(f"{found.origin}: {exc}") from None
        domain = manifest.domain
        if domain != found.domain:
            raise IntegrationError(
                f"{found.manifest_path}: domain {domain!r} must be the name it is found by, {found.domain!r} "
                f"({found.origin})"
            )
        if domain in self.manifests:
            raise IntegrationError(
                f"integration {domain!r} is claimed twice: by {self.origins[domain]} and by {found.origin}"
            )
        named = f"integration {domain!r} ({found.origin})"
        try:
            module = importlib.import_module(found.module)
        except Exception as exc:
            raise IntegrationError(f"{named} failed to import: {type(exc).__name__}: {exc}") from exc
        setup = getattr(module, "setup", None)
        if not callable(setup):
            raise IntegrationError(f"{named} has no setup(ctx) function in its __init__.py")
        ctx = SetupContext(manifest, self)
        try:
            setup(ctx)
        except IntegrationError:
            raise
        except Exception as exc:
            raise IntegrationError(f"{named} failed in setup: {type(exc).__name__}: {exc}") from exc
        if manifest.kind not in ctx.registered:
            raise IntegrationError(f"{named} registered no {manifest.kind} in setup()")
        if manifest.zeroconf and "zeroconf" not in ctx.registered:
            from camhub.discovery.describe import generic_describer

            self._describers[domain] = generic_describer(manifest)
        self.manifests[domain] = manifest
        self.origins[domain] = found.origin

    def _add_source(self, integration: SourceIntegration) -> None:
        self._sources[integration.domain] = integration

    @property
    def sources(self) -> Mapping[str, SourceIntegration]:
        return MappingProxyType(self._sources)

    @property
    def source_kinds(self) -> tuple[str, ...]:
        return tuple(sorted(self._sources))

    def source(self, kind: str) -> SourceIntegration:
        try:
            return self._sources[kind]
        except KeyError:
            known = ", ".join(self.source_kinds) or "none loaded"
            raise InputNotClaimed("kind", f"is not a loaded source integration: {kind!r}; known: {known}") from None

    def source_integration(self, config: InputConfig) -> SourceIntegration:
        """The integration reading `config`: the one its `kind:` names, else the one claiming its URL."""
        if config.kind is not None:
            return self.source(config.kind)
        return claimant(self._sources.values(), config.url)

    @property
    def probers(self) -> tuple[Prober, ...]:
        return tuple(self._probers[d] for d in sorted(self._probers))

    @property
    def outputs(self) -> Mapping[str, OutputFactory]:
        return MappingProxyType(self._outputs)

    def zeroconf_types(self) -> tuple[str, ...]:
        """Every service type some integration describes: what the browser listens for."""
        return tuple(sorted({m.type for manifest in self.manifests.values() for m in manifest.zeroconf}))

    def describe(self, record: ServiceRecord) -> Finding | None:
        """What `record` is, said by the integrations whose matchers it meets, narrow matchers first.

        A describer that fails on hostile input is skipped with a log line; the record may still be
        described by another.
        """
        candidates = [
            (not matcher.narrow, domain)
            for domain, manifest in self.manifests.items()
            for matcher in manifest.zeroconf
            if domain in self._describers and matcher.matches(record.type, record.instance, record.properties)
        ]
        for _, domain in sorted(set(candidates)):
            try:
                finding = self._describers[domain](record)
            except (ValueError, TypeError, KeyError) as exc:
                log.info("discovery: integration %r could not read %r: %s", domain, record.name, exc)
                continue
            if finding is not None:
                return finding
        return None

    def source_for(self, config: InputConfig) -> Source:
        """The Source of an input whose config parse_config has checked against this registry."""
        return self.source_integration(config).build(config)


@cache
def default_registry() -> Registry:
    """The built-in and installed integrations, loaded once per process."""
    return Registry().load()
