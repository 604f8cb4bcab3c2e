"""The Counters contract, run against every adapter: SQLite, PostgreSQL and Redis.

Whichever adapter a deployment uses, the lockout and rate-limit rules must count the same:
same windows, same expiry on the caller's clock, exact under parallel processes.
"""

from __future__ import annotations

import multiprocessing
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from multiprocessing.synchronize import Event

import pytest

from sesame.ports import Counters
from tests.adapters.counters_backends import BACKENDS, backend_url, build_counters, open_counters

T0 = datetime(2026, 1, 15, 9, 0, 0, 250000, tzinfo=UTC)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> tuple[str, str]:
    return request.param, backend_url(request.param, request)


@pytest.fixture
def counters(backend: tuple[str, str]) -> Iterator[Counters]:
    with open_counters(*backend) as opened:
        yield opened


@pytest.fixture
def key() -> str:
    """A key of this test only (Redis is shared by every test of the run)."""
    return f"test:{uuid.uuid4().hex}"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_increment_creates_then_adds(counters: Counters, key: str) -> None:
    assert counters.get(key, T0) == 0
    assert counters.expires_at(key, T0) is None
    assert counters.increment(key, 60, T0) == 1
    assert counters.increment(key, 60, at(1)) == 2
    assert counters.increment(key, 60, at(2), amount=5) == 7
    assert counters.get(key, at(3)) == 7


def test_the_window_is_fixed_at_creation(counters: Counters, key: str) -> None:
    counters.increment(key, 60, T0)
    counters.increment(key, 60, at(59))
    expiry = counters.expires_at(key, at(59))
    assert expiry == at(60)  # exact to the microsecond, aware UTC, not moved by the second hit
    assert expiry is not None
    assert expiry.utcoffset() == timedelta(0)


def test_an_expired_counter_starts_again(counters: Counters, key: str) -> None:
    counters.increment(key, 60, T0, amount=3)
    assert counters.get(key, at(59.999999)) == 3
    assert counters.get(key, at(60)) == 0  # over at its expiry instant
    assert counters.expires_at(key, at(60)) is None
    assert counters.increment(key, 30, at(61)) == 1
    assert counters.expires_at(key, at(61)) == at(91)


def test_keys_are_independent(counters: Counters, key: str) -> None:
    counters.increment(key + ":a", 60, T0)
    counters.increment(key + ":a", 60, T0)
    counters.increment(key + ":b", 60, T0)
    assert (counters.get(key + ":a", T0), counters.get(key + ":b", T0)) == (2, 1)


def test_reset(counters: Counters, key: str) -> None:
    counters.increment(key, 60, T0)
    counters.reset(key)
    counters.reset(key + ":never-set")
    assert counters.get(key, T0) == 0
    assert counters.increment(key, 60, at(1)) == 1
    assert counters.expires_at(key, at(1)) == at(61)


def test_set_until(counters: Counters, key: str) -> None:
    counters.increment(key, 60, T0, amount=4)
    counters.set_until(key, 1, at(3600), T0)  # replaces value and expiry
    assert counters.get(key, at(3599)) == 1
    assert counters.expires_at(key, at(10)) == at(3600)
    assert counters.increment(key, 60, at(10)) == 2  # a live counter keeps its end
    assert counters.expires_at(key, at(10)) == at(3600)
    assert counters.get(key, at(3600)) == 0


def test_set_until_in_the_past_is_absent(counters: Counters, key: str) -> None:
    counters.increment(key, 60, T0)
    counters.set_until(key, 9, T0, at(1))
    assert counters.get(key, at(1)) == 0
    assert counters.expires_at(key, at(1)) is None


@pytest.mark.parametrize(("bad_key", "window"), [("", 60), ("k" * 251, 60), ("ok", 0)])
def test_bad_keys_and_windows_are_refused(counters: Counters, bad_key: str, window: int) -> None:
    with pytest.raises(ValueError, match="counter"):
        counters.increment(bad_key, window, T0)


def test_the_longest_key_is_accepted(counters: Counters, key: str) -> None:
    long_key = (key + ":" + "k" * 250)[:250]
    assert counters.increment(long_key, 60, T0) == 1
    assert counters.get(long_key, T0) == 1


# -- exact across processes -----------------------------------------------------------------------

PROCESSES = 8
INCREMENTS = 50


def increment_many(kind: str, url: str, key: str, start: Event) -> None:
    """One worker process with its own adapter, as each web worker has."""
    counters, close = build_counters(kind, url)
    start.wait(30)
    try:
        for _ in range(INCREMENTS):
            counters.increment(key, 3600, datetime.now(UTC))
    finally:
        close()


@pytest.mark.slow
def test_parallel_processes_count_exactly(backend: tuple[str, str], counters: Counters, key: str) -> None:
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    workers = [context.Process(target=increment_many, args=(*backend, key, start)) for _ in range(PROCESSES)]
    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        worker.join(120)
    assert [w.exitcode for w in workers] == [0] * PROCESSES
    assert counters.get(key, datetime.now(UTC)) == PROCESSES * INCREMENTS
