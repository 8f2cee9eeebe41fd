"""The tamper-evident audit log: RFC 6962 Merkle tree over canonical JSON
entries in SQLite, Ed25519-signed C2SP checkpoints, verification, witnessing.

Modules: `events` (typed events), `log` (AuditLog, run_checkpoints), `writer`
(the one writer, its batches and checkpoints), `store` (the log's files and
proof reads), `schema` (its migrations), `merkle` (hashing and proofs),
`note` (keys, signed checkpoints), `canonical` (RFC 8785 entries), `verify`,
`witness`, `routes`; the command line is `camhub.cli.audit`.
See docs/audit.md.
"""

from camhub.audit.errors import (
    AuditDamaged,
    AuditError,
    AuditUnavailable,
    VerificationFailed,
)
from camhub.audit.events import (
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
from camhub.audit.log import AuditLog, run_checkpoints
from camhub.audit.note import Checkpoint, VerifierKey
from camhub.audit.writer import Receipt

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
