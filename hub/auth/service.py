"""The account service: who may log in, with what, and for how long.

`AccountService` owns `<data_dir>/accounts.db` (through the hub's one-writer
`Database`, so SQLite never blocks the event loop), Argon2id hashing (in a
worker thread: it is deliberately slow), the login throttle, sessions, API
tokens and requester tokens. Every time comes from the injected clock, so
expiry and lockout are tested without sleeping.

Failed logins reach the audit log as the throttle rules (see
`camhub.auth.throttle`): the first of a quiet name and address, then one summary
per lockout. A typed name no account has is recorded only as its HMAC under
`<data_dir>/login-names.key`, so the log never keeps what a stranger typed (a
password put in the wrong field, or 256 characters of anything).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import sqlite_utils
from argon2 import PasswordHasher

from camhub.audit.canonical import is_text
from camhub.audit.events import (
    AuditEvent,
    LoginLockout,
    OwnerLoggedIn,
    OwnerLoginFailed,
)
from camhub.auth import credentials as cred
from camhub.auth.errors import (
    AccountExists,
    Forbidden,
    InvalidRequest,
    LoginFailed,
    LoginLocked,
    LoginRequired,
    ReauthRequired,
)
from camhub.auth.schema import migrations
from camhub.auth.throttle import Failure, LoginThrottle
from camhub.clock import Clock
from camhub.durable import secret_key
from camhub.errors import NotFound
from camhub.store.db import Database, one, rows
from camhub.terminal import first_control

log = logging.getLogger(__name__)

EventSink = Callable[[AuditEvent], Awaitable[object]]

ROLES = ("owner", "member", "custodian", "requester")
HOUSEHOLD = frozenset({"owner", "member"})
SESSION_IDLE_S = 12 * 3600.0  # seconds without a request before a session ends
SESSION_ABSOLUTE_S = 7 * 86400.0  # seconds after login when a session ends regardless
FRESH_AUTH_S = 300.0  # seconds a typed password counts as fresh for deciding requests and overrides
REQUESTER_TOKEN_S = 30 * 86400.0  # default lifetime of a requester token, seconds
# last_seen_at / last_used_at are rewritten at most this often (seconds), so
# reads do not each become a write.
TOUCH_INTERVAL_S = 60.0
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MAX_USERNAME_INPUT = 256  # longer login input is refused before any lookup
NAME_KEY = "login-names.key"  # in the data folder: the HMAC key for typed names no account has
FAILED = "wrong user name or password"
REGISTERED_PREFIX = "reg-"  # self-registered requester accounts are reg-<16 hex>; the chosen name is shown


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


class AccountService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        hasher: PasswordHasher,
        dummy_hash: str,
        throttle: LoginThrottle,
        on_event: EventSink | None,
        name_key: bytes,
    ) -> None:
        self._db = db
        self._name_key = name_key
        self._clock = clock
        self._hasher = hasher
        # Unknown users are checked against this hash, so they cost the same time as known ones.
        self._dummy_hash = dummy_hash
        self.throttle = throttle
        self._on_event = on_event

    @classmethod
    async def open(
        cls,
        data_dir: Path,
        *,
        clock: Clock = time.time,
        hasher: PasswordHasher | None = None,
        on_event: EventSink | None = None,
        throttle: LoginThrottle | None = None,
    ) -> AccountService:
        hasher = hasher or cred.default_hasher()
        db = await asyncio.to_thread(Database, data_dir / "accounts.db", migrations)
        dummy = await asyncio.to_thread(hasher.hash, cred.one_time_password())
        name_key = await asyncio.to_thread(_load_name_key, data_dir / NAME_KEY)
        return cls(db, clock, hasher, dummy, throttle or LoginThrottle(clock), on_event, name_key)

    async def close(self) -> None:
        await asyncio.to_thread(self._db.close)

    async def _emit(self, event: AuditEvent) -> None:
        if self._on_event is not None:
            await self._on_event(event)

    # Accounts

    async def bootstrap_owner(self, username: str = "owner") -> str | None:
        """At first start, create the first owner and return its one-time password; later, None."""
        now = self._clock()
        password = cred.one_time_password()
        phc = await asyncio.to_thread(self._hasher.hash, password)

        def create(db: sqlite_utils.Database) -> bool:
            if db.execute("SELECT 1 FROM accounts WHERE role = 'owner' LIMIT 1").fetchone():
                return False
            _insert_account(db, username, "owner", phc, True, now)
            return True

        if not await self._db.write(create):
            return None
        log.info("created the first owner %r with a one-time password", username)
        return password

    async def create_account(
        self, username: str, role: str, *, actor: Identity | None = None, password: str | None = None
    ) -> str | None:
        """Add an account (owners only, or the CLI with `actor=None`).

        Household and custodian accounts without a `password` get a one-time
        password, returned to show once; requesters get none (they use tokens).
        """
        if actor is not None and actor.role != "owner":
            raise Forbidden("only an owner may create accounts")
        if role not in ROLES:
            raise InvalidRequest(f"role must be one of {', '.join(ROLES)}, got {role!r}")
        if not USERNAME.match(username):
            raise InvalidRequest(
                "user name: 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit"
            )
        one_time = None
        if password is None and role != "requester":
            password = one_time = cred.one_time_password()
        elif password is not None:
            _check_new_password(username, password)
        phc = await asyncio.to_thread(self._hasher.hash, password) if password is not None else None
        now = self._clock()

        def create(db: sqlite_utils.Database) -> None:
            if db.execute("SELECT 1 FROM accounts WHERE username = ?", [username]).fetchone():
                raise AccountExists(f"an account named {username!r} exists")
            _insert_account(db, username, role, phc, one_time is not None, now)

        await self._db.write(create)
        return one_time

    async def set_cameras(self, owner: Identity, username: str, cameras: list[str] | None) -> None:
        """Limit a member to these cameras (None: every camera). Only owners; only members."""
        if owner.role != "owner":
            raise Forbidden("only owners choose which cameras a member sees")
        stored = json.dumps(sorted(set(cameras))) if cameras is not None else None

        def update(db: sqlite_utils.Database) -> int:
            return db.execute(
                "UPDATE accounts SET cameras = ? WHERE username = ? AND role = 'member'", [stored, username]
            ).rowcount

        if not await self._db.write(update):
            raise NotFound(f"no member {username!r}")
        log.info(
            "member %r may now see %s", username, ", ".join(sorted(cameras)) if cameras is not None else "every camera"
        )

    async def usernames(self, role: str) -> list[str]:
        """User names of the enabled accounts of one role (the owners to tell, to count votes)."""
        return await self._db.read(
            lambda db: [
                r[0]
                for r in db.execute(
                    "SELECT username FROM accounts WHERE role = ? AND disabled_at IS NULL ORDER BY username", [role]
                )
            ]
        )

    # Logging in

    async def login(self, username: str, password: str, remote: str) -> Login:
        """Check a password and open a session; `LoginFailed` alike for unknown users and wrong passwords."""
        if len(username) > MAX_USERNAME_INPUT or len(password) > cred.MAX_PASSWORD_LENGTH:
            raise InvalidRequest("user name or password too long")
        _check_text(username, password)
        try:
            self.throttle.begin(username, remote)
        except LoginLocked:
            log.warning("login refused, locked: %s remote=%s", self._logged_name(username), remote)
            raise
        try:
            account = await self._db.read(lambda db: _account(db, username))
            usable = account is not None and account["password_hash"] and account["disabled_at"] is None
            stored = account["password_hash"] if usable and account else self._dummy_hash
            matched = await asyncio.to_thread(cred.verify_password, self._hasher, stored, password)
        except BaseException:
            # An attempt that dies half-way still counts, or its pending slot would never free.
            self.throttle.failed(username, remote)
            raise
        if not (usable and matched and account):
            failure = self.throttle.failed(username, remote)
            known = account["username"] if account else None
            log.warning("login failed: %s remote=%s", self._logged_name(username, known), remote)
            await self._audit_failure(failure, "anonymous", known, username, remote, "bad_credentials")
            raise LoginFailed(FAILED)
        self.throttle.succeeded(username, remote)
        await self._rehash_if_needed(account["id"], stored, password)
        token = cred.new_token(cred.SESSION_PREFIX)
        now = self._clock()
        session_id = await self._db.write(
            lambda db: _insert(
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
            _cameras(account["cameras"]),
        )
        return Login(identity, token)

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

    async def _rehash_if_needed(self, account_id: int, stored: str, password: str) -> None:
        # Raising the Argon2 parameters takes effect as each person next logs in.
        if not self._hasher.check_needs_rehash(stored):
            return
        phc = await asyncio.to_thread(self._hasher.hash, password)
        await self._db.write(
            lambda db: db.execute(
                "UPDATE accounts SET password_hash = ? WHERE id = ? AND password_hash = ?", [phc, account_id, stored]
            )
        )
        log.info("rehashed the password of account %d with new Argon2 parameters", account_id)

    async def _check_password(self, identity: Identity, password: str, remote: str) -> None:
        """Check the password of an already identified account, throttled like a login."""
        if len(password) > cred.MAX_PASSWORD_LENGTH:
            raise InvalidRequest("password too long")
        _check_text(password)
        self.throttle.begin(identity.username, remote)
        try:
            account = await self._db.read(lambda db: _account(db, identity.username))
            stored = account["password_hash"] if account and account["password_hash"] else self._dummy_hash
            matched = await asyncio.to_thread(cred.verify_password, self._hasher, stored, password)
        except BaseException:
            self.throttle.failed(identity.username, remote)
            raise
        if not matched:
            failure = self.throttle.failed(identity.username, remote)
            await self._audit_failure(
                failure, identity.username, identity.username, identity.username, remote, "bad_password_reauth"
            )
            raise LoginFailed("wrong password")
        self.throttle.succeeded(identity.username, remote)

    async def reauthenticate(self, identity: Identity, password: str, remote: str) -> Identity:
        """Prove the password again inside a session, so `require_fresh` passes for `FRESH_AUTH_S`."""
        if identity.via != "session":
            raise Forbidden("re-authentication needs a login session, not a token")
        await self._check_password(identity, password, remote)
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
        await self._check_password(identity, current, remote)
        _check_new_password(identity.username, new)
        if new == current:
            raise InvalidRequest("the new password must differ from the current one")
        phc = await asyncio.to_thread(self._hasher.hash, new)
        now = self._clock()

        def change(db: sqlite_utils.Database) -> None:
            db.execute(
                "UPDATE accounts SET password_hash = ?, must_change_password = 0, password_changed_at = ? WHERE id = ?",
                [phc, now, identity.account_id],
            )
            db.execute(
                "UPDATE sessions SET revoked_at = ? WHERE account_id = ? AND id != ? AND revoked_at IS NULL",
                [now, identity.account_id, identity.credential_id],
            )
            db.execute("UPDATE sessions SET password_proven_at = ? WHERE id = ?", [now, identity.credential_id])

        await self._db.write(change)
        log.info("password changed: user=%r", identity.username)
        return replace(identity, must_change_password=False, password_proven_at=now)

    async def logout(self, identity: Identity) -> None:
        if identity.via != "session":
            return
        now = self._clock()
        await self._db.write(
            lambda db: db.execute(
                "UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", [now, identity.credential_id]
            )
        )

    # Credentials on each request

    async def authenticate(self, token: str) -> Identity:
        """The identity behind a session or bearer token; `LoginRequired` if unknown, expired or revoked."""
        digest = cred.token_digest(token)
        if token.startswith(cred.SESSION_PREFIX):
            return await self._session(digest)
        if token.startswith((cred.API_PREFIX, cred.REQUESTER_PREFIX)):
            return await self._token(digest)
        raise LoginRequired("not a camhub session or token")

    async def _session(self, digest: str) -> Identity:
        row = await self._db.read(lambda db: one(db, SESSION_BY_DIGEST, [digest]))
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
            _cameras(row["cameras"]),
        )

    async def _token(self, digest: str) -> Identity:
        row = await self._db.read(lambda db: one(db, TOKEN_BY_DIGEST, [digest]))
        now = self._clock()
        if (
            row is None
            or row["revoked_at"] is not None
            or row["disabled_at"] is not None
            or (row["expires_at"] is not None and now >= row["expires_at"])
        ):
            raise LoginRequired("token unknown, expired or revoked")
        if row["last_used_at"] is None or now - row["last_used_at"] >= TOUCH_INTERVAL_S:
            await self._db.write(
                lambda db: db.execute("UPDATE tokens SET last_used_at = ? WHERE id = ?", [now, row["id"]])
            )
        return Identity(
            row["account_id"],
            row["username"],
            row["role"],
            row["kind"],
            row["id"],
            False,
            None,
            _cameras(row["cameras"]),
            bool(row["sees_account"]),
        )

    # Tokens

    async def create_api_token(self, identity: Identity, name: str, expires_in_s: float | None = None) -> IssuedToken:
        """A token for the caller's own scripts, carrying the caller's role; only from a login session."""
        if identity.via != "session" or identity.role == "requester":
            raise Forbidden("API tokens are created from a household login session")
        return await self._issue("api", identity.account_id, identity.account_id, name, expires_in_s)

    async def issue_requester_token(
        self,
        issuer: Identity,
        requester: str,
        name: str,
        expires_in_s: float | None = REQUESTER_TOKEN_S,
        *,
        sees_account: bool = False,
    ) -> IssuedToken:
        """An owner issues a token to an outside party; its requester account is created if new.

        Never into a self-registered account: whoever registered holds a token of it, and would
        see what the new token's holder asks for. With `sees_account` the token sees every request
        of its account (the owner merges it with the account's earlier tokens); without, only its own.
        """
        if issuer.role != "owner" or issuer.via != "session":
            raise Forbidden("only an owner, logged in, may issue requester tokens")
        if not USERNAME.match(requester):
            raise InvalidRequest(
                "requester: 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit"
            )
        _check_token_fields(name, expires_in_s)
        now = self._clock()

        def find_or_create(db: sqlite_utils.Database) -> int:
            account = _account(db, requester)
            if account is None and requester.lower().startswith(REGISTERED_PREFIX):
                raise InvalidRequest(
                    f"requester names starting with {REGISTERED_PREFIX!r} are kept for "
                    "self-registered accounts; choose another"
                )
            if account is None:
                return _insert(
                    db,
                    "accounts",
                    {"username": requester, "role": "requester", "created_at": now, "created_by": issuer.account_id},
                )
            if account["role"] != "requester":
                raise AccountExists(f"{requester!r} is a household or custodian account, not a requester")
            if account["self_registered"]:
                raise AccountExists(
                    f"{requester!r} is a self-registered requester account (it chose the name "
                    f"{account['display_name'] or requester!r}); a token issued into it would let whoever "
                    "registered it see that token's requests. Issue the token under a requester name of your own: "
                    "that makes a separate account"
                )
            return int(account["id"])

        account_id = await self._db.write(find_or_create)
        return await self._issue("requester", account_id, issuer.account_id, name, expires_in_s, sees_account)

    async def register_requester(self, chosen: str) -> tuple[str, IssuedToken]:
        """An outside party registers: a requester account that stays disabled until an owner approves it,
        and its token, which works only from then on. Returns the account's user name and the token.

        The account never takes the chosen name: it gets `reg-<random>` and keeps the chosen name as its
        display name. So registering answers alike whatever names exist (nobody can probe for household
        or requester names), and no owner can later issue a token into it by typing the chosen name."""
        if not USERNAME.match(chosen):
            raise InvalidRequest(
                "user name: 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit"
            )
        now = self._clock()

        def create(db: sqlite_utils.Database) -> tuple[int, str]:
            while True:  # 64 random bits: a clash is as good as impossible, but cheap to rule out
                username = REGISTERED_PREFIX + secrets.token_hex(8)
                if _account(db, username) is None:
                    break
            account_id = _insert(
                db,
                "accounts",
                {
                    "username": username,
                    "role": "requester",
                    "created_at": now,
                    "disabled_at": now,
                    "self_registered": 1,
                    "display_name": chosen,
                },
            )
            return account_id, username

        account_id, username = await self._db.write(create)
        issued = await self._issue("requester", account_id, account_id, "registration", REQUESTER_TOKEN_S)
        return username, issued

    async def set_requester_enabled(self, owner: Identity, requester: str, enabled: bool) -> None:
        """An owner approves (enables) or refuses (disables) a requester account."""
        if owner.role != "owner":
            raise Forbidden("only owners approve requesters")
        now = self._clock()

        def update(db: sqlite_utils.Database) -> int:
            return db.execute(
                "UPDATE accounts SET disabled_at = ? WHERE username = ? AND role = 'requester'",
                [None if enabled else now, requester],
            ).rowcount

        if not await self._db.write(update):
            raise NotFound(f"no requester {requester!r}")

    async def requester_card(self, token_id: int) -> dict[str, Any]:
        """For owners: which requester account a token belongs to, how each came to exist, what it sees."""
        row = await self._db.read(lambda db: one(db, REQUESTER_CARD, [token_id]))
        if row is None:
            raise NotFound(f"no requester token {token_id}")
        return _card(row)

    async def requesters_named(self, name: str) -> list[dict[str, Any]]:
        """For owners: the requester accounts called `name`, or self-registered under that name (any case)."""
        found = await self._db.read(lambda db: rows(db, REQUESTERS_NAMED, [name, name]))
        return [_account_card(r) for r in found]

    async def _issue(
        self,
        kind: str,
        account_id: int,
        created_by: int,
        name: str,
        expires_in_s: float | None,
        sees_account: bool = False,
    ) -> IssuedToken:
        _check_token_fields(name, expires_in_s)
        token = cred.new_token(cred.API_PREFIX if kind == "api" else cred.REQUESTER_PREFIX)
        now = self._clock()
        expires_at = now + expires_in_s if expires_in_s is not None else None
        token_id = await self._db.write(
            lambda db: _insert(
                db,
                "tokens",
                {
                    "account_id": account_id,
                    "kind": kind,
                    "name": name,
                    "token_sha256": cred.token_digest(token),
                    "created_by": created_by,
                    "created_at": now,
                    "expires_at": expires_at,
                    "sees_account": int(sees_account),
                },
            )
        )
        log.info("issued %s token %d (%r) for account %d", kind, token_id, name, account_id)
        return IssuedToken(token_id, name, token, expires_at)

    async def list_tokens(self, identity: Identity) -> list[dict[str, Any]]:
        """The caller's tokens (owners: every token), without secrets."""
        where, args = ("", []) if identity.role == "owner" else ("WHERE t.account_id = ?", [identity.account_id])
        sql = (
            "SELECT t.id, t.kind, t.name, a.username AS user, t.created_at, t.expires_at, t.last_used_at, "
            f"t.revoked_at FROM tokens t JOIN accounts a ON a.id = t.account_id {where} ORDER BY t.id"
        )
        return await self._db.read(lambda db: rows(db, sql, args))

    async def revoke_token(self, identity: Identity, token_id: int) -> None:
        """Revoke one's own token; owners may revoke any. Others' tokens look like missing ones."""
        now = self._clock()
        owner = identity.role == "owner"

        def revoke(db: sqlite_utils.Database) -> int:
            cursor = db.execute(
                "UPDATE tokens SET revoked_at = coalesce(revoked_at, ?) WHERE id = ? AND (? OR account_id = ?)",
                [now, token_id, owner, identity.account_id],
            )
            return cursor.rowcount

        if not await self._db.write(revoke):
            raise NotFound(f"no token {token_id}")
        log.info("token %d revoked by %r", token_id, identity.username)


SESSION_BY_DIGEST = """
SELECT s.*, a.username, a.role, a.must_change_password, a.disabled_at, a.cameras
FROM sessions s JOIN accounts a ON a.id = s.account_id WHERE s.token_sha256 = ?
"""
# A requester token, its account and who created each (owners' user names).
REQUESTER_CARD = """
SELECT t.id, t.name, t.sees_account, t.created_at AS token_created_at, i.username AS issued_by,
       a.username, a.self_registered, a.display_name, a.created_at, a.disabled_at, c.username AS created_by
FROM tokens t JOIN accounts a ON a.id = t.account_id LEFT JOIN accounts i ON i.id = t.created_by
LEFT JOIN accounts c ON c.id = a.created_by
WHERE t.id = ? AND t.kind = 'requester'
"""
REQUESTERS_NAMED = """
SELECT a.username, a.self_registered, a.display_name, a.created_at, a.disabled_at, c.username AS created_by
FROM accounts a LEFT JOIN accounts c ON c.id = a.created_by
WHERE a.role = 'requester' AND (a.username = ? OR a.display_name = ? COLLATE NOCASE) ORDER BY a.id
"""
TOKEN_BY_DIGEST = """
SELECT t.*, a.username, a.role, a.disabled_at, a.cameras
FROM tokens t JOIN accounts a ON a.id = t.account_id WHERE t.token_sha256 = ?
"""


def _load_name_key(path: Path) -> bytes:
    """The HMAC key for typed user names, created (mode 0600) on first use."""
    return secret_key(
        path, "the login-name key", "delete it to make a new one (older audit entries then stop matching new ones)"
    )


def _account_card(row: dict[str, Any]) -> dict[str, Any]:
    registered = bool(row["self_registered"])
    return {
        "account": row["username"],
        "display_name": row["display_name"] or row["username"],
        "origin": "self_registered" if registered else "issued_by_owner",
        "created_by": None if registered else row["created_by"],
        "created_at": row["created_at"],
        "enabled": row["disabled_at"] is None,
    }


def _card(row: dict[str, Any]) -> dict[str, Any]:
    token = {
        "id": row["id"],
        "name": row["name"],
        "created_at": row["token_created_at"],
        "issued_by": None if row["self_registered"] and row["issued_by"] == row["username"] else row["issued_by"],
        "sees": "account_requests" if row["sees_account"] else "own_requests",
    }
    return {"account": _account_card(row), "token": token}


def _check_token_fields(name: str, expires_in_s: float | None) -> None:
    if not name or len(name) > 100:
        raise InvalidRequest("a token needs a name of 1-100 characters")
    if (control := first_control(name)) is not None:  # token lists are printed on owners' terminals
        raise InvalidRequest(f"a token name may not hold control characters; found {control}")
    if expires_in_s is not None and expires_in_s <= 0:
        raise InvalidRequest("expires_in_s must be positive")


def _cameras(stored: str | None) -> frozenset[str] | None:
    return frozenset(json.loads(stored)) if stored is not None else None


def _account(db: sqlite_utils.Database, username: str) -> dict[str, Any] | None:
    return one(db, "SELECT * FROM accounts WHERE username = ?", [username])


def _insert(db: sqlite_utils.Database, table: str, row: dict[str, Any]) -> int:
    # Plain SQL: sqlite-utils' insert() manages its own transaction, and the
    # writer thread already holds one.
    names = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    return int(db.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", list(row.values())).lastrowid or 0)


def _insert_account(
    db: sqlite_utils.Database, username: str, role: str, phc: str | None, must_change: bool, now: float
) -> None:
    _insert(
        db,
        "accounts",
        {
            "username": username,
            "role": role,
            "password_hash": phc,
            "must_change_password": int(must_change),
            "password_changed_at": now if phc else None,
            "created_at": now,
        },
    )


def _check_text(*values: str) -> None:
    """Refuse text Python holds but UTF-8 cannot (lone surrogates from JSON \\ud800 escapes)."""
    if not all(is_text(value) for value in values):
        raise InvalidRequest("user names and passwords must be Unicode text (no lone surrogates)")


def _check_new_password(username: str, password: str) -> None:
    _check_text(password)
    if not cred.MIN_PASSWORD_LENGTH <= len(password) <= cred.MAX_PASSWORD_LENGTH:
        raise InvalidRequest(f"a password needs {cred.MIN_PASSWORD_LENGTH} to {cred.MAX_PASSWORD_LENGTH} characters")
    if password.casefold() == username.casefold():
        raise InvalidRequest("the password must not be the user name")
