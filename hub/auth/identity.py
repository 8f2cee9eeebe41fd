"""Who a request speaks for, and the credentials the account services hand out: values, no I/O.

`Identity` is what a session or token resolves to (`AccountService.authenticate`);
every area checks roles and cameras against it. `Login` and `IssuedToken` carry
a new secret to whoever asked for it, once.
"""

from __future__ import annotations

from dataclasses import dataclass

ROLES = ("owner", "member", "custodian", "requester")
HOUSEHOLD = frozenset({"owner", "member"})


@dataclass(frozen=True)
class Identity:
    """Who a request speaks for, and through which credential."""

    account_id: int
    username: str
    role: str
    via: str  # "session" | "api" | "requester": the kind of credential
    credential_id: int  # the session or token row
    must_change_password: bool
    password_proven_at: float | None  # Unix seconds; None for tokens, which never prove a password
    cameras: frozenset[str] | None = None  # a member's allowed cameras; None: every camera
    # requester tokens: True sees every request of its account (an owner merged it), False only its own
    sees_account: bool = False

    @property
    def household(self) -> bool:
        return self.role in HOUSEHOLD

    def may_view(self, camera: str) -> bool:
        """Whether this household member may see `camera`'s footage (owners see every camera)."""
        return self.household and (self.role == "owner" or self.cameras is None or camera in self.cameras)


@dataclass(frozen=True)
class Login:
    identity: Identity
    session_token: str  # goes into the cookie; never logged, only its SHA-256 is stored


@dataclass(frozen=True)
class IssuedToken:
    id: int
    name: str
    token: str  # shown once to whoever created it
    expires_at: float | None
