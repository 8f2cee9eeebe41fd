"""The audit log's errors: one subclass of `HubError` for the log itself and
one for a failed verification, which names the first bad entry or checkpoint.
"""

from __future__ import annotations

from hub.errors import HubError


class AuditError(HubError):
    """The audit log cannot be opened, written or read as asked."""

    key = "audit_error"
    status = 500


class VerificationFailed(AuditError):
    """The log, a checkpoint or a proof does not verify.

    `entry` is the index of the first bad entry when one can be named, else
    None (a bad checkpoint or proof names itself in the message).
    """

    key = "audit_verification_failed"
    status = 409

    def __init__(self, message: str, entry: int | None = None) -> None:
        super().__init__(message)
        self.entry = entry
