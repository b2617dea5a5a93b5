"""Failed sign-ins counted per account and per address in a store that every worker shares.

By default the store is the database (table ``login_failure``): every gunicorn worker and every
host on the same database sees the same counts. With ``RATELIMIT_STORAGE_URI`` set (for example
``redis://127.0.0.1:6379/0``) the counts live there instead, through the ``limits`` package that
Flask-Limiter already brings (a Redis URI needs the ``redis`` client installed). No Flask here:
the caller passes the database and the settings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from models import LoginFailure, utcnow

UnitOfWork = Callable[[], AbstractContextManager[Session]]


class FailureStore(Protocol):
    """Where recent failures are counted."""

    def count(self, key: str, window: int) -> int:
        """Return how many failures `key` had in the last `window` seconds."""

    def add(self, keys: Iterable[str], window: int) -> None:
        """Record one failure for each key."""

    def clear(self, key: str, window: int) -> None:
        """Forget the failures of `key`."""


class DatabaseStore:
    """Failures as rows of ``login_failure``, written in their own unit of work.

    The request that counts a failure answers 4xx and rolls its own session back, so the rows
    are committed separately; old rows are purged as new ones arrive.
    """

    def __init__(self, unit_of_work: UnitOfWork) -> None:
        self.unit_of_work = unit_of_work

    def count(self, key: str, window: int) -> int:
        """Return how many failures `key` had in the last `window` seconds."""
        since = utcnow() - timedelta(seconds=window)
        with self.unit_of_work() as session:
            return session.scalar(select(func.count(LoginFailure.id)).where(
                LoginFailure.key == key, LoginFailure.at >= since)) or 0

    def add(self, keys: Iterable[str], window: int) -> None:
        """Record one failure for each key and drop rows older than the window."""
        now = utcnow()
        with self.unit_of_work() as session:
            session.execute(delete(LoginFailure).where(
                LoginFailure.at < now - timedelta(seconds=window)))
            session.add_all(LoginFailure(key=key[:120], at=now) for key in keys)

    def clear(self, key: str, window: int) -> None:
        """Forget the failures of `key` (after a successful sign-in)."""
        with self.unit_of_work() as session:
            session.execute(delete(LoginFailure).where(LoginFailure.key == key))


class LimitsStore:
    """Failures in a `limits` storage (Redis, Memcached, or memory:// for one process)."""

    def __init__(self, uri: str) -> None:
        from limits import storage, strategies

        self.storage = storage.storage_from_string(uri)
        self.strategy = strategies.MovingWindowRateLimiter(self.storage)

    CAPACITY = 1000  # the most failures one key can hold; far above any limit

    def _item(self, window: int):
        from limits import RateLimitItemPerSecond

        return RateLimitItemPerSecond(self.CAPACITY, window)

    def count(self, key: str, window: int) -> int:
        """Return how many failures `key` had in the last `window` seconds."""
        stats = self.strategy.get_window_stats(self._item(window), "login", key)
        return self.CAPACITY - stats.remaining

    def add(self, keys: Iterable[str], window: int) -> None:
        """Record one failure for each key."""
        for key in keys:
            self.strategy.hit(self._item(window), "login", key)

    def clear(self, key: str, window: int) -> None:
        """Forget the failures of `key`."""
        self.strategy.clear(self._item(window), "login", key)


@dataclass(frozen=True)
class Limits:
    """How many failures an account and an address may have within `window` seconds."""

    per_account: int = 5
    per_address: int = 20
    window: int = 900


class LoginThrottle:
    """Decide whether a sign-in attempt may be checked, and count the ones that failed."""

    def __init__(self, store: FailureStore, limits: Limits) -> None:
        self.store = store
        self.limits = limits

    @staticmethod
    def account_key(username: str) -> str:
        """Return the counter key of an account (user names compare case-insensitively)."""
        return "account:" + (username or "").strip().lower()[:100]

    @staticmethod
    def address_key(address: str) -> str:
        """Return the counter key of a client address."""
        return "address:" + (address or "unknown")[:100]

    def blocked(self, username: str, address: str) -> str | None:
        """Return "account" or "address" when that counter is at its limit, else None."""
        lim = self.limits
        if self.store.count(self.address_key(address), lim.window) >= lim.per_address:
            return "address"
        if username and self.store.count(self.account_key(username), lim.window) >= \
                lim.per_account:
            return "account"
        return None

    def failed(self, username: str, address: str) -> None:
        """Count one failed attempt against the account and the address."""
        keys = [self.address_key(address)]
        if username:
            keys.append(self.account_key(username))
        self.store.add(keys, self.limits.window)

    def succeeded(self, username: str) -> None:
        """Reset the account's counter after a successful sign-in (the address keeps its)."""
        self.store.clear(self.account_key(username), self.limits.window)


def make_throttle(unit_of_work: UnitOfWork, storage_uri: str | None,
                  limits: Limits) -> LoginThrottle:
    """Return the throttle on the configured store: the database unless a URI is given."""
    store: FailureStore = (LimitsStore(storage_uri) if storage_uri
                           else DatabaseStore(unit_of_work))
    return LoginThrottle(store, limits)
