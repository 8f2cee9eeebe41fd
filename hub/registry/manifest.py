"""manifest.json: what an integration declares before any of its code runs.

The registry reads the manifest first and imports the integration only when
the manifest is valid, so a mistake in it is named by file and key. Every
key is documented in docs/integrations.md; tests/integrations checks that
the documented keys are the ones read here.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from camhub.errors import IntegrationError

# What an integration can be. A kind exists when the hub has a consumer for it; output
# arrives with the feature that uses it (docs/decisions.md, 2026-11-29). A source may also
# describe what discovery hears; a discovery integration only finds devices (docs/discovery.md).
KINDS = ("source", "discovery", "output")
# What a source integration's streams may declare they can do (docs/integrations.md).
CAPABILITIES = {
    # Its open streams give a `copy_template`: clips mux their packets unchanged where MP4 holds
    # the codec (H.264, H.265). Without it, clips are decoded and re-encoded as H.264.
    "stream_copy": "packets can be muxed into clips unchanged",
}
KEYS = ("domain", "name", "kind", "version", "url_schemes", "url_paths", "capabilities", "zeroconf", "requirements")
_DOMAIN = re.compile(r"^[a-z][a-z0-9_]*$")
# RFC 3986 scheme, lower-case as the registry compares them.
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*$")
# A DNS-SD service type as zeroconf browses it: _service._tcp.local.
_SERVICE_TYPE = re.compile(r"^_[a-z0-9-]{1,15}\._(tcp|udp)\.local\.$")


@dataclass(frozen=True)
class ZeroconfMatcher:
    """One `zeroconf` entry: a service type, narrowed by globs on TXT values and the instance name.

    Globs compare case-insensitively, as Home Assistant's do; an entry without them matches every
    announcement of its type.
    """

    type: str
    properties: Mapping[str, str] = field(default_factory=dict)  # TXT key (lower-case) -> glob on its value
    name: str | None = None  # glob on the instance name

    @property
    def narrow(self) -> bool:
        return bool(self.properties) or self.name is not None

    def matches(self, service_type: str, instance: str, properties: Mapping[str, str]) -> bool:
        if service_type != self.type:
            return False
        if self.name is not None and not fnmatch.fnmatchcase(instance.lower(), self.name.lower()):
            return False
        return all(
            key in properties and fnmatch.fnmatchcase(properties[key].lower(), glob.lower())
            for key, glob in self.properties.items()
        )


@dataclass(frozen=True)
class Manifest:
    domain: str  # the integration's name in config (`kind:`) and in errors
    name: str  # for people
    kind: str  # one of KINDS
    version: str
    url_schemes: tuple[str, ...] = ()  # URL schemes whose inputs this source reads
    url_paths: tuple[str, ...] = ()  # globs on the URL's path; empty: any path of its schemes
    capabilities: frozenset[str] = frozenset()  # names from CAPABILITIES
    zeroconf: tuple[ZeroconfMatcher, ...] = ()  # announcements of devices this integration describes
    requirements: tuple[str, ...] = ()  # the Python packages it needs, as pip reads them (installed with camhub)

    @classmethod
    def read(cls, path: Path) -> Manifest:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise IntegrationError(f"{path}: cannot read manifest: {exc}") from None
        return cls.parse(raw, str(path))

    @classmethod
    def parse(cls, raw: Any, where: str) -> Manifest:
        """A manifest from its parsed JSON; `where` names the file in errors."""
        if not isinstance(raw, dict):
            raise IntegrationError(f"{where}: a manifest is a JSON object")
        if unknown := sorted(set(raw) - set(KEYS)):
            raise IntegrationError(f"{where}: unknown manifest key {unknown[0]!r}; known keys: {', '.join(KEYS)}")
        for key in ("domain", "name", "kind", "version"):
            if not isinstance(raw.get(key), str) or not raw[key]:
                raise IntegrationError(f"{where}: manifest key {key!r} must be a non-empty string")
        domain, kind = raw["domain"], raw["kind"]
        if not _DOMAIN.match(domain):
            raise IntegrationError(f"{where}: domain {domain!r} must be lower-case letters, digits and '_'")
        if kind not in KINDS:
            raise IntegrationError(f"{where}: kind {kind!r} is not one of {', '.join(KINDS)}")
        lists = {key: _strings(raw, key, where) for key in ("url_schemes", "url_paths", "capabilities", "requirements")}
        matchers = _matchers(raw.get("zeroconf", []), where)
        for scheme in lists["url_schemes"]:
            if not _SCHEME.match(scheme):
                raise IntegrationError(
                    f"{where}: URL scheme {scheme!r} must be lower-case, as in 'rtsp' or 'loop+file'"
                )
        if kind == "source" and not lists["url_schemes"]:
            raise IntegrationError(f"{where}: a source declares the URL schemes it reads in 'url_schemes'")
        if lists["url_paths"] and not lists["url_schemes"]:
            raise IntegrationError(f"{where}: 'url_paths' narrow the 'url_schemes'; give those too")
        for capability in lists["capabilities"]:
            if capability not in CAPABILITIES:
                raise IntegrationError(
                    f"{where}: capability {capability!r} is not one of {', '.join(sorted(CAPABILITIES))}"
                )
        return cls(
            domain=domain,
            name=raw["name"],
            kind=kind,
            version=raw["version"],
            url_schemes=lists["url_schemes"],
            url_paths=lists["url_paths"],
            capabilities=frozenset(lists["capabilities"]),
            zeroconf=matchers,
            requirements=lists["requirements"],
        )

    def can(self, capability: str) -> bool:
        return capability in self.capabilities


def _strings(raw: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise IntegrationError(f"{where}: manifest key {key!r} must be a list of non-empty strings")
    if len(set(value)) != len(value):
        raise IntegrationError(f"{where}: manifest key {key!r} lists a value twice")
    return tuple(value)


def _matchers(value: Any, where: str) -> tuple[ZeroconfMatcher, ...]:
    """The `zeroconf` list: service types, or objects {"type", "properties"?, "name"?}."""
    if not isinstance(value, list):
        raise IntegrationError(f"{where}: manifest key 'zeroconf' must be a list of service types or matchers")
    out: list[ZeroconfMatcher] = []
    for entry in value:
        if isinstance(entry, str):
            entry = {"type": entry}
        if not isinstance(entry, dict) or set(entry) - {"type", "properties", "name"}:
            raise IntegrationError(
                f"{where}: a 'zeroconf' entry is a service type or an object with 'type', 'properties' and "
                f"'name', not {entry!r}"
            )
        service = entry.get("type")
        if not isinstance(service, str) or not _SERVICE_TYPE.match(service):
            raise IntegrationError(f"{where}: zeroconf type {service!r} must look like '_rtsp._tcp.local.'")
        props = entry.get("properties", {})
        if not isinstance(props, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in props.items()):
            raise IntegrationError(f"{where}: zeroconf 'properties' of {service} must map TXT keys to globs")
        name = entry.get("name")
        if name is not None and not isinstance(name, str):
            raise IntegrationError(f"{where}: zeroconf 'name' of {service} must be a glob string")
        matcher = ZeroconfMatcher(service, {k.lower(): v for k, v in props.items()}, name)
        if matcher in out:
            raise IntegrationError(f"{where}: manifest key 'zeroconf' lists {service} twice")
        out.append(matcher)
    return tuple(out)
