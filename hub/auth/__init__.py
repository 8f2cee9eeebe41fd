"""Accounts: owners, members, custodians and requesters; passwords, sessions and tokens.

`AccountService` is the library; `hub.auth.routes` mounts it on aiohttp
(`auth_middleware`, `add_routes`, `household_only`, `require_household`,
`require_fresh`); `hub.auth.openapi` documents the routes. See docs/accounts.md.
"""

from hub.auth.errors import (
                             AuthError,
                             Forbidden,
                             LoginFailed,
                             LoginLocked,
                             LoginRequired,
                             PasswordChangeRequired,
                             ReauthRequired,  # fmt: skip
)
from hub.auth.openapi import OPENAPI_PATHS, OPENAPI_SECURITY_SCHEMES
from hub.auth.routes import (
                             IDENTITY,
                             SERVICE,
                             add_routes,
                             auth_middleware,
                             current_identity,
                             household_only,
                             require_camera,
                             require_fresh,  # fmt: skip
                             require_household,
                             require_roles,
                             roles_required,
)
from hub.auth.service import AccountService, Identity, IssuedToken, Login

__all__ = [
    "IDENTITY", "OPENAPI_PATHS", "OPENAPI_SECURITY_SCHEMES", "SERVICE", "AccountService", "AuthError", "Forbidden",
    "Identity", "IssuedToken", "Login", "LoginFailed", "LoginLocked", "LoginRequired", "PasswordChangeRequired",
    "ReauthRequired", "add_routes", "auth_middleware", "current_identity", "household_only", "require_camera",
    "require_fresh",
    "require_household", "require_roles", "roles_required",
]
