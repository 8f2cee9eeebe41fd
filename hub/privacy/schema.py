"""The privacy store's schema (`<data_dir>/privacy.db`), as named migrations.

Requests, owners' votes, overrides, holds, exports, share links and owner
notices. The audit log is the record of what happened; these tables are the
working state the hub needs to act on it (what is pending, what a link
still allows). Every column's comment gives its unit; never edit an applied
migration, add a new one.
"""

from __future__ import annotations

import sqlite_utils
from sqlite_utils.migrations import Migrations

migrations = Migrations("camhub.privacy")

REQUESTS = """
CREATE TABLE requests (
  id TEXT PRIMARY KEY,                 -- req_<32 hex>: random, shown to the requester
  requester_id INTEGER NOT NULL,       -- accounts.db account number of the requester
  requester TEXT NOT NULL,             -- the requester account's user name
  identity TEXT NOT NULL,              -- the person, as they name themselves
  organisation TEXT NOT NULL,
  contact TEXT NOT NULL,
  purpose TEXT NOT NULL,
  case_reference TEXT,                 -- optional case or incident number
  cameras TEXT NOT NULL,               -- JSON list of camera names asked for
  start_s INTEGER NOT NULL,            -- Unix seconds, UTC: window start (inclusive)
  end_s INTEGER NOT NULL,              -- Unix seconds, UTC: window end (exclusive)
  wanted_by_s INTEGER NOT NULL,        -- Unix seconds, UTC: when the requester needs an answer
  created_s INTEGER NOT NULL,          -- Unix seconds, UTC
  expires_s INTEGER NOT NULL,          -- Unix seconds, UTC: undecided after this, the request expires as denied
  state TEXT NOT NULL                  -- pending | approved | narrowed | denied | expired
    CHECK (state IN ('pending', 'approved', 'narrowed', 'denied', 'expired')),
  decided_s INTEGER,                   -- Unix seconds, UTC: the final decision or expiry
  message TEXT,                        -- the deciding owner's message to the requester
  granted TEXT,                        -- JSON scope granted: {"cameras", "start_s", "end_s", "clip_ids"}
  export_id TEXT                       -- the export built for it, once approved
)
"""

VOTES = """
CREATE TABLE votes (
  request_id TEXT NOT NULL REFERENCES requests(id),
  owner TEXT NOT NULL,                 -- owner user name
  decision TEXT NOT NULL,              -- approved | narrowed | denied
  scope TEXT,                          -- JSON scope this owner agreed to (NULL for a denial)
  at_s INTEGER NOT NULL,               -- Unix seconds, UTC
  PRIMARY KEY (request_id, owner)
)
"""

OVERRIDES = """
CREATE TABLE overrides (
  id TEXT PRIMARY KEY,                 -- ovr_<32 hex>
  kind TEXT NOT NULL,                  -- search_warrant | court_order | subpoena | emergency | preservation
  record TEXT NOT NULL,                -- JSON of every field as invoked (see hub/privacy/overrides.py)
  invoked_by TEXT NOT NULL,            -- owner or custodian user name
  invoked_s INTEGER NOT NULL,          -- Unix seconds, UTC
  notice_due_s INTEGER NOT NULL,       -- Unix seconds, UTC: when owners are told (= invoked_s without a delay)
  notice_sent_s INTEGER,               -- Unix seconds, UTC; NULL until the owners were told
  follow_up_due_s INTEGER,             -- emergencies: Unix seconds, UTC; NULL otherwise
  follow_up TEXT,                      -- JSON of the follow-up legal process, once filed
  follow_up_missed_s INTEGER,          -- Unix seconds, UTC: when the missing follow-up was flagged
  export_id TEXT,                      -- the export released under it (not for preservation)
  hold_id TEXT                         -- the hold it placed (preservation)
)
"""

HOLDS = """
CREATE TABLE holds (
  id TEXT PRIMARY KEY,                 -- hold_<32 hex>
  basis TEXT NOT NULL,                 -- owner | override:<id>
  cameras TEXT NOT NULL,               -- JSON list of camera names
  start_s INTEGER NOT NULL,            -- Unix seconds, UTC
  end_s INTEGER NOT NULL,              -- Unix seconds, UTC
  created_by TEXT NOT NULL,            -- user name
  created_s INTEGER NOT NULL,          -- Unix seconds, UTC
  expires_s INTEGER NOT NULL,          -- Unix seconds, UTC; renewing moves it
  released_s INTEGER                   -- Unix seconds, UTC; NULL while the hold stands
)
"""

EXPORTS = """
CREATE TABLE exports (
  id TEXT PRIMARY KEY,                 -- exp_<32 hex>
  basis TEXT NOT NULL,                 -- request:<id> | override:<id>
  recipient TEXT NOT NULL,             -- requester user name, or the override's agency
  path TEXT NOT NULL,                  -- the package, relative to the data folder
  files INTEGER NOT NULL,              -- clips in the package
  bytes INTEGER NOT NULL,              -- footage bytes in the package
  package_bytes INTEGER NOT NULL,      -- size of the zip
  audit_index INTEGER NOT NULL,        -- the export_built entry in the audit log
  created_s INTEGER NOT NULL           -- Unix seconds, UTC
)
"""

LINKS = """
CREATE TABLE links (
  id TEXT PRIMARY KEY,                 -- 128 random bits, base64url; half of the link's secret
  export_id TEXT NOT NULL REFERENCES exports(id),
  created_s INTEGER NOT NULL,          -- Unix seconds, UTC
  expires_s INTEGER NOT NULL,          -- Unix seconds, UTC
  max_downloads INTEGER NOT NULL,
  downloads INTEGER NOT NULL DEFAULT 0, -- downloads started (each logged before its first byte)
  revoked_s INTEGER                    -- Unix seconds, UTC; NULL while usable
)
"""

NOTICES = """
CREATE TABLE notices (
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,                  -- request_received | override | follow_up_missed | request_expired
  subject TEXT NOT NULL,               -- the request or override id
  body TEXT NOT NULL,                  -- JSON: what owners are told (never footage)
  created_s INTEGER NOT NULL           -- Unix seconds, UTC
)
"""


@migrations(name="0001_requests_overrides_holds_exports")
def _first(db: sqlite_utils.Database) -> None:
    for sql in (REQUESTS, VOTES, OVERRIDES, HOLDS, EXPORTS, LINKS, NOTICES):
        db.execute(sql)
    db.execute("CREATE INDEX requests_requester ON requests (requester_id, created_s)")
    db.execute("CREATE INDEX requests_state ON requests (state, expires_s)")
    db.execute("CREATE INDEX links_export ON links (export_id)")


REGISTRATIONS = """
CREATE TABLE registrations (
  username TEXT PRIMARY KEY,           -- the requester account it created (disabled until approved)
  identity TEXT NOT NULL,              -- the person, as they name themselves
  organisation TEXT NOT NULL,
  contact TEXT NOT NULL,
  remote TEXT NOT NULL,                -- client address it came from
  created_s INTEGER NOT NULL,          -- Unix seconds, UTC
  state TEXT NOT NULL                  -- pending | approved | refused
    CHECK (state IN ('pending', 'approved', 'refused')),
  decided_by TEXT,                     -- owner user name
  decided_s INTEGER                    -- Unix seconds, UTC
)
"""


@migrations(name="0002_requester_registrations")
def _registrations(db: sqlite_utils.Database) -> None:
    db.execute(REGISTRATIONS)


@migrations(name="0003_exports_deleted")
def _exports_deleted(db: sqlite_utils.Database) -> None:
    # Unix seconds, UTC: when the package was deleted because no link can fetch it any more.
    db.execute("ALTER TABLE exports ADD COLUMN deleted_s INTEGER")


@migrations(name="0004_requests_by_token")
def _requests_by_token(db: sqlite_utils.Database) -> None:
    # A request belongs to the token that submitted it, not to a name: a requester token sees the
    # requests it submitted (and, if an owner issued it to see its account's, the account's).
    # accounts.db token number that submitted it; NULL: submitted before this migration (owners see it,
    # requesters do not, since the account may have been shared with whoever squatted its name)
    db.execute("ALTER TABLE requests ADD COLUMN token_id INTEGER")
    # JSON, shown to owners: the submitting account and token and how each came to exist
    db.execute("ALTER TABLE requests ADD COLUMN submitted_by TEXT")
    db.execute("CREATE INDEX requests_token ON requests (token_id, created_s)")
    # the name a self-registered party chose; `username` is its account, reg-<hex>. NULL: registered
    # before this migration, when the account took the chosen name itself
    db.execute("ALTER TABLE registrations ADD COLUMN display_name TEXT")


@migrations(name="0005_request_legal_basis")
def _request_legal_basis(db: sqlite_utils.Database) -> None:
    # the law, consent or agreement a requester asks under, as they state it; NULL: not given
    db.execute("ALTER TABLE requests ADD COLUMN legal_basis TEXT")
