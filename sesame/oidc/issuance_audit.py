"""Successful client_credentials issuances, audited as one event per client, scope and window (ADR 0006).

A machine client may ask for thousands of tokens a second. One hash-chained audit row per token
would make every issuance a write transaction, serialised on the tenant's chain head across
every worker, and bury the events people read among millions of identical lines. So each
process counts its successful issuances per (tenant, client, scope) and appends one
``oidc.client_tokens_issued`` event per window: how many, first and last time, from which
addresses. Refusals are never counted here: each one is its own event, at once (see
``Provider.authenticator``).

A background thread closes the windows every :data:`WINDOW` (wall time); :meth:`ClientTokenTally.close`
and the interpreter's exit write what is still open. A process killed outright loses at most
one window of counts, never a refusal.
"""

from __future__ import annotations

import atexit
import threading
import time
import weakref
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog

from sesame.domain.audit import AuditEvent
from sesame.ports import Clock, UnitOfWorkFactory

log = structlog.get_logger(__name__)

EVENT_TYPE = "oidc.client_tokens_issued"
#: How long a window stays open (wall time): the delay before an issuance shows in the log.
WINDOW = timedelta(seconds=60)
#: Distinct client addresses kept per window (a client behind many addresses is flagged, not listed).
MAX_IPS = 10


@dataclass(slots=True)
class Window:
    """The issuances of one (tenant, client, scope) since the window opened."""

    tenant_id: int
    client_id: str
    scope: str
    first_at: datetime
    last_at: datetime
    correlation_id: str
    count: int = 0
    ips: list[str] = field(default_factory=list)
    more_ips: bool = False

    def add(self, ip: str, now: datetime) -> None:
        self.count += 1
        self.last_at = max(self.last_at, now)
        self._add_ip(ip)

    def _add_ip(self, ip: str) -> None:
        if ip not in self.ips:
            if len(self.ips) < MAX_IPS:
                self.ips.append(ip)
            else:
                self.more_ips = True

    def merge(self, later: Window) -> None:
        """Take in the issuances of a later window of the same key."""
        self.count += later.count
        self.last_at = max(self.last_at, later.last_at)
        self.more_ips = self.more_ips or later.more_ips
        for ip in later.ips:
            self._add_ip(ip)

    def event(self) -> AuditEvent:
        return AuditEvent(
            tenant_id=self.tenant_id,
            type=EVENT_TYPE,
            occurred_at=self.first_at,
            actor=f"client:{self.client_id}",
            subject=f"client:{self.client_id}",
            ip=self.ips[0] if self.ips else "",
            correlation_id=self.correlation_id,
            details={
                "grant_type": "client_credentials",
                "count": self.count,
                "scope": self.scope,
                "first_at": self.first_at.isoformat(),
                "last_at": self.last_at.isoformat(),
                "ips": list(self.ips),
                "more_ips": self.more_ips,
            },
        )


class ClientTokenTally:
    """Counts issuances in memory (thread-safe) and appends them as audit events, in batches.

    One per process (``Container.client_token_tally``). :meth:`record` never touches the
    database, so the token endpoint may call it on the event loop.
    """

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock
        self._lock = threading.Lock()
        self._open: dict[tuple[int, str, str], Window] = {}

    def record(self, tenant_id: int, client_id: str, scope: str, *, ip: str, correlation_id: str) -> None:
        """One successful issuance (``ip`` and ``correlation_id`` of the request)."""
        now = self._clock.now()
        key = (tenant_id, client_id, scope)
        with self._lock:
            window = self._open.get(key)
            if window is None:
                window = self._open[key] = Window(
                    tenant_id, client_id, scope, first_at=now, last_at=now, correlation_id=correlation_id[:64]
                )
            window.add(ip[:64], now)

    def pending(self) -> int:
        """Issuances counted and not yet in the audit log."""
        with self._lock:
            return sum(w.count for w in self._open.values())

    def flush(self) -> int:
        """Append one event per open window, in one transaction; returns how many were written.

        The windows are taken out first: issuances counted meanwhile open new ones. If the
        write fails they are put back, to be tried again at the next flush.
        """
        with self._lock:
            windows, self._open = self._open, {}
        if not windows:
            return 0
        closed = sorted(windows.values(), key=lambda w: (w.first_at, w.tenant_id, w.client_id, w.scope))
        try:
            with self._uow() as uow:
                for window in closed:
                    uow.audit.append(window.event())
                uow.commit()
        except Exception:
            self._put_back(windows)
            raise
        return len(closed)

    def _put_back(self, windows: dict[tuple[int, str, str], Window]) -> None:
        with self._lock:
            for key, old in windows.items():
                new = self._open.get(key)
                if new is not None:  # counted again meanwhile: merge into the older window
                    old.merge(new)
                self._open[key] = old

    def flush_quietly(self) -> None:
        """:meth:`flush`, logging a failure instead of raising (the counts stay for the next one)."""
        try:
            self.flush()
        except Exception:
            log.exception("audit.client_tokens_flush_failed", pending=self.pending())

    # -- the background flusher ----------------------------------------------------------------------

    def start(self) -> None:
        """Have this tally's windows closed every :data:`WINDOW` by the process's flusher thread,
        and the last ones written when the interpreter exits. Held weakly: a tally nobody uses
        any more (a test's app) is not kept alive by it."""
        _FLUSHER.add(self)

    def close(self) -> None:
        """Write what is open, and leave the flusher."""
        _FLUSHER.discard(self)
        self.flush_quietly()


class _Flusher:
    """One daemon thread per process for every started tally (each app has one)."""

    def __init__(self, interval: timedelta) -> None:
        self._interval = interval
        self._tallies: weakref.WeakSet[ClientTokenTally] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, tally: ClientTokenTally) -> None:
        with self._lock:
            self._tallies.add(tally)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="sesame-token-tally", daemon=True)
                self._thread.start()
                atexit.register(self.flush_all)

    def discard(self, tally: ClientTokenTally) -> None:
        with self._lock:
            self._tallies.discard(tally)

    def _run(self) -> None:
        while True:
            time.sleep(self._interval.total_seconds())
            self.flush_all()

    def flush_all(self) -> None:
        with self._lock:
            tallies = list(self._tallies)
        for tally in tallies:
            if tally.pending():
                tally.flush_quietly()


_FLUSHER = _Flusher(WINDOW)
