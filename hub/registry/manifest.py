"""manifest.json: what an integration declares before any of its code runs.

The registry reads the manifest first and imports the integration only when
the manifest is valid, so a mistake in it is named by file and key. Every
key is documented in docs/integrations.md; tests/integrations checks that
the documented keys are the ones read here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from camhub.errors import IntegrationError

# What an integration can be. A kind exists when the hub has a consumer for it; discovery
# and output arrive with the features that use them (docs/decisions.md, 2026-11-29).
KINDS = ("source",)
# What a source integration's streams may declare they can do (docs/integrations.md).
CAPABILITIES = {
    # Its open streams give a `copy_template`: clips mux their packets unchanged where MP4 holds
    # the codec (H.264, H.265). Without it, clips are decoded and re-encoded as H.264.
    "stream_copy": "packets can be muxed into clips unchanged",
}
KEYS = ("domain", "name", "kind", "version", "url_schemes", "url_paths", "capabilities", "zeroconf")
_DOMAIN = re.compile(r"^[a-z][a-z0-9_]*$")
# RFC 3986 scheme, lower-case as the registry compares them.
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*$")
# A DNS-SD service type as zeroconf browses it: _service._tcp.local.
_SERVICE_TYPE = re.compile(r"^_[a-z0-9-]{1,15}\._(tcp|udp)\.local\.$")


@dataclass(frozen=True)
class Manifest:
    domain: str  # the integration's name in config (`kind:`) and in errors
    name: str  # for people
    kind: str  # one of KINDS
    version: str
    url_schemes: tuple[str, ...] = ()  # URL schemes whose inputs this source reads
    url_paths: tuple[str, ...] = ()  # globs on the URL's path; empty: any path of its schemes
    capabilities: frozenset[str] = frozenset()  # names from CAPABILITIES
    zeroconf: tuple[str, ...] = ()  # DNS-SD service types of devices this integration reads

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
        lists = {key: _strings(raw, key, where) for key in ("url_schemes", "url_paths", "capabilities", "zeroconf")}
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
        for service in lists["zeroconf"]:
            if not _SERVICE_TYPE.match(service):
                raise IntegrationError(f"{where}: zeroconf type {service!r} must look like '_rtsp._tcp.local.'")
        return cls(
            domain=domain,
            name=raw["name"],
            kind=kind,
            version=raw["version"],
            url_schemes=lists["url_schemes"],
            url_paths=lists["url_paths"],
            capabilities=frozenset(lists["capabilities"]),
            zeroconf=lists["zeroconf"],
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
