"""What is particular to the Redis counters: key layout, the caller's clock, Redis's own expiry.

The shared semantics are in test_counters_contract.py, run against every adapter.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import redis

from sesame.adapters.redis_counters import GRACE_MILLISECONDS, KEY_PREFIX, RedisCounters

pytestmark = pytest.mark.redis

PAST = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)


@pytest.fixture
def counters(redis_url: str) -> Iterator[RedisCounters]:
    built = RedisCounters(redis_url)
    yield built
    built.close()


@pytest.fixture
def raw(redis_url: str) -> Iterator[redis.Redis]:
    client: redis.Redis = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def key() -> str:
    return f"test:{uuid.uuid4().hex}"


def test_a_counter_is_a_prefixed_hash_with_value_and_end(counters: RedisCounters, raw: redis.Redis, key: str) -> None:
    counters.increment(key, 60, PAST, amount=2)
    stored = raw.hgetall(KEY_PREFIX + key)
    assert stored["v"] == "2"
    assert datetime.fromtimestamp(int(stored["e"]) / 1_000_000, UTC) == PAST + timedelta(seconds=60)


def test_the_callers_clock_decides_not_redis(counters: RedisCounters, raw: redis.Redis, key: str) -> None:
    # PAST is months before the server's clock: an expiry at PAST + 60 s on Redis's clock
    # would drop the key at once; the key lives its window from the moment it is written.
    assert counters.increment(key, 60, PAST) == 1
    assert counters.increment(key, 60, PAST + timedelta(seconds=1)) == 2
    assert 0 < raw.pttl(KEY_PREFIX + key) <= 60_000 + GRACE_MILLISECONDS
    assert counters.get(key, PAST + timedelta(seconds=59)) == 2
    assert counters.get(key, PAST + timedelta(seconds=60)) == 0


def test_later_increments_do_not_extend_redis_expiry(counters: RedisCounters, raw: redis.Redis, key: str) -> None:
    now = datetime.now(UTC)
    counters.increment(key, 60, now)
    first = raw.pttl(KEY_PREFIX + key)
    time.sleep(0.05)
    counters.increment(key, 60, now + timedelta(seconds=30))
    assert raw.pttl(KEY_PREFIX + key) < first


@pytest.mark.slow
def test_a_real_short_window(counters: RedisCounters, raw: redis.Redis, key: str) -> None:
    start = datetime.now(UTC)
    assert counters.increment(key, 1, start) == 1
    # Redis set the key's expiry (1 s + the grace) before this instant; on a loaded machine the
    # first call (connection, script loading) may take longer than the margins of fixed sleeps.
    written = time.monotonic()
    assert counters.increment(key, 1, start + timedelta(milliseconds=500)) == 2
    time.sleep(1.05)
    assert counters.get(key, datetime.now(UTC)) == 0
    time.sleep(max(0.0, written + 1 + GRACE_MILLISECONDS / 1000 + 0.1 - time.monotonic()))
    assert not raw.exists(KEY_PREFIX + key)  # collected by Redis, no purge job needed
    assert counters.increment(key, 1, datetime.now(UTC)) == 1


def test_set_until_sets_a_matching_redis_expiry(counters: RedisCounters, raw: redis.Redis, key: str) -> None:
    counters.set_until(key, 1, PAST + timedelta(hours=1), PAST)
    assert 3_600_000 < raw.pttl(KEY_PREFIX + key) <= 3_600_000 + GRACE_MILLISECONDS
    assert counters.expires_at(key, PAST) == PAST + timedelta(hours=1)
