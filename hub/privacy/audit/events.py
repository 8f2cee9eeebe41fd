"""The typed events the audit log records, as frozen dataclasses.

Each event has a `name` (its stable key in the log), a `time` (Unix seconds,
from the hub's injected clock), an `actor` (who caused it: "owner", "hub",
a user name, a requester's id) and its own fields. Times inside fields are
whole Unix seconds (`*_s`), since floats are kept out of the log.
Later issues emit these; `EVENT_TYPES` maps each name to its class.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

from hub.privacy.audit.errors import AuditError


@dataclass(frozen=True, kw_only=True)
class AuditEvent:
    name: ClassVar[str] = ""
    time: float
    actor: str

    def fields(self) -> dict[str, Any]:
        """The event's own fields as JSON values (tuples become lists)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if f.name in ("time", "actor"):
                continue
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out


@dataclass(frozen=True, kw_only=True)
class LogCreated(AuditEvent):
    """Entry 0 of every log: names the log and the key that signs it."""

    name: ClassVar[str] = "log_created"
    origin: str
    key: str  # verifier key, note format: <name>+<key id hex>+<base64(0x01||pubkey)>


@dataclass(frozen=True, kw_only=True)
class KeyRotated(AuditEvent):
    name: ClassVar[str] = "key_rotated"
    old_key: str
    new_key: str
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class HubStarted(AuditEvent):
    name: ClassVar[str] = "hub_started"
    version: str


@dataclass(frozen=True, kw_only=True)
class HubStopped(AuditEvent):
    name: ClassVar[str] = "hub_stopped"
    reason: str = "shutdown"


@dataclass(frozen=True, kw_only=True)
class SettingChanged(AuditEvent):
    """A privacy-relevant setting changed (retention, sharing, MQTT export...)."""

    name: ClassVar[str] = "setting_changed"
    key: str
    old: Any
    new: Any


@dataclass(frozen=True, kw_only=True)
class OwnerLoggedIn(AuditEvent):
    name: ClassVar[str] = "owner_logged_in"
    user: str
    remote: str


@dataclass(frozen=True, kw_only=True)
class OwnerLoginFailed(AuditEvent):
    name: ClassVar[str] = "owner_login_failed"
    user: str
    remote: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class ConsentRequested(AuditEvent):
    name: ClassVar[str] = "consent_requested"
    request_id: str
    requester: str
    organisation: str
    contact: str
    reason: str
    cameras: tuple[str, ...]
    start_s: int
    end_s: int
    expires_s: int


@dataclass(frozen=True, kw_only=True)
class ConsentDecided(AuditEvent):
    """The owner approved, narrowed or denied; the scope is what was granted."""

    name: ClassVar[str] = "consent_decided"
    request_id: str
    decision: str  # "approved" | "narrowed" | "denied"
    cameras: tuple[str, ...] = ()
    start_s: int | None = None
    end_s: int | None = None


@dataclass(frozen=True, kw_only=True)
class ConsentExpired(AuditEvent):
    name: ClassVar[str] = "consent_expired"
    request_id: str


@dataclass(frozen=True, kw_only=True)
class OverrideInvoked(AuditEvent):
    name: ClassVar[str] = "override_invoked"
    override_id: str
    kind: str  # search_warrant | court_order | subpoena | emergency | preservation
    authority: str
    case_number: str
    judge: str | None
    issued_s: int
    cameras: tuple[str, ...]
    start_s: int
    end_s: int
    document_sha256: str
    notice_delayed_until_s: int | None = None


@dataclass(frozen=True, kw_only=True)
class ExportBuilt(AuditEvent):
    name: ClassVar[str] = "export_built"
    export_id: str
    basis: str  # the consent decision or override that covers the clips
    clip_sha256: tuple[str, ...]
    manifest_sha256: str


@dataclass(frozen=True, kw_only=True)
class ShareLinkDownloaded(AuditEvent):
    name: ClassVar[str] = "share_link_downloaded"
    link_id: str
    export_id: str
    remote: str


@dataclass(frozen=True, kw_only=True)
class HeldClipDeleted(AuditEvent):
    """A clip under a preservation hold was deleted: should never happen, so it is logged loudly."""

    name: ClassVar[str] = "held_clip_deleted"
    clip_id: str
    hold_id: str
    reason: str


EVENT_TYPES: dict[str, type[AuditEvent]] = {
    cls.name: cls
    for cls in (LogCreated, KeyRotated, HubStarted, HubStopped, SettingChanged, OwnerLoggedIn, OwnerLoginFailed,
                ConsentRequested, ConsentDecided, ConsentExpired, OverrideInvoked, ExportBuilt,
                ShareLinkDownloaded, HeldClipDeleted)
}


def event_from_entry(entry: dict[str, Any]) -> AuditEvent:
    """Rebuild the typed event from a decoded entry (see canonical.decode_entry)."""
    cls = EVENT_TYPES.get(entry["event"])
    if cls is None:
        raise AuditError(f"entry {entry.get('index')}: unknown event {entry['event']!r}")
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in entry["fields"].items()}
    try:
        return cls(time=entry["time_ms"] / 1000, actor=entry["actor"], **kwargs)
    except TypeError as exc:
        raise AuditError(f"entry {entry.get('index')}: fields do not fit event {cls.name}: {exc}") from None
