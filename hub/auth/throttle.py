"""Login rate limiting: failures counted per user name and per client address.

A user name with `ACCOUNT_LIMIT` failures inside `WINDOW_S` is locked for
`LOCKOUT_S`; an address with `ADDRESS_LIMIT` failures likewise. User names are
counted whether or not an account exists, so a lockout says nothing about
existence. An attempt counts as a failure from the moment it starts until it
succeeds, so a burst of concurrent guesses cannot slip past the limit while
Argon2 runs. State is in memory: a restart forgets it, which costs an attacker
a restart they cannot cause from outside.

The throttle also decides what the audit log hears, so that nobody can grow
it by failing to log in: `failed` says whether a failure is the first of a
quiet user name *and* a quiet address (logged on its own) and which keys it
just locked (one summary entry each, with its counts); attempts refused
during a lockout write nothing and are counted into the key's next summary.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from camhub.auth.errors import LoginLocked

ACCOUNT_LIMIT = 5  # failed logins per user name inside WINDOW_S before a lockout
# Several people in one household share an address (NAT, one browser), so the
# address limit is looser; it still caps guessing to ~2,000 tries a day.
ADDRESS_LIMIT = 20
WINDOW_S = 15 * 60.0  # seconds: how long a failure counts
LOCKOUT_S = 15 * 60.0  # seconds: how long a lockout lasts
MAX_COUNTERS = 10_000  # above this, idle counters are dropped, so made-up user names cannot fill memory


@dataclass
class _Counter:
    failures: list[float] = field(default_factory=list)  # Unix seconds of recent failures
    pending: int = 0  # attempts started and not finished, counted as failures
    locked_until: float = 0.0  # Unix seconds
    refused: int = 0  # attempts refused since this key's last lockout summary


@dataclass(frozen=True)
class Lockout:
    """A user name or address that one failure just locked: what its audit summary says."""

    key: str  # "user" | "address"
    failures: int  # failed attempts inside the window that led to the lockout
    refused: int  # attempts refused (locked, or too many in flight) since the key's previous summary
    locked_until: float  # Unix seconds


@dataclass(frozen=True)
class Failure:
    """What one failed attempt means for the audit log."""

    first: bool  # the first failure of a user name and an address that were both quiet: log it
    lockouts: tuple[Lockout, ...]  # keys this failure locked: one summary entry each


class LoginThrottle:
    """`begin(user, remote)` before checking a password, then `succeeded` or `failed`."""

    def __init__(
        self,
        clock: Callable[[], float],
        account_limit: int = ACCOUNT_LIMIT,
        address_limit: int = ADDRESS_LIMIT,
        window_s: float = WINDOW_S,
        lockout_s: float = LOCKOUT_S,
    ) -> None:
        self._clock = clock
        self._limits = {"user": account_limit, "addr": address_limit}
        self._window_s = window_s
        self._lockout_s = lockout_s
        self._counters: dict[tuple[str, str], _Counter] = {}

    def _keys(self, user: str, remote: str) -> list[tuple[str, str]]:
        return [("user", user.casefold()), ("addr", remote)]

    def _counter(self, key: tuple[str, str], now: float) -> _Counter:
        counter = self._counters.setdefault(key, _Counter())
        counter.failures = [t for t in counter.failures if t > now - self._window_s]
        return counter

    def begin(self, user: str, remote: str) -> None:
        """Raise `LoginLocked` if either key is locked; else count the attempt as pending."""
        now = self._clock()
        if len(self._counters) > MAX_COUNTERS:
            self.forget_expired()
        counters = [(key, self._counter(key, now)) for key in self._keys(user, remote)]
        closed = [
            counter
            for key, counter in counters
            if now < counter.locked_until or len(counter.failures) + counter.pending >= self._limits[key[0]]
        ]
        for counter in closed:
            counter.refused += 1
        if closed:
            raise LoginLocked("too many failed logins; try again later")
        for _, counter in counters:
            counter.pending += 1

    def failed(self, user: str, remote: str) -> Failure:
        """Count a failed attempt begun with `begin`; say what the audit log should record of it."""
        now = self._clock()
        counters = [(key, self._counter(key, now)) for key in self._keys(user, remote)]
        first = all(not counter.failures and counter.locked_until <= now for _, counter in counters)
        lockouts = []
        for (kind, _), counter in counters:
            counter.pending = max(0, counter.pending - 1)
            counter.failures.append(now)
            if len(counter.failures) >= self._limits[kind]:
                counter.locked_until = now + self._lockout_s
                lockouts.append(
                    Lockout(
                        "user" if kind == "user" else "address",
                        len(counter.failures),
                        counter.refused,
                        counter.locked_until,
                    )
                )
                counter.failures.clear()
                counter.refused = 0
        return Failure(first, tuple(lockouts))

    def succeeded(self, user: str, remote: str) -> None:
        # The right password wipes the user name's slate; the address keeps its
        # failures, or one valid account would let an address guess others freely.
        user_key, addr_key = self._keys(user, remote)
        self._counters.pop(user_key, None)
        addr = self._counter(addr_key, self._clock())
        addr.pending = max(0, addr.pending - 1)
        if not addr.failures and not addr.pending and addr.locked_until <= self._clock():
            self._counters.pop(addr_key, None)

    def forget_expired(self) -> None:
        """Drop counters with nothing left to remember, so memory stays bounded by recent traffic."""
        now = self._clock()
        for key in list(self._counters):
            counter = self._counter(key, now)
            if not counter.failures and not counter.pending and counter.locked_until <= now:
                del self._counters[key]
