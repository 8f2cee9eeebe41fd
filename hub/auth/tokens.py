"""The tokens service: API tokens for household scripts and requester tokens for outside parties.

`Tokens` owns the `tokens` table of `<data_dir>/accounts.db`. A token is 256
random bits with a prefix naming its kind (`cht_` API, `chr_` requester); only
its SHA-256 is stored, and the secret is returned once, to whoever created it.
An API token carries its creator's role and is created only from a household
login session; a requester token is bound to a requester account, which
`Accounts` finds or creates (issued by an owner) or makes on registration.
A token works until it expires, is revoked, or its account is disabled.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlite_utils

from camhub.auth import credentials as cred
from camhub.auth.accounts import Accounts, account_card, check_username, insert_row, member_cameras
from camhub.auth.errors import Forbidden, InvalidRequest, LoginRequired
from camhub.auth.identity import Identity, IssuedToken
from camhub.auth.schema import TOUCH_INTERVAL_S
from camhub.clock import Clock
from camhub.errors import NotFound
from camhub.store.db import Database, one, rows
from camhub.terminal import first_control

log = logging.getLogger(__name__)

REQUESTER_TOKEN_S = 30 * 86400.0  # default lifetime of a requester token, seconds

TOKEN_BY_DIGEST = """
SELECT t.*, a.username, a.role, a.disabled_at, a.cameras
FROM tokens t JOIN accounts a ON a.id = t.account_id WHERE t.token_sha256 = ?
"""
# A requester token, its account and who created each (owners' user names).
REQUESTER_CARD = """
SELECT t.id, t.name, t.sees_account, t.created_at AS token_created_at, i.username AS issued_by,
       a.username, a.self_registered, a.display_name, a.created_at, a.disabled_at, c.username AS created_by
FROM tokens t JOIN accounts a ON a.id = t.account_id LEFT JOIN accounts i ON i.id = t.created_by
LEFT JOIN accounts c ON c.id = a.created_by
WHERE t.id = ? AND t.kind = 'requester'
"""


class Tokens:
    def __init__(self, db: Database, clock: Clock, accounts: Accounts) -> None:
        self._db = db
        self._clock = clock
        self._accounts = accounts

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
        check_username(requester, "requester")
        _check_token_fields(name, expires_in_s)
        account_id = await self._accounts.requester_account(issuer, requester)
        return await self._issue("requester", account_id, issuer.account_id, name, expires_in_s, sees_account)

    async def register_requester(self, chosen: str) -> tuple[str, IssuedToken]:
        """An outside party registers: a requester account that stays disabled until an owner approves it
        (`Accounts.create_registered`), and its token, which works only from then on. Returns the account's
        user name (never the chosen one) and the token."""
        account_id, username = await self._accounts.create_registered(chosen)
        issued = await self._issue("requester", account_id, account_id, "registration", REQUESTER_TOKEN_S)
        return username, issued

    async def requester_card(self, token_id: int) -> dict[str, Any]:
        """For owners: which requester account a token belongs to, how each came to exist, what it sees."""
        row = await self._db.read(lambda db: one(db, REQUESTER_CARD, [token_id]))
        if row is None:
            raise NotFound(f"no requester token {token_id}")
        token = {
            "id": row["id"],
            "name": row["name"],
            "created_at": row["token_created_at"],
            "issued_by": None if row["self_registered"] and row["issued_by"] == row["username"] else row["issued_by"],
            "sees": "account_requests" if row["sees_account"] else "own_requests",
        }
        return {"account": account_card(row), "token": token}

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

    async def identify(self, token: str) -> Identity:
        """The identity behind an API or requester token; `LoginRequired` if unknown, expired, revoked or
        its account disabled."""
        row = await self._db.read(lambda db: one(db, TOKEN_BY_DIGEST, [cred.token_digest(token)]))
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
            member_cameras(row["cameras"]),
            bool(row["sees_account"]),
        )

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
            lambda db: insert_row(
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


def _check_token_fields(name: str, expires_in_s: float | None) -> None:
    if not name or len(name) > 100:
        raise InvalidRequest("a token needs a name of 1-100 characters")
    if (control := first_control(name)) is not None:  # token lists are printed on owners' terminals
        raise InvalidRequest(f"a token name may not hold control characters; found {control}")
    if expires_in_s is not None and expires_in_s <= 0:
        raise InvalidRequest("expires_in_s must be positive")
