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

from camhub.audit.errors import AuditError


@dataclass(frozen=True, kw_only=True)
class AuditEvent:
    name: ClassVar[str] = ""
    time: float
    actor: str

    def fields(self) -> dict[str, Any]:
        """The event's own fields as JSON values (tuples become lists)."""
        out: dict[str, Any] = {}
        for name in own_fields(type(self)):
            value = getattr(self, name)
            out[name] = list(value) if isinstance(value, tuple) else value
        return out


_OWN_FIELDS: dict[type[AuditEvent], tuple[str, ...]] = {}


def own_fields(kind: type[AuditEvent]) -> tuple[str, ...]:
    """An event class's field names beyond time and actor, in declaration order (looked up once per class)."""
    names = _OWN_FIELDS.get(kind)
    if names is None:
        names = _OWN_FIELDS[kind] = tuple(f.name for f in dataclasses.fields(kind) if f.name not in ("time", "actor"))
    return names


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
    source: str = "api"  # where the change came from: api (the dashboard and REST) or mqtt


@dataclass(frozen=True, kw_only=True)
class OwnerLoggedIn(AuditEvent):
    name: ClassVar[str] = "owner_logged_in"
    user: str
    remote: str


@dataclass(frozen=True, kw_only=True)
class OwnerLoginFailed(AuditEvent):
    """A failed login or password check: since 2026-11-29 only the first of a quiet user name and address
    (`LoginLockout` summarises the rest). Entries from before name every attempt, with the text typed."""

    name: ClassVar[str] = "owner_login_failed"
    user: str | None  # the account's name; None when no account has the name typed
    remote: str
    reason: str  # "bad_credentials" | "bad_password_reauth"; older entries also "locked"
    user_hmac: str | None = None  # for a name no account has: hex HMAC-SHA-256 of it (casefolded), never its text


@dataclass(frozen=True, kw_only=True)
class LoginLockout(AuditEvent):
    """A user name or an address was locked out after failed logins: one entry per lockout, summing up."""

    name: ClassVar[str] = "login_lockout"
    key: str  # "user": the name below was locked | "address": `remote` was locked
    user: str | None  # key "user": the account's name, or None when no account has it
    user_hmac: str | None  # key "user" and no such account: hex HMAC-SHA-256 of the name (casefolded)
    remote: str  # the address of the failure that completed the lockout
    failures: int  # failed attempts inside the window that led to it
    refused: int  # attempts refused since this key's previous lockout entry (while locked, or in flight)
    until_s: int  # Unix seconds the lockout lasts until


@dataclass(frozen=True, kw_only=True)
class ConsentRequested(AuditEvent):
    """A requester asked for footage; the request waits in the consent queue. `actor` is the requester account."""

    name: ClassVar[str] = "consent_requested"
    request_id: str
    identity: str  # the person, as they name themselves
    organisation: str
    contact: str
    purpose: str
    case_reference: str | None
    cameras: tuple[str, ...]
    start_s: int
    end_s: int
    wanted_by_s: int
    expires_s: int  # undecided after this, the request expires as denied
    # the law, consent or agreement the requester asks under; None: not given (and in entries before 2026-11-30)
    legal_basis: str | None = None


@dataclass(frozen=True, kw_only=True)
class ConsentDecided(AuditEvent):
    """An owner approved, narrowed or denied; the scope is what was granted.

    With the all-owners policy each owner's approval is logged with
    `final=False` until the last one; a denial is always final.
    """

    name: ClassVar[str] = "consent_decided"
    request_id: str
    decision: str  # "approved" | "narrowed" | "denied"
    final: bool = True
    cameras: tuple[str, ...] = ()
    start_s: int | None = None
    end_s: int | None = None
    clip_ids: tuple[int, ...] | None = None  # narrowed to chosen clips; None: every clip in the scope


@dataclass(frozen=True, kw_only=True)
class ConsentExpired(AuditEvent):
    name: ClassVar[str] = "consent_expired"
    request_id: str


@dataclass(frozen=True, kw_only=True)
class OverrideInvoked(AuditEvent):
    """A legal-process override, logged before anything is released under it."""

    name: ClassVar[str] = "override_invoked"
    override_id: str
    kind: str  # search_warrant | court_order | subpoena | emergency | preservation
    authority: str  # issuing authority
    jurisdiction: str
    case_number: str
    judge: str | None  # required for search warrants and court orders
    issued_s: int
    agency: str  # requesting agency
    officer_contact: str
    cameras: tuple[str, ...]
    start_s: int
    end_s: int
    document_sha256: str
    notice_delayed_until_s: int | None = None  # None: owners are told at once
    delay_ordered_by: str | None = None
    follow_up_due_s: int | None = None  # emergencies: the follow-up legal process is due by then


@dataclass(frozen=True, kw_only=True)
class OverrideNoticeSent(AuditEvent):
    """The owners were told of an override: at once, or when the delay ended."""

    name: ClassVar[str] = "override_notice_sent"
    override_id: str
    delayed: bool
    owners: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class OverrideNoticeDelayExtended(AuditEvent):
    """A further order delays the owners' notice again (at most 90 days at a time)."""

    name: ClassVar[str] = "override_notice_delay_extended"
    override_id: str
    notice_delayed_until_s: int
    delay_ordered_by: str


@dataclass(frozen=True, kw_only=True)
class OverrideFollowUpFiled(AuditEvent):
    """The legal process that follows an emergency override."""

    name: ClassVar[str] = "override_follow_up_filed"
    override_id: str
    kind: str
    case_number: str
    document_sha256: str
    late: bool


@dataclass(frozen=True, kw_only=True)
class OverrideFollowUpMissed(AuditEvent):
    """An emergency override's follow-up deadline passed with no legal process: flagged."""

    name: ClassVar[str] = "override_follow_up_missed"
    override_id: str
    due_s: int


@dataclass(frozen=True, kw_only=True)
class ExportBuilt(AuditEvent):
    """Footage was packaged for someone outside the household; durable before any byte leaves."""

    name: ClassVar[str] = "export_built"
    export_id: str
    basis: str  # "request:<id>" or "override:<id>": the decision or override that covers the clips
    recipient: str  # the requester account, or the override's agency
    cameras: tuple[str, ...]
    start_s: int
    end_s: int
    clip_sha256: tuple[str, ...]  # SHA-256 of each file in the package, in manifest order
    clip_ids: tuple[int, ...]  # the index clips they come from
    bytes: int  # footage bytes in the package
    manifest_sha256: str


@dataclass(frozen=True, kw_only=True)
class ShareLinkCreated(AuditEvent):
    name: ClassVar[str] = "share_link_created"
    link_id: str
    export_id: str
    expires_s: int
    max_downloads: int


@dataclass(frozen=True, kw_only=True)
class ShareLinkRevoked(AuditEvent):
    name: ClassVar[str] = "share_link_revoked"
    link_id: str
    export_id: str


@dataclass(frozen=True, kw_only=True)
class ShareLinkDownloaded(AuditEvent):
    """A download through a share link is about to start; logged before the first byte."""

    name: ClassVar[str] = "share_link_downloaded"
    link_id: str
    export_id: str
    remote: str
    bytes: int


@dataclass(frozen=True, kw_only=True)
class HoldPlaced(AuditEvent):
    """Clips in scope are kept from retention (a preservation order or an owner's own hold)."""

    name: ClassVar[str] = "hold_placed"
    hold_id: str
    basis: str  # "owner" or "override:<id>"
    cameras: tuple[str, ...]
    start_s: int
    end_s: int
    expires_s: int


@dataclass(frozen=True, kw_only=True)
class HoldRenewed(AuditEvent):
    name: ClassVar[str] = "hold_renewed"
    hold_id: str
    expires_s: int


@dataclass(frozen=True, kw_only=True)
class HoldReleased(AuditEvent):
    name: ClassVar[str] = "hold_released"
    hold_id: str
    reason: str  # "released" | "expired"


@dataclass(frozen=True, kw_only=True)
class HeldClipDeleted(AuditEvent):
    """A clip under a preservation hold was deleted: should never happen, so it is logged loudly."""

    name: ClassVar[str] = "held_clip_deleted"
    clip_id: str
    hold_id: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class ClipDeleted(AuditEvent):
    """`camhub check --repair` is about to delete a clip (its file is damaged or gone); no hold covers it."""

    name: ClassVar[str] = "clip_deleted"
    clip_id: int
    camera: str
    start_s: int
    path: str  # relative to the data folder
    reason: str


@dataclass(frozen=True, kw_only=True)
class CameraAdopted(AuditEvent):
    """An owner adopted a discovered device as a camera. URLs without credentials; no secret at all."""

    name: ClassVar[str] = "camera_adopted"
    camera: str
    device: str  # the discovered device's id (/api/discovered)
    integration: str  # the integration reading its record stream
    record_url: str
    detect_url: str
    with_credentials: bool  # whether a user name and password were given (never what they are)


@dataclass(frozen=True, kw_only=True)
class CameraChanged(AuditEvent):
    """An adopted camera's streams changed: the owner changed them, or the hub followed a new address."""

    name: ClassVar[str] = "camera_changed"
    camera: str
    change: str  # moved: the hub followed a new address (owners cannot edit streams yet)
    record_url: str
    detect_url: str


@dataclass(frozen=True, kw_only=True)
class CameraRemoved(AuditEvent):
    """An owner removed an adopted camera; its clips stay under retention."""

    name: ClassVar[str] = "camera_removed"
    camera: str
    device: str


EVENT_TYPES: dict[str, type[AuditEvent]] = {
    cls.name: cls
    for cls in (
        LogCreated,
        KeyRotated,
        HubStarted,
        HubStopped,
        SettingChanged,
        OwnerLoggedIn,
        OwnerLoginFailed,
        ConsentRequested,
        ConsentDecided,
        ConsentExpired,
        OverrideInvoked,
        OverrideNoticeSent,
        OverrideNoticeDelayExtended,
        OverrideFollowUpFiled,
        OverrideFollowUpMissed,
        ExportBuilt,
        ShareLinkCreated,
        ShareLinkRevoked,
        ShareLinkDownloaded,
        HoldPlaced,
        HoldRenewed,
        HoldReleased,
        HeldClipDeleted,
        ClipDeleted,
        LoginLockout,
        CameraAdopted,
        CameraChanged,
        CameraRemoved,
    )
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
