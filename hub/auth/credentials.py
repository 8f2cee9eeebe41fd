"""Making and checking credentials: Argon2id password hashes and random bearer tokens.

Tokens carry 256 bits from `secrets` and a prefix naming their kind (so a
leaked one is recognisable by secret scanners); only their SHA-256 is stored.
A fast hash is right for tokens (they are random, not guessable) and wrong
for passwords, which get Argon2id.
"""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

SESSION_PREFIX = "chs_"
API_PREFIX = "cht_"
REQUESTER_PREFIX = "chr_"
TOKEN_BYTES = 32  # 256 bits
# A one-time password must be typed once by a person: 144 bits in 24 URL-safe characters.
ONE_TIME_PASSWORD_BYTES = 18
MIN_PASSWORD_LENGTH = 12
# Argon2 hashes any length, but a megabyte password is a cheap way to burn CPU.
MAX_PASSWORD_LENGTH = 1024


def new_token(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(TOKEN_BYTES)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def one_time_password() -> str:
    return secrets.token_urlsafe(ONE_TIME_PASSWORD_BYTES)


def default_hasher() -> PasswordHasher:
    """argon2-cffi's defaults are RFC 9106's second recommended profile (Argon2id, t=3, 64 MiB, p=4)."""
    return PasswordHasher()


def verify_password(hasher: PasswordHasher, stored: str, password: str) -> bool:
    """True when `password` matches; a corrupt stored hash counts as a mismatch, not a crash."""
    try:
        return hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
