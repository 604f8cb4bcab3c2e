"""Rate-limit and lockout counters in Redis (used when ``SESAME_REDIS_URL`` is set).

Same semantics as the database adapter: a counter's window is fixed when it is created, from
the caller's ``now``, and later increments never extend it. Each counter is a hash holding its
value ``v`` and its end ``e`` (microseconds since the epoch, on the caller's clock); every
decision compares ``e`` with the caller's ``now``, so all nodes agree whatever Redis's own
clock says. Redis's expiry only collects the key once it is over.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import redis

from sesame.domain.throttling import check_counter_key

KEY_PREFIX = "sesame:counter:"
#: Redis drops a key this long after its end: a margin for the time a command takes to arrive.
GRACE_MILLISECONDS = 1_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# KEYS[1] counter; ARGV: amount, now (µs), end of a new window (µs), Redis TTL of a new window (ms).
# A missing or ended counter starts again at `amount`; a live one is incremented, its end kept.
_INCREMENT = """
local ends = tonumber(redis.call('HGET', KEYS[1], 'e'))
if ends == nil or ends <= tonumber(ARGV[2]) then
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 'v', ARGV[1], 'e', ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  return tonumber(ARGV[1])
end
return redis.call('HINCRBY', KEYS[1], 'v', ARGV[1])
"""


def _micros(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("naive datetime given to the counters")
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _from_micros(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def _ttl_milliseconds(until: datetime, now: datetime) -> int:
    # Relative to now on both clocks: Redis drops the key when the caller's clock says it ended.
    return (until - now) // timedelta(milliseconds=1) + GRACE_MILLISECONDS


class RedisCounters:
    """The :class:`~sesame.ports.Counters` port on one Redis server (or a primary)."""

    def __init__(self, url: str) -> None:
        self._redis: redis.Redis = redis.Redis.from_url(url)
        self._increment: Any = self._redis.register_script(_INCREMENT)

    def increment(self, key: str, window_seconds: int, now: datetime, amount: int = 1) -> int:
        check_counter_key(key, window_seconds)
        ends = now + timedelta(seconds=window_seconds)
        arguments = [amount, _micros(now), _micros(ends), _ttl_milliseconds(ends, now)]
        return int(self._increment(keys=[KEY_PREFIX + key], args=arguments))

    def get(self, key: str, now: datetime) -> int:
        value, ends = self._read(key)
        return value if ends is not None and ends > now else 0

    def reset(self, key: str) -> None:
        self._redis.delete(KEY_PREFIX + key)

    def set_until(self, key: str, value: int, until: datetime, now: datetime) -> None:
        check_counter_key(key)
        if until <= now:
            self.reset(key)  # already over: the same as absent
            return
        name = KEY_PREFIX + key
        with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(name)
            pipe.hset(name, mapping={"v": value, "e": _micros(until)})
            pipe.pexpire(name, _ttl_milliseconds(until, now))
            pipe.execute()

    def expires_at(self, key: str, now: datetime) -> datetime | None:
        _, ends = self._read(key)
        return ends if ends is not None and ends > now else None

    def close(self) -> None:
        self._redis.close()

    def _read(self, key: str) -> tuple[int, datetime | None]:
        value, ends = self._redis.hmget(KEY_PREFIX + key, ["v", "e"])
        if value is None or ends is None:
            return 0, None
        return int(value), _from_micros(int(ends))
