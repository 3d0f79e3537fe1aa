"""Django's Redis cache backend, keeping one redis-py client per server.

Django's ``RedisCacheClient.get_client`` builds a new ``redis.Redis`` for every
cache call, and ``Redis.__init__`` copies redis-py's table of ~200 response
callbacks each time. The trading API makes four cache calls per request (the
rate limiter and the price cache), so that copying alone was about a tenth of
a trade's CPU time. A ``redis.Redis`` is thread-safe and only borrows
connections from its pool, so one per pool is enough; the pools themselves
are still Django's (created lazily, one per server).
"""

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient

from dtexchange.metrics import CACHE_GET_FAILS, CACHE_GETS, CACHE_HITS, CACHE_MISSES

_MISSING = object()


class ReusedClientRedisCacheClient(RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = ReusedClientRedisCacheClient

    def get(self, key, default=None, version=None):
        # Cache metrics under django-prometheus' names (dtexchange/metrics.py).
        CACHE_GETS.labels(backend="redis").inc()
        try:
            value = super().get(key, _MISSING, version)
        except Exception:
            CACHE_GET_FAILS.labels(backend="redis").inc()
            raise
        if value is _MISSING:
            CACHE_MISSES.labels(backend="redis").inc()
            return default
        CACHE_HITS.labels(backend="redis").inc()
        return value

    def count_in_window(self, key: str, previous_key: str, *, timeout: int) -> tuple[int, int]:
        """For the rate limiter (dtexchange.throttling): add one to the
        counter ``key`` (created with ``timeout`` if missing) and read the
        counter ``previous_key``, in ONE round trip (a pipeline) instead of
        Django's three (EXISTS + INCR, then GET). SET NX rather than EXPIRE
        NX, which needs Redis 7. Counters are plain integers, which is how
        Django's Redis serializer stores ints, so ``get``/``decr`` still work."""
        key = self.make_and_validate_key(key)
        previous_key = self.make_and_validate_key(previous_key)
        pipe = self._cache.get_client(key, write=True).pipeline(transaction=False)
        pipe.set(key, 0, ex=timeout, nx=True)
        pipe.incr(key)
        pipe.get(previous_key)
        _, current, previous = pipe.execute()
        return int(current), int(previous or 0)

    def claim_for(self, key: str, seconds: float) -> tuple[bool, float]:
        """SET NX with a millisecond expiry (Django's ``add`` rounds its
        timeout down to whole seconds, so 0.1 s would expire at once), and
        the key's remaining time, in one round trip. Returns (whether this
        caller took ``key`` for ``seconds``, seconds until the claim held —
        this caller's or another's — runs out)."""
        key = self.make_and_validate_key(key)
        pipe = self._cache.get_client(key, write=True).pipeline(transaction=False)
        pipe.set(key, 1, px=max(1, int(seconds * 1000)), nx=True)
        pipe.pttl(key)
        claimed, left_ms = pipe.execute()
        return bool(claimed), max(0, left_ms) / 1000
