"""The Redis cache backend: Django's cache API over one redis-py client.

Django's own ``RedisCache`` builds a new ``redis.Redis`` for every cache call,
and ``Redis.__init__`` copies redis-py's table of ~200 response callbacks each
time. The trading API makes four cache calls per request (the rate limiter and
the price cache), so that copying alone was about a tenth of a trade's CPU
time. This backend is built on the public extension points only (Django's
``BaseCache``, redis-py's ``Redis`` and ``ConnectionPool``): one thread-safe
``redis.Redis`` per process over one pool, values stored as Django's Redis
backend stores them (integers as plain numbers, so ``incr`` works; anything
else pickled), plus the two one-round-trip helpers the rate limiter and the
outbox kick use.

The pool's connections have connect and read timeouts (``REDIS_SOCKET_*`` in
the settings): a Redis that stops answering makes a request fail (503) after
seconds instead of holding its worker forever. ``clear()`` deletes this
cache's own keys only (its ``KEY_PREFIX``), never the whole database, which
may hold the Celery broker's queues too.
"""

from __future__ import annotations

import pickle

import redis
from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache
from django.utils.functional import cached_property

from dtexchange.metrics import CACHE_GET_FAILS, CACHE_GETS, CACHE_HITS, CACHE_MISSES


def _dumps(value) -> bytes | int:
    # Integers stay numbers so INCR/DECR work on them (bool is pickled).
    if type(value) is int:
        return value
    return pickle.dumps(value, pickle.HIGHEST_PROTOCOL)


def _loads(data: bytes):
    try:
        return int(data)
    except ValueError:
        return pickle.loads(data)  # noqa: S301 - our own cache, written by _dumps


class RedisCache(BaseCache):
    def __init__(self, server: str, params: dict):
        super().__init__(params)
        self._url = server
        self._pool_options = params.get("OPTIONS", {})

    @cached_property
    def client(self) -> redis.Redis:
        """The process's one redis-py client (thread-safe; borrows connections
        from its pool per command)."""
        pool = redis.ConnectionPool.from_url(self._url, **self._pool_options)
        return redis.Redis(connection_pool=pool)

    def get_backend_timeout(self, timeout=DEFAULT_TIMEOUT):
        if timeout == DEFAULT_TIMEOUT:
            timeout = self.default_timeout
        # None: no expiry. 0 or less: the key is deleted at once.
        return None if timeout is None else max(0, int(timeout))

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        key = self.make_and_validate_key(key, version=version)
        timeout = self.get_backend_timeout(timeout)
        if timeout == 0:
            if added := bool(self.client.set(key, _dumps(value), nx=True)):
                self.client.delete(key)
            return added
        return bool(self.client.set(key, _dumps(value), ex=timeout, nx=True))

    def get(self, key, default=None, version=None):
        key = self.make_and_validate_key(key, version=version)
        # Cache metrics under django-prometheus' names (dtexchange/metrics.py).
        CACHE_GETS.labels(backend="redis").inc()
        try:
            value = self.client.get(key)
        except Exception:
            CACHE_GET_FAILS.labels(backend="redis").inc()
            raise
        if value is None:
            CACHE_MISSES.labels(backend="redis").inc()
            return default
        CACHE_HITS.labels(backend="redis").inc()
        return _loads(value)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        key = self.make_and_validate_key(key, version=version)
        timeout = self.get_backend_timeout(timeout)
        if timeout == 0:
            self.client.delete(key)
        else:
            self.client.set(key, _dumps(value), ex=timeout)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        key = self.make_and_validate_key(key, version=version)
        timeout = self.get_backend_timeout(timeout)
        if timeout is None:
            return bool(self.client.persist(key))
        return bool(self.client.expire(key, timeout))

    def delete(self, key, version=None):
        return bool(self.client.delete(self.make_and_validate_key(key, version=version)))

    def get_many(self, keys, version=None):
        key_map = {self.make_and_validate_key(key, version=version): key for key in keys}
        if not key_map:
            return {}
        values = self.client.mget(list(key_map))
        return {
            key_map[k]: _loads(v) for k, v in zip(key_map, values, strict=True) if v is not None
        }

    def has_key(self, key, version=None):
        return bool(self.client.exists(self.make_and_validate_key(key, version=version)))

    def incr(self, key, delta=1, version=None):
        key = self.make_and_validate_key(key, version=version)
        if not self.client.exists(key):
            raise ValueError(f"Key '{key}' not found.")
        return self.client.incr(key, delta)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        if not data:
            return []
        timeout = self.get_backend_timeout(timeout)
        pipe = self.client.pipeline()
        for key, value in data.items():
            key = self.make_and_validate_key(key, version=version)
            if timeout == 0:
                pipe.delete(key)
            else:
                pipe.set(key, _dumps(value), ex=timeout)
        pipe.execute()
        return []

    def delete_many(self, keys, version=None):
        keys = [self.make_and_validate_key(key, version=version) for key in keys]
        if keys:
            self.client.delete(*keys)

    def _own_keys_pattern(self) -> str:
        # Django's keys are "<KEY_PREFIX>:<version>:<key>"; the digit after
        # the prefix keeps other users of the prefix (e.g. "dtx:asgi") out.
        prefix = "".join(f"\\{c}" if c in "*?[]\\" else c for c in self.key_prefix)
        return f"{prefix}:[0-9]*:*"

    def clear(self):
        """Delete every key of this cache (all versions), and nothing else."""
        pipe = self.client.pipeline(transaction=False)
        batch = 0
        for key in self.client.scan_iter(match=self._own_keys_pattern(), count=1000):
            pipe.unlink(key)
            batch += 1
            if batch == 500:
                pipe.execute()
                batch = 0
        if batch:
            pipe.execute()
        return True

    def count_in_window(self, key: str, previous_key: str, *, timeout: int) -> tuple[int, int]:
        """For the rate limiter (dtexchange.throttling): add one to the
        counter ``key`` (created with ``timeout`` if missing) and read the
        counter ``previous_key``, in ONE round trip (a pipeline) instead of
        three (EXISTS + INCR, then GET). SET NX rather than EXPIRE NX, which
        needs Redis 7. Counters are plain integers, as ``set`` stores ints,
        so ``get``/``decr`` still work."""
        key = self.make_and_validate_key(key)
        previous_key = self.make_and_validate_key(previous_key)
        pipe = self.client.pipeline(transaction=False)
        pipe.set(key, 0, ex=timeout, nx=True)
        pipe.incr(key)
        pipe.get(previous_key)
        _, current, previous = pipe.execute()
        return int(current), int(previous or 0)

    def claim_for(self, key: str, seconds: float) -> tuple[bool, float]:
        """SET NX with a millisecond expiry (``add`` rounds its timeout down
        to whole seconds, so 0.1 s would expire at once), and the key's
        remaining time, in one round trip. Returns (whether this caller took
        ``key`` for ``seconds``, seconds until the claim held — this
        caller's or another's — runs out)."""
        key = self.make_and_validate_key(key)
        pipe = self.client.pipeline(transaction=False)
        pipe.set(key, 1, px=max(1, int(seconds * 1000)), nx=True)
        pipe.pttl(key)
        claimed, left_ms = pipe.execute()
        return bool(claimed), max(0, left_ms) / 1000
