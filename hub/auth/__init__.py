"""Accounts: owners, members, custodians and requesters; passwords, sessions and tokens.

`AccountService` (camhub.auth.service) opens `accounts.db` and the three
services that share it: `Accounts` (who exists, roles, passwords, cameras),
`Sessions` (logging in and out, expiry, a fresh password) and `Tokens` (API
and requester tokens). `camhub.auth.access` is what every area's handlers use
(`auth_middleware`, `household_only`, `roles_required`, `require_household`,
`require_fresh`, `require_camera`, `recheck`); `camhub.auth.routes` declares
the /api/auth routes with their OpenAPI operations. See docs/accounts.md.
"""

from camhub.auth.access import (
    IDENTITY,
    OPENAPI_SECURITY_SCHEMES,
    SERVICE,
    auth_middleware,
    current_identity,
    household_only,
    recheck,
    require_camera,
    require_fresh,
    require_household,
    require_roles,
    roles_required,
)
from camhub.auth.accounts import USERNAME, Accounts
from camhub.auth.errors import (
    AuthError,
    Forbidden,
    LoginFailed,
    LoginLocked,
    LoginRequired,
    PasswordChangeRequired,
    ReauthRequired,
)
from camhub.auth.identity import HOUSEHOLD, ROLES, Identity, IssuedToken, Login
from camhub.auth.routes import ROUTES
from camhub.auth.service import AccountService
from camhub.auth.sessions import Sessions
from camhub.auth.tokens import Tokens

__all__ = [
    "HOUSEHOLD",
    "IDENTITY",
    "OPENAPI_SECURITY_SCHEMES",
    "ROLES",
    "ROUTES",
    "SERVICE",
    "USERNAME",
    "AccountService",
    "Accounts",
    "AuthError",
    "Forbidden",
    "Identity",
    "IssuedToken",
    "Login",
    "LoginFailed",
    "LoginLocked",
    "LoginRequired",
    "PasswordChangeRequired",
    "ReauthRequired",
    "Sessions",
    "Tokens",
    "auth_middleware",
    "current_identity",
    "household_only",
    "recheck",
    "require_camera",
    "require_fresh",
    "require_household",
    "require_roles",
    "roles_required",
]
