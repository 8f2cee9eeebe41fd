"""The tamper-evident audit log: RFC 6962 Merkle tree over canonical JSON
entries in SQLite, Ed25519-signed C2SP checkpoints, verification, witnessing.

Modules: `events` (typed events), `log` (AuditLog, run_checkpoints), `store`
(SQLite), `merkle` (hashing and proofs), `note` (keys, signed checkpoints),
`canonical` (RFC 8785 entries), `verify`, `witness`, `cli`, `api`.
See docs/audit.md.
"""

from hub.privacy.audit.errors import (
    AuditDamaged,
    AuditError,
    AuditUnavailable,
    VerificationFailed,
)
from hub.privacy.audit.events import (
    EVENT_TYPES,
    AuditEvent,
    ClipDeleted,
    ConsentDecided,
    ConsentExpired,
    ConsentRequested,
    ExportBuilt,
    HeldClipDeleted,
    HoldPlaced,
    HoldReleased,
    HoldRenewed,
    HubStarted,
    HubStopped,
    KeyRotated,
    LogCreated,
    OverrideFollowUpFiled,
    OverrideFollowUpMissed,
    OverrideInvoked,
    OverrideNoticeDelayExtended,
    OverrideNoticeSent,
    OwnerLoggedIn,
    OwnerLoginFailed,
    SettingChanged,
    ShareLinkCreated,
    ShareLinkDownloaded,
    ShareLinkRevoked,
    event_from_entry,
)
from hub.privacy.audit.log import AuditLog, run_checkpoints
from hub.privacy.audit.note import Checkpoint, VerifierKey
from hub.privacy.audit.store import Receipt

__all__ = [
    "EVENT_TYPES",
    "AuditDamaged",
    "AuditError",
    "AuditEvent",
    "AuditLog",
    "AuditUnavailable",
    "Checkpoint",
    "ClipDeleted",
    "ConsentDecided",
    "ConsentExpired",
    "ConsentRequested",
    "ExportBuilt",
    "HeldClipDeleted",
    "HoldPlaced",
    "HoldReleased",
    "HoldRenewed",
    "HubStarted",
    "HubStopped",
    "KeyRotated",
    "LogCreated",
    "OverrideFollowUpFiled",
    "OverrideFollowUpMissed",
    "OverrideInvoked",
    "OverrideNoticeDelayExtended",
    "OverrideNoticeSent",
    "OwnerLoggedIn",
    "OwnerLoginFailed",
    "Receipt",
    "SettingChanged",
    "ShareLinkCreated",
    "ShareLinkDownloaded",
    "ShareLinkRevoked",
    "VerificationFailed",
    "VerifierKey",
    "event_from_entry",
    "run_checkpoints",
]
