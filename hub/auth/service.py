"""The account service as the hub holds it: `<data_dir>/accounts.db` and the three services that share it.

`AccountService.open` opens the database once (the hub's one-writer
`Database`, so SQLite never blocks the event loop) and builds on it:

- `accounts` (`camhub.auth.accounts`): who exists, roles, passwords, a member's
  cameras, the first owner, requester accounts;
- `sessions` (`camhub.auth.sessions`): logging in and out, session expiry, the
  login throttle and its audit entries, a freshly typed password;
- `tokens` (`camhub.auth.tokens`): API and requester tokens.

`authenticate` turns any credential into an `Identity`, whichever service owns
it. The few operations the rest of the hub uses (the hub's start, the privacy
routes) are also offered here, so those callers need not know how accounts
are split; the /api/auth routes use the services themselves.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from argon2 import PasswordHasher

from camhub.auth import credentials as cred
from camhub.auth.accounts import Accounts
from camhub.auth.errors import LoginRequired
from camhub.auth.identity import Identity
from camhub.auth.schema import migrations
from camhub.auth.sessions import EventSink, Sessions, load_name_key
from camhub.auth.throttle import LoginThrottle
from camhub.auth.tokens import Tokens
from camhub.clock import Clock
from camhub.store.db import Database

DATABASE = "accounts.db"  # in the data folder


class AccountService:
    def __init__(self, db: Database, accounts: Accounts, sessions: Sessions, tokens: Tokens) -> None:
        self._db = db
        self.accounts = accounts
        self.sessions = sessions
        self.tokens = tokens
        # What the hub (the first owner, the owners to tell) and the privacy routes (accounts made by owners,
        # requesters and their tokens) ask of accounts.
        self.bootstrap_owner = accounts.bootstrap_owner
        self.usernames = accounts.usernames
        self.create_account = accounts.create_account
        self.set_cameras = accounts.set_cameras
        self.household = accounts.household
        self.remove_account = accounts.remove_account
        self.set_requester_enabled = accounts.set_requester_enabled
        self.requesters_named = accounts.requesters_named
        self.issue_requester_token = tokens.issue_requester_token
        self.register_requester = tokens.register_requester
        self.requester_card = tokens.requester_card

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
        db = await asyncio.to_thread(Database, data_dir / DATABASE, migrations)
        dummy = await asyncio.to_thread(hasher.hash, cred.one_time_password())
        name_key = await asyncio.to_thread(load_name_key, data_dir)
        accounts = Accounts(db, clock, hasher, dummy)
        sessions = Sessions(db, clock, accounts, throttle or LoginThrottle(clock), on_event, name_key)
        return cls(db, accounts, sessions, Tokens(db, clock, accounts))

    async def close(self) -> None:
        await asyncio.to_thread(self._db.close)

    async def authenticate(self, token: str) -> Identity:
        """The identity behind a session or bearer token; `LoginRequired` if unknown, expired or revoked."""
        if token.startswith(cred.SESSION_PREFIX):
            return await self.sessions.identify(token)
        if token.startswith((cred.API_PREFIX, cred.REQUESTER_PREFIX)):
            return await self.tokens.identify(token)
        raise LoginRequired("not a camhub session or token")
