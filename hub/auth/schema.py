"""The account store's schema (`<data_dir>/accounts.db`), as named migrations.

Secrets are never stored: passwords as Argon2id PHC strings, session and
API/requester tokens as the hex SHA-256 of the token. Each column's comment
gives its unit; `sqlite3 accounts.db .schema` shows them. Never edit an
applied migration: add a new one.
"""

from __future__ import annotations

import sqlite_utils
from sqlite_utils.migrations import Migrations

migrations = Migrations("camhub.accounts")

# sessions.last_seen_at and tokens.last_used_at are rewritten at most this often (seconds),
# so reads do not each become a write.
TOUCH_INTERVAL_S = 60.0

ACCOUNTS = """
CREATE TABLE accounts (
  id INTEGER PRIMARY KEY,                 -- account number, never reused
  username TEXT NOT NULL UNIQUE COLLATE NOCASE, -- login name; compared without case
  role TEXT NOT NULL                      -- owner | member | custodian | requester
    CHECK (role IN ('owner', 'member', 'custodian', 'requester')),
  password_hash TEXT,                     -- Argon2id PHC string; NULL: cannot log in with a password (requesters)
  must_change_password INTEGER NOT NULL DEFAULT 0, -- 0/1: the password is a one-time password
  password_changed_at REAL,               -- Unix seconds, UTC: when password_hash was last set by a person
  created_at REAL NOT NULL,               -- Unix seconds, UTC
  disabled_at REAL                        -- Unix seconds, UTC: NULL while the account may log in
)
"""

SESSIONS = """
CREATE TABLE sessions (
  id INTEGER PRIMARY KEY,                 -- session number, never reused
  account_id INTEGER NOT NULL REFERENCES accounts(id), -- whose session; an account number
  token_sha256 TEXT NOT NULL UNIQUE,      -- hex SHA-256 of the cookie token; the token itself is never stored
  created_at REAL NOT NULL,               -- Unix seconds, UTC: login time; the absolute expiry counts from here
  last_seen_at REAL NOT NULL,             -- Unix seconds, UTC: last use (updated at most once a minute);
                                          -- idle expiry counts from here
  password_proven_at REAL NOT NULL,       -- Unix seconds, UTC: last time the password was typed in this session
  remote TEXT NOT NULL,                   -- client address at login
  revoked_at REAL                         -- Unix seconds, UTC: logout or password change; NULL while valid
)
"""

TOKENS = """
CREATE TABLE tokens (
  id INTEGER PRIMARY KEY,                 -- token number, never reused; shown to users to revoke it
  account_id INTEGER NOT NULL REFERENCES accounts(id), -- whose rights the token carries
  kind TEXT NOT NULL                      -- api: a household script | requester: an outside party
    CHECK (kind IN ('api', 'requester')),
  name TEXT NOT NULL,                     -- what the token is for, chosen by whoever created it
  token_sha256 TEXT NOT NULL UNIQUE,      -- hex SHA-256 of the token; the token itself is never stored
  created_by INTEGER NOT NULL REFERENCES accounts(id), -- account that created or issued it
  created_at REAL NOT NULL,               -- Unix seconds, UTC
  expires_at REAL,                        -- Unix seconds, UTC; NULL: until revoked
  last_used_at REAL,                      -- Unix seconds, UTC (updated at most once a minute); NULL: never used
  revoked_at REAL                         -- Unix seconds, UTC; NULL while valid
)
"""


@migrations(name="0001_accounts_sessions_tokens")
def _accounts_sessions_tokens(db: sqlite_utils.Database) -> None:
    db.execute(ACCOUNTS)
    db.execute(SESSIONS)
    db.execute(TOKENS)
    db.execute("CREATE INDEX sessions_account ON sessions (account_id)")
    db.execute("CREATE INDEX tokens_account ON tokens (account_id)")


@migrations(name="0002_member_cameras")
def _member_cameras(db: sqlite_utils.Database) -> None:
    # JSON list of the camera names a member may view; NULL: every camera (owners always see all).
    db.execute("ALTER TABLE accounts ADD COLUMN cameras TEXT")


@migrations(name="0003_requester_origin")
def _requester_origin(db: sqlite_utils.Database) -> None:
    # Which party a requester account is, and who let it in: a self-registered
    # account never shares a name with one an owner created (its user name is
    # reg-<hex>; the name it chose is only shown), so a token an owner issues
    # by name can never land in it.
    # 0/1: the account registered itself (POST /api/requesters/register)
    db.execute("ALTER TABLE accounts ADD COLUMN self_registered INTEGER NOT NULL DEFAULT 0")
    # self-registered requesters: the name they chose, shown to owners; NULL otherwise
    db.execute("ALTER TABLE accounts ADD COLUMN display_name TEXT")
    # the owner account that created it (issued its first token); NULL: the command line, first start or itself
    db.execute("ALTER TABLE accounts ADD COLUMN created_by INTEGER REFERENCES accounts(id)")
    # 0/1 (requester tokens): 1 sees every request of its account (an owner chose so when issuing it),
    # 0 only the requests it submitted itself
    db.execute("ALTER TABLE tokens ADD COLUMN sees_account INTEGER NOT NULL DEFAULT 0")
    # Registrations before this migration made an account under the chosen name, with one token named
    # "registration" that the account created itself; owner-issued tokens may have joined it since.
    db.execute(
        "UPDATE accounts SET self_registered = 1 WHERE role = 'requester' AND id IN "
        "(SELECT account_id FROM tokens WHERE kind = 'requester' AND created_by = account_id)"
    )
    db.execute(
        "UPDATE accounts SET created_by = (SELECT min(t.created_by) FROM tokens t WHERE t.account_id = "
        "accounts.id AND t.created_by != accounts.id) WHERE role = 'requester' AND self_registered = 0"
    )
