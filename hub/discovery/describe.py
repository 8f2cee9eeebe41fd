"""Reading an announcement's TXT record: the conventions most cameras share.

`generic_describer(manifest)` is what an integration gets when its manifest
lists zeroconf types and its setup registers no describer of its own: the
stream URL is the integration's first URL scheme, the announced address and
port, and the path from the TXT record. Integrations with their own habits
(Axis announces its web port, HomeKit cannot be read at all) register their
own describer and may use the helpers here.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence

from camhub.discovery.model import ZEROCONF, Finding, ServiceRecord, Stream
from camhub.registry.manifest import Manifest

# TXT keys cameras use for the same facts, most common first.
MAKER_KEYS = ("manufacturer", "vendor", "maker", "mf", "brand")
MODEL_KEYS = ("model", "md", "mdl", "product", "ty")
MAC_KEYS = ("macaddress", "mac", "hw", "hwaddr")
SERIAL_KEYS = ("serial", "serialnumber", "sn")
PATH_KEYS = ("path", "main")
SUB_KEYS = ("sub",)
# Announced facts shown beside a device, when present.
EXTRA_KEYS = ("codec", "firmware", "fw", "version")


def first(properties: Mapping[str, str], keys: Sequence[str]) -> str:
    return next((properties[k] for k in keys if properties.get(k)), "")


def url_path(value: str) -> str | None:
    """A TXT path made safe for a URL: absolute, printable, no spaces, no '..'; None when it is not."""
    if not value.startswith("/") or len(value) > 255 or ".." in value:
        return None
    if any(c.isspace() or not c.isprintable() or c in "\\#" for c in value):
        return None
    return value


def url_host(host: str) -> str:
    return f"[{host}]" if ipaddress.ip_address(host).version == 6 else host


def stream_url(scheme: str, host: str, port: int, path: str) -> str:
    return f"{scheme}://{url_host(host)}:{port}{path}"


def finding_from(
    record: ServiceRecord,
    integration: str,
    streams: Sequence[Stream] = (),
    *,
    port: int | None = None,
    adoptable: bool = True,
    reason: str = "",
    mac: str | None = None,
) -> Finding:
    """A zeroconf finding with the facts every describer reads the same way."""
    props = record.properties
    return Finding(
        kind=ZEROCONF,
        key=record.name,
        integration=integration,
        host=record.host,
        port=port or record.port,
        name=record.instance,
        maker=first(props, MAKER_KEYS),
        model=first(props, MODEL_KEYS),
        mac=mac if mac is not None else first(props, MAC_KEYS) or None,
        serial=first(props, SERIAL_KEYS),
        streams=tuple(streams),
        adoptable=adoptable,
        reason=reason,
        extra={k: props[k] for k in EXTRA_KEYS if props.get(k)},
    )


def generic_describer(
    manifest: Manifest, path_keys: Sequence[str] = PATH_KEYS, sub_keys: Sequence[str] = SUB_KEYS
) -> Describer:
    """Describe with the integration's first URL scheme and the TXT record's paths."""
    return Describer(manifest, tuple(path_keys), tuple(sub_keys))


class Describer:
    def __init__(self, manifest: Manifest, path_keys: tuple[str, ...], sub_keys: tuple[str, ...]) -> None:
        self.manifest = manifest
        self.path_keys = path_keys
        self.sub_keys = sub_keys

    def __call__(self, record: ServiceRecord) -> Finding | None:
        schemes = self.manifest.url_schemes
        # _rtsps._tcp is read with rtsps when the integration reads it; else the first scheme it names.
        wanted = record.type.split(".")[0].lstrip("_")
        scheme = wanted if wanted in schemes else (schemes[0] if schemes else "")
        streams: list[Stream] = []
        main = url_path(first(record.properties, self.path_keys))
        if scheme and main is not None:
            streams.append(Stream(stream_url(scheme, record.host, record.port, main), "main"))
            sub = url_path(first(record.properties, self.sub_keys))
            if sub is not None and sub != main:
                streams.append(Stream(stream_url(scheme, record.host, record.port, sub), "sub"))
        return finding_from(record, self.manifest.domain, streams)
