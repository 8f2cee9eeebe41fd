"""What discovery hears and what it makes of it: service records, findings, streams.

A discovery kind (zeroconf browsing, ONVIF WS-Discovery probing) turns what
it hears on the network into `Finding`s: one device, as one announcement
describes it, with the streams it suggests. Everything in a finding came
from the network and is untrusted: the constructors here are the one place
it is cleaned (`clean_text`), so that names, models and TXT values are
bounded, valid text before anything else sees them. The device table
(table.py) merges findings into devices.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

# Longest name, model, maker or TXT value kept; longer ones are cut (RFC 6763 allows 255 per string).
MAX_TEXT = 128
# TXT keys kept per record, and streams per finding; the rest are dropped.
MAX_PROPERTIES = 32
MAX_STREAMS = 8
# Discovery kinds, as findings and the API name them.
ZEROCONF = "zeroconf"
ONVIF = "onvif"
_MAC = re.compile(r"^[0-9a-f]{2}([:-]?[0-9a-f]{2}){5}$")


def clean_text(value: str | bytes | None, limit: int = MAX_TEXT) -> str:
    """Untrusted text made safe to keep and show: decoded (bad UTF-8 replaced), without control
    characters, stripped and cut to `limit` characters. The dashboard still escapes it as HTML."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        value = value[: limit * 4].decode("utf-8", errors="replace")
    value = value[: limit * 4]
    kept = "".join(c if unicodedata.category(c)[0] != "C" else " " for c in value)
    return " ".join(kept.split())[:limit]


def clean_mac(value: str | None) -> str | None:
    """A MAC address as aa:bb:cc:dd:ee:ff, or None when `value` is not one."""
    text = (value or "").strip().lower()
    if not _MAC.match(text):
        return None
    digits = re.sub(r"[^0-9a-f]", "", text)
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def clean_host(value: str) -> str | None:
    """An IP address as text, or None when `value` is not one (names are not resolved here)."""
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def without_credentials(url: str) -> str:
    """`url` without its user info, as discovered streams and adopted cameras keep URLs."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def clean_properties(raw: Mapping[bytes, bytes | None] | Mapping[str, str | None]) -> dict[str, str]:
    """TXT properties as lower-case keys to cleaned text, at most MAX_PROPERTIES of them."""
    out: dict[str, str] = {}
    for key, value in raw.items():
        if len(out) >= MAX_PROPERTIES:
            break
        name = clean_text(key, 32).lower()
        if name and name not in out:
            out[name] = clean_text(value, 255)
    return out


@dataclass(frozen=True)
class ServiceRecord:
    """One resolved zeroconf announcement, cleaned: what a describer reads."""

    type: str  # the service type, "_rtsp._tcp.local."
    name: str  # the full instance name, "Front door._rtsp._tcp.local."
    instance: str  # the instance label alone, cleaned: "Front door"
    addresses: tuple[str, ...]  # IP addresses as text, IPv4 first
    port: int
    properties: Mapping[str, str]  # TXT, keys lower-case (clean_properties)
    server: str = ""  # the host name it announced, "cam-1234.local."

    @property
    def host(self) -> str:
        return self.addresses[0]


@dataclass(frozen=True)
class Stream:
    """A stream a device offers, as a URL without credentials (they are added at adoption)."""

    url: str
    label: str = "main"  # main, sub, or a profile's name
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True)
class Finding:
    """One device as one announcement or probe answer describes it."""

    kind: str  # ZEROCONF or ONVIF: how it was heard
    key: str  # the announcement's own name (service name, ONVIF endpoint); it is withdrawn by it
    integration: str  # the domain of the integration that described it
    host: str  # IP address as text
    port: int
    name: str  # for people: the instance name or the ONVIF name scope
    maker: str = ""
    model: str = ""
    mac: str | None = None  # aa:bb:cc:dd:ee:ff
    serial: str = ""
    streams: tuple[Stream, ...] = ()  # main first; the smallest is the one to detect on
    adoptable: bool = True
    reason: str = ""  # why not, when not adoptable
    device_service: str = ""  # ONVIF device service URL: streams are asked for with the owner's credentials
    extra: Mapping[str, str] = field(default_factory=dict)  # other announced facts worth showing (codec, firmware)

    def __post_init__(self) -> None:
        for name in ("name", "maker", "model", "serial", "reason"):
            object.__setattr__(self, name, clean_text(getattr(self, name)))
        object.__setattr__(self, "mac", clean_mac(self.mac))
        object.__setattr__(self, "streams", tuple(self.streams[:MAX_STREAMS]))
        if not 0 < self.port < 65536:
            raise ValueError(f"port {self.port} is not a TCP port")
        if clean_host(self.host) is None:
            raise ValueError(f"host {self.host!r} is not an IP address")

    @property
    def identity(self) -> str:
        """What makes two findings the same device: MAC, else serial, else host and port."""
        if self.mac:
            return f"mac:{self.mac}"
        if self.serial:
            return f"serial:{self.serial.lower()}"
        return f"addr:{self.host}:{self.port}"
