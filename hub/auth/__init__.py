"""Accounts: owners, members, custodians and requesters; passwords, sessions and tokens.

`AccountService` is the library; `camhub.auth.routes` mounts it on aiohttp
(`auth_middleware`, `add_routes`, `household_only`, `require_household`,
`require_fresh`); `camhub.auth.openapi` documents the routes. See docs/accounts.md.
"""

from camhub.auth.errors import (
    AuthError,
    Forbidden,
    LoginFailed,
    LoginLocked,
    LoginRequired,
    PasswordChangeRequired,
    ReauthRequired,
)
from camhub.auth.openapi import OPENAPI_PATHS, OPENAPI_SECURITY_SCHEMES
from camhub.auth.routes import (
    IDENTITY,
    SERVICE,
    add_routes,
    auth_middleware,
    current_identity,
    household_only,
    require_camera,
    require_fresh,
    require_household,
    require_roles,
    roles_required,
)
from camhub.auth.service import AccountService, Identity, IssuedToken, Login

__all__ = [
    "IDENTITY",
    "OPENAPI_PATHS",
    "OPENAPI_SECURITY_SCHEMES",
    "SERVICE",
    "AccountService",
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
    "add_routes",
    "auth_middleware",
    "current_identity",
    "household_only",
    "require_camera",
    "require_fresh",
    "require_household",
    "require_roles",
    "roles_required",
]
