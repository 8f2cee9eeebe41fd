"""The errors accounts raise; each is a `HubError`, mapped to JSON by the API's error middleware.

Messages never say whether an account exists, and never hold a password or token.
"""

from __future__ import annotations

from camhub.errors import HubError


class AuthError(HubError):
    key = "auth_error"
    status = 400


class LoginRequired(AuthError):
    """No valid session or token came with the request (or it expired or was revoked)."""

    key = "login_required"
    status = 401


class LoginFailed(AuthError):
    """Wrong user name or password; the same error for unknown users, on purpose."""

    key = "login_failed"
    status = 401


class LoginLocked(AuthError):
    """Too many failed logins for this user name or from this address; try again later."""

    key = "login_locked"
    status = 429


class Forbidden(AuthError):
    """Logged in, but the account's role may not do this."""

    key = "forbidden"
    status = 403


class PasswordChangeRequired(AuthError):
    """The account still has its one-time password; only /api/auth/password and friends work."""

    key = "password_change_required"
    status = 403


class ReauthRequired(AuthError):
    """The action needs the password proven recently (POST /api/auth/reauth), not only a session."""

    key = "reauth_required"
    status = 401


class InvalidRequest(AuthError):
    key = "invalid_request"
    status = 400


class AccountExists(AuthError):
    key = "account_exists"
    status = 409
