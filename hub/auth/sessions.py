"""The sessions service: logging in and out, what a session cookie stands for, and a freshly typed password.

`Sessions` owns the `sessions` table of `<data_dir>/accounts.db` and the login
throttle. A session ends `SESSION_IDLE_S` after its last use,
`SESSION_ABSOLUTE_S` after login, at logout, or when the account's password
changes elsewhere. Deciding requests and invoking overrides need the password
typed in the session within `FRESH_AUTH_S` (at login, `reauthenticate` or
`change_password`). Every time comes from the injected clock, so expiry and
lockout are tested without sleeping.

Failed password checks reach the audit log as the throttle rules (see
`camhub.auth.throttle`): the first of a quiet name and address, then one summary
per lockout. A typed name no account has is recorded only as its HMAC under
`<data_dir>/login-names.key`, so the log never keeps what a stranger typed (a
password put in the wrong field, or 256 characters of anything).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

import sqlite_utils

from camhub.audit.events import AuditEvent, LoginLockout, OwnerLoggedIn, OwnerLoginFailed
from camhub.auth import credentials as cred
from camhub.auth.accounts import Accounts, check_text, insert_row, member_cameras, store_password
from camhub.auth.errors import Forbidden, InvalidRequest, LoginFailed, LoginLocked, LoginRequired, ReauthRequired
from camhub.auth.identity import Identity, Login
from camhub.auth.schema import TOUCH_INTERVAL_S
from camhub.auth.throttle import Failure, LoginThrottle
from camhub.clock import Clock
from camhub.durable import secret_key
from camhub.store.db import Database, one

log = logging.getLogger(__name__)

EventSink = Callable[[AuditEvent], Awaitable[object]]

SESSION_IDLE_S = 12 * 3600.0  # seconds without a request before a session ends
SESSION_ABSOLUTE_S = 7 * 86400.0  # seconds after login when a session ends regardless
FRESH_AUTH_S = 300.0  # seconds a typed password counts as fresh for deciding requests and overrides
MAX_USERNAME_INPUT = 256  # longer login input is refused before any lookup
NAME_KEY = "login-names.key"  # in the data folder: the HMAC key for typed names no account has
FAILED = "wrong user name or password"

SESSION_BY_DIGEST = """
SELECT s.*, a.username, a.role, a.must_change_password, a.disabled_at, a.cameras
FROM sessions s JOIN accounts a ON a.id = s.account_id WHERE s.token_sha256 = ?
"""


class Sessions:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        accounts: Accounts,
        throttle: LoginThrottle,
        on_event: EventSink | None,
        name_key: bytes,
    ) -> None:
        self._db = db
        self._clock = clock
        self._accounts = accounts
        self._throttle = throttle
        self._on_event = on_event
        self._name_key = name_key

    async def login(self, username: str, password: str, remote: str) -> Login:
        """Check a password and open a session; `LoginFailed` alike for unknown users and wrong passwords."""
        if len(username) > MAX_USERNAME_INPUT or len(password) > cred.MAX_PASSWORD_LENGTH:
            raise InvalidRequest("user name or password too long")
        check_text(username, password)
        try:
            self._throttle.begin(username, remote)
        except LoginLocked:
            log.warning("login refused, locked: %s remote=%s", self._logged_name(username), remote)
            raise
        try:
            check = await self._accounts.check_password(username, password)
        except BaseException:
            # An attempt that dies half-way still counts, or its pending slot would never free.
            self._throttle.failed(username, remote)
            raise
        account = check.account
        if not check.matched or account is None:
            failure = self._throttle.failed(username, remote)
            known = account["username"] if account else None
            log.warning("login failed: %s remote=%s", self._logged_name(username, known), remote)
            await self._audit_failure(failure, "anonymous", known, username, remote, "bad_credentials")
            raise LoginFailed(FAILED)
        self._throttle.succeeded(username, remote)
        await self._accounts.rehash_if_needed(account, password)
        token = cred.new_token(cred.SESSION_PREFIX)
        now = self._clock()
        session_id = await self._db.write(
            lambda db: insert_row(
                db,
                "sessions",
                {
                    "account_id": account["id"],
                    "token_sha256": cred.token_digest(token),
                    "created_at": now,
                    "last_seen_at": now,
                    "password_proven_at": now,
                    "remote": remote,
                },
            )
        )
        log.info("login: user=%r role=%s remote=%s", account["username"], account["role"], remote)
        if account["role"] == "owner":
            await self._emit(
                OwnerLoggedIn(time=now, actor=account["username"], user=account["username"], remote=remote)
            )
        identity = Identity(
            account["id"],
            account["username"],
            account["role"],
            "session",
            session_id,
            bool(account["must_change_password"]),
            now,
            member_cameras(account["cameras"]),
        )
        return Login(identity, token)

    async def logout(self, identity: Identity) -> None:
        if identity.via != "session":
            return
        now = self._clock()
        await self._db.write(
            lambda db: db.execute(
                "UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", [now, identity.credential_id]
            )
        )

    async def identify(self, token: str) -> Identity:
        """The identity behind a session token; `LoginRequired` if unknown, expired, revoked or disabled."""
        row = await self._db.read(lambda db: one(db, SESSION_BY_DIGEST, [cred.token_digest(token)]))
        now = self._clock()
        if (
            row is None
            or row["revoked_at"] is not None
            or row["disabled_at"] is not None
            or now - row["created_at"] > SESSION_ABSOLUTE_S
            or now - row["last_seen_at"] > SESSION_IDLE_S
        ):
            raise LoginRequired("session expired or logged out; log in again")
        if now - row["last_seen_at"] >= TOUCH_INTERVAL_S:
            await self._db.write(
                lambda db: db.execute("UPDATE sessions SET last_seen_at = ? WHERE id = ?", [now, row["id"]])
            )
        return Identity(
            row["account_id"],
            row["username"],
            row["role"],
            "session",
            row["id"],
            bool(row["must_change_password"]),
            row["password_proven_at"],
            member_cameras(row["cameras"]),
        )

    # A freshly typed password

    async def reauthenticate(self, identity: Identity, password: str, remote: str) -> Identity:
        """Prove the password again inside a session, so `require_fresh` passes for `FRESH_AUTH_S`."""
        if identity.via != "session":
            raise Forbidden("re-authentication needs a login session, not a token")
        await self._prove(identity, password, remote)
        now = self._clock()
        await self._db.write(
            lambda db: db.execute(
                "UPDATE sessions SET password_proven_at = ? WHERE id = ?", [now, identity.credential_id]
            )
        )
        return replace(identity, password_proven_at=now)

    def require_fresh(self, identity: Identity, max_age_s: float = FRESH_AUTH_S) -> None:
        """Raise `ReauthRequired` unless the password was typed in this session within `max_age_s`."""
        proven = identity.password_proven_at
        if proven is None or self._clock() - proven > max_age_s:
            raise ReauthRequired(f"this needs your password again (within the last {int(max_age_s)} s)")

    async def change_password(self, identity: Identity, current: str, new: str, remote: str) -> Identity:
        """Set a new password; other sessions of the account end, this one stays and counts as fresh."""
        if identity.via != "session":
            raise Forbidden("changing a password needs a login session, not a token")
        await self._prove(identity, current, remote)
        phc = await self._accounts.new_password_hash(identity.username, current, new)
        now = self._clock()

        def change(db: sqlite_utils.Database) -> None:
            # One transaction: a password never changes while the account's other sessions live on.
            store_password(db, identity.account_id, phc, now)
            db.execute(
                "UPDATE sessions SET revoked_at = ? WHERE account_id = ? AND id != ? AND revoked_at IS NULL",
                [now, identity.account_id, identity.credential_id],
            )
            db.execute("UPDATE sessions SET password_proven_at = ? WHERE id = ?", [now, identity.credential_id])

        await self._db.write(change)
        log.info("password changed: user=%r", identity.username)
        return replace(identity, must_change_password=False, password_proven_at=now)

    async def _prove(self, identity: Identity, password: str, remote: str) -> None:
        """Check the password of an already identified account, throttled like a login."""
        if len(password) > cred.MAX_PASSWORD_LENGTH:
            raise InvalidRequest("password too long")
        check_text(password)
        self._throttle.begin(identity.username, remote)
        try:
            check = await self._accounts.check_password(identity.username, password)
        except BaseException:
            self._throttle.failed(identity.username, remote)
            raise
        if not check.matched:
            failure = self._throttle.failed(identity.username, remote)
            await self._audit_failure(
                failure, identity.username, identity.username, identity.username, remote, "bad_password_reauth"
            )
            raise LoginFailed("wrong password")
        self._throttle.succeeded(identity.username, remote)

    # What the audit log and the hub's log hear of failures

    async def _emit(self, event: AuditEvent) -> None:
        if self._on_event is not None:
            await self._on_event(event)

    async def _audit_failure(
        self, failure: Failure, actor: str, known: str | None, typed: str, remote: str, reason: str
    ) -> None:
        """Write what the throttle says a failure is worth: its own entry if first, a summary per lockout.

        `known` is the account's name if one has the typed name; otherwise only the name's HMAC is written.
        """
        digest = None if known is not None else self.name_hmac(typed)
        now = self._clock()
        if failure.first:
            await self._emit(
                OwnerLoginFailed(time=now, actor=actor, user=known, user_hmac=digest, remote=remote, reason=reason)
            )
        for lockout in failure.lockouts:
            by_name = lockout.key == "user"
            await self._emit(
                LoginLockout(
                    time=now,
                    actor=actor,
                    key=lockout.key,
                    user=known if by_name else None,
                    user_hmac=digest if by_name else None,
                    remote=remote,
                    failures=lockout.failures,
                    refused=lockout.refused,
                    until_s=int(lockout.locked_until),
                )
            )

    def _logged_name(self, typed: str, known: str | None = None) -> str:
        """How the hub's log names a login attempt: the account's name when one has it, else a short tag of
        the typed name's HMAC (what was typed may be a password put in the wrong box)."""
        return f"user={known!r}" if known is not None else f"name #{self.name_hmac(typed)[:8]}"

    def name_hmac(self, typed: str) -> str:
        """The hex HMAC-SHA-256 a typed user name is recorded as (casefolded, as the throttle counts it)."""
        return hmac.new(self._name_key, typed.casefold().encode(), hashlib.sha256).hexdigest()


def load_name_key(data_dir: Path) -> bytes:
    """The HMAC key for typed user names, created (mode 0600) on first use."""
    return secret_key(
        data_dir / NAME_KEY,
        "the login-name key",
        "delete it to make a new one (older audit entries then stop matching new ones)",
    )
