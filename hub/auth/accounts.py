"""The accounts service: who exists, in which role, with which password and which cameras.

`Accounts` owns the `accounts` table of `<data_dir>/accounts.db` (through the
hub's one-writer `Database`, shared with sessions and tokens) and the Argon2id
hasher (run in a worker thread: it is deliberately slow). It creates the
first owner, household and custodian accounts and requester accounts (issued
by an owner, or self-registered and disabled until an owner approves them),
checks passwords for `Sessions`, and says which cameras a member may see.

A password check costs one Argon2 verification whether or not the account
exists: unknown names are checked against a dummy hash.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
from dataclasses import dataclass
from typing import Any

import sqlite_utils
from argon2 import PasswordHasher

from camhub.audit.canonical import is_text
from camhub.auth import credentials as cred
from camhub.auth.errors import AccountExists, Forbidden, InvalidRequest
from camhub.auth.identity import ROLES, Identity
from camhub.clock import Clock
from camhub.errors import NotFound
from camhub.store.db import Database, one, rows

log = logging.getLogger(__name__)

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
REGISTERED_PREFIX = "reg-"  # self-registered requester accounts are reg-<16 hex>; the chosen name is shown

REQUESTERS_NAMED = """
SELECT a.username, a.self_registered, a.display_name, a.created_at, a.disabled_at, c.username AS created_by
FROM accounts a LEFT JOIN accounts c ON c.id = a.created_by
WHERE a.role = 'requester' AND (a.username = ? OR a.display_name = ? COLLATE NOCASE) ORDER BY a.id
"""


@dataclass(frozen=True)
class PasswordCheck:
    """What checking a typed password found."""

    account: dict[str, Any] | None  # the row of the account with the typed name, if one has it
    matched: bool  # the password is the account's, and the account may log in with a password


class Accounts:
    def __init__(self, db: Database, clock: Clock, hasher: PasswordHasher, dummy_hash: str) -> None:
        self._db = db
        self._clock = clock
        self._hasher = hasher
        # Unknown users are checked against this hash, so they cost the same time as known ones.
        self._dummy_hash = dummy_hash

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
        check_username(username, "user name")
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

    async def household(self) -> list[dict[str, Any]]:
        """For owners: the owner, member and custodian accounts that may log in, with a member's cameras
        (None: every camera) and whether the one-time password is still unchanged."""
        found = await self._db.read(
            lambda db: rows(
                db,
                "SELECT username, role, cameras, must_change_password, created_at FROM accounts "
                "WHERE role != 'requester' AND disabled_at IS NULL ORDER BY username",
                [],
            )
        )
        return [
            {
                "username": r["username"],
                "role": r["role"],
                "cameras": sorted(c) if (c := member_cameras(r["cameras"])) is not None else None,
                "must_change_password": bool(r["must_change_password"]),
                "created_at": r["created_at"],
            }
            for r in found
        ]

    async def remove_account(self, owner: Identity, username: str) -> str:
        """An owner removes a member or custodian; returns its role. The account is disabled, not deleted:
        its sessions and tokens stop working at once (they check `disabled_at`), and the name the audit log
        and past decisions carry stays that person's, never reused by a new account."""
        if owner.role != "owner":
            raise Forbidden("only owners remove accounts")
        now = self._clock()

        def disable(db: sqlite_utils.Database) -> str:
            row = one(db, "SELECT role FROM accounts WHERE username = ? AND disabled_at IS NULL", [username])
            if row is None or row["role"] not in ("member", "custodian"):
                # Owners are kept (a household never locks itself out here); requesters lose their tokens instead.
                raise NotFound(f"no member or custodian named {username!r}")
            db.execute("UPDATE accounts SET disabled_at = ? WHERE username = ?", [now, username])
            return str(row["role"])

        role = await self._db.write(disable)
        log.info("%s %r removed by %r", role, username, owner.username)
        return role

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

    # Passwords

    async def check_password(self, username: str, password: str) -> PasswordCheck:
        """Check a typed password against the account named `username`, in the same time whether or not one
        exists. A disabled account, or one without a password (requesters), never matches."""
        account = await self._db.read(lambda db: account_row(db, username))
        usable = account is not None and bool(account["password_hash"]) and account["disabled_at"] is None
        stored = account["password_hash"] if usable and account else self._dummy_hash
        matched = await asyncio.to_thread(cred.verify_password, self._hasher, stored, password)
        return PasswordCheck(account, usable and matched)

    async def rehash_if_needed(self, account: dict[str, Any], password: str) -> None:
        """After a password matched: rehash it if the Argon2 parameters have been raised since it was set, so
        new parameters take effect as each person next logs in."""
        stored = account["password_hash"]
        if not self._hasher.check_needs_rehash(stored):
            return
        phc = await asyncio.to_thread(self._hasher.hash, password)
        await self._db.write(
            lambda db: db.execute(
                "UPDATE accounts SET password_hash = ? WHERE id = ? AND password_hash = ?", [phc, account["id"], stored]
            )
        )
        log.info("rehashed the password of account %d with new Argon2 parameters", account["id"])

    async def new_password_hash(self, username: str, current: str, new: str) -> str:
        """The hash to store for a new password, once it meets the rules; `store_password` stores it."""
        _check_new_password(username, new)
        if new == current:
            raise InvalidRequest("the new password must differ from the current one")
        return await asyncio.to_thread(self._hasher.hash, new)

    # Requester accounts

    async def requester_account(self, issuer: Identity, requester: str) -> int:
        """The requester account named `requester`, created for `issuer` (an owner) if new; never a household,
        custodian or self-registered account."""
        now = self._clock()

        def find_or_create(db: sqlite_utils.Database) -> int:
            account = account_row(db, requester)
            if account is None and requester.lower().startswith(REGISTERED_PREFIX):
                raise InvalidRequest(
                    f"requester names starting with {REGISTERED_PREFIX!r} are kept for "
                    "self-registered accounts; choose another"
                )
            if account is None:
                return insert_row(
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

        return await self._db.write(find_or_create)

    async def create_registered(self, chosen: str) -> tuple[int, str]:
        """A self-registered requester account, disabled until an owner approves it: its number and user name.

        It never takes the chosen name: it gets `reg-<random>` and keeps the chosen name as its display name.
        So registering answers alike whatever names exist (nobody can probe for household or requester
        names), and no owner can later issue a token into it by typing the chosen name."""
        check_username(chosen, "user name")
        now = self._clock()

        def create(db: sqlite_utils.Database) -> tuple[int, str]:
            while True:  # 64 random bits: a clash is as good as impossible, but cheap to rule out
                username = REGISTERED_PREFIX + secrets.token_hex(8)
                if account_row(db, username) is None:
                    break
            account_id = insert_row(
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

        return await self._db.write(create)

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

    async def requesters_named(self, name: str) -> list[dict[str, Any]]:
        """For owners: the requester accounts called `name`, or self-registered under that name (any case)."""
        found = await self._db.read(lambda db: rows(db, REQUESTERS_NAMED, [name, name]))
        return [account_card(r) for r in found]


def check_username(username: str, what: str) -> None:
    if not USERNAME.match(username):
        raise InvalidRequest(f"{what}: 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit")


def check_text(*values: str) -> None:
    """Refuse text Python holds but UTF-8 cannot (lone surrogates from JSON \\ud800 escapes)."""
    if not all(is_text(value) for value in values):
        raise InvalidRequest("user names and passwords must be Unicode text (no lone surrogates)")


def _check_new_password(username: str, password: str) -> None:
    check_text(password)
    if not cred.MIN_PASSWORD_LENGTH <= len(password) <= cred.MAX_PASSWORD_LENGTH:
        raise InvalidRequest(f"a password needs {cred.MIN_PASSWORD_LENGTH} to {cred.MAX_PASSWORD_LENGTH} characters")
    if password.casefold() == username.casefold():
        raise InvalidRequest("the password must not be the user name")


def store_password(db: sqlite_utils.Database, account_id: int, phc: str, now: float) -> None:
    """Inside a write: set a password a person chose (`Accounts.new_password_hash`); it is no longer one-time."""
    db.execute(
        "UPDATE accounts SET password_hash = ?, must_change_password = 0, password_changed_at = ? WHERE id = ?",
        [phc, now, account_id],
    )


def member_cameras(stored: str | None) -> frozenset[str] | None:
    """The `cameras` column as an `Identity` holds it: a member's cameras, or None for every camera."""
    return frozenset(json.loads(stored)) if stored is not None else None


def account_card(row: dict[str, Any]) -> dict[str, Any]:
    """For owners: a requester account, how it came to exist and whether it is enabled."""
    registered = bool(row["self_registered"])
    return {
        "account": row["username"],
        "display_name": row["display_name"] or row["username"],
        "origin": "self_registered" if registered else "issued_by_owner",
        "created_by": None if registered else row["created_by"],
        "created_at": row["created_at"],
        "enabled": row["disabled_at"] is None,
    }


def account_row(db: sqlite_utils.Database, username: str) -> dict[str, Any] | None:
    return one(db, "SELECT * FROM accounts WHERE username = ?", [username])


def insert_row(db: sqlite_utils.Database, table: str, row: dict[str, Any]) -> int:
    """Insert one row inside a write; its rowid."""
    # Plain SQL: sqlite-utils' insert() manages its own transaction, and the
    # writer thread already holds one.
    names = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    return int(db.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", list(row.values())).lastrowid or 0)


def _insert_account(
    db: sqlite_utils.Database, username: str, role: str, phc: str | None, must_change: bool, now: float
) -> None:
    insert_row(
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
