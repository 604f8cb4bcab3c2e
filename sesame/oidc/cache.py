"""A per-process read cache with a short lifetime, for what the hot endpoints read on every request.

Clients, signing keys and tenants change rarely and may be a few seconds stale on a worker
(DESIGN.md, "Read caches"); anything that must agree across workers (a code's use, a refresh
token's rotation, a revocation) never goes through here. Time comes from the injected clock,
so tests move it forward instead of sleeping.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Generic, TypeVar

from sesame.ports import Clock

K = TypeVar("K")
V = TypeVar("V")

#: Long enough to spare the database on every request, short enough that a change made by another
#: process (a client disabled from the CLI) reaches every worker quickly. The signing keys'
#: activation delay (60 s) is longer on purpose: see sesame/oidc/keys.py.
DEFAULT_TTL = timedelta(seconds=30)
#: Bound on the entries of one cache: an attacker cannot grow it with made-up keys (only found
#: records are stored), but a server with very many clients should not keep them all either.
DEFAULT_MAX_ENTRIES = 10_000


class TtlCache(Generic[K, V]):
    """Values by key, each kept ``ttl`` (or until ``invalidate``). Misses are not remembered.

    Not locked: a race between two threads at worst loads the same value twice.
    """

    def __init__(self, clock: Clock, ttl: timedelta = DEFAULT_TTL, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        self._clock = clock
        self._ttl = ttl
        self._max_entries = max_entries
        self._entries: dict[K, tuple[datetime, V]] = {}

    @property
    def ttl(self) -> timedelta:
        return self._ttl

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= self._clock.now():
            self._entries.pop(key, None)
            return None
        return entry[1]

    def put(self, key: K, value: V, *, until: datetime | None = None) -> V:
        """Keep ``value`` for the cache's lifetime (or until ``until``, if sooner); returns it."""
        expires = self._clock.now() + self._ttl
        if until is not None and until < expires:
            expires = until
        if len(self._entries) >= self._max_entries and key not in self._entries:
            self._entries.clear()  # rare: a full reload is simpler than bookkeeping an LRU
        self._entries[key] = (expires, value)
        return value

    def invalidate(self, key: K | None = None) -> None:
        """Forget ``key`` (a change made in this process), or everything."""
        if key is None:
            self._entries.clear()
        else:
            self._entries.pop(key, None)
