"""dtexchange.cache.RedisCache: Django's cache API on a real Redis, stored as
Django's own Redis backend stores values, over one redis-py client."""

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _clean():
    keys = ["a", "b", "c", "d", "e", "k", "n", "z", "missing", "nothing"]
    cache.delete_many(keys)
    yield
    cache.delete_many(keys)


def test_the_cache_api_round_trips_values_and_counters():
    cache.set("a", {"price": "97000.00"}, 30)
    assert cache.get("a") == {"price": "97000.00"}
    assert cache.get("missing", "default") == "default"
    assert cache.add("a", "other") is False
    assert cache.add("b", 5) is True
    assert cache.incr("b", 2) == 7
    assert cache.decr("b") == 6
    assert cache.get("b") == 6
    with pytest.raises(ValueError):
        cache.incr("nothing")
    cache.set_many({"c": "x", "d": True}, 30)
    assert cache.get_many(["c", "d", "e"]) == {"c": "x", "d": True}
    assert cache.has_key("c")
    assert cache.touch("c", None)
    assert cache.client.ttl(cache.make_key("c")) == -1  # no expiry any more
    assert 0 < cache.client.ttl(cache.make_key("d")) <= 30
    cache.delete_many(["c", "d"])
    assert cache.get_many(["c", "d"]) == {}
    assert cache.delete("a") is True
    cache.set("z", 1, 0)  # a zero timeout deletes
    assert cache.get("z") is None
    # Counters are plain numbers in Redis, so other clients can read them.
    cache.set("n", 41)
    assert cache.client.get(cache.make_key("n")) == b"41"


def test_one_client_serves_every_call():
    first = cache.client
    cache.set("k", "v")
    cache.get("k")
    assert cache.client is first


def test_clear_deletes_the_caches_own_keys_only_never_a_shared_brokers():
    """The cache and the Celery broker may share a Redis database: clear()
    must leave the broker's queue and bindings (and other prefixes) alone."""
    redis = cache.client
    foreign = ["_kombu.binding.celery", "unacked_index", "dtx:asgi:group"]
    try:
        # Other tests' real workers may have queued tasks here already.
        redis.rpush("celery", "a queued task")
        redis.sadd("_kombu.binding.celery", "celery\x06\x16\x06\x16celery")
        redis.zadd("unacked_index", {"tag": 1})
        redis.set("dtx:asgi:group", "not the cache's")
        cache.set("a", "cached", 30)
        cache.set("b", "older version", 30, version=7)
        cache.clear()
        assert cache.get("a") is None and cache.get("b", version=7) is None
        assert redis.lrange("celery", -1, -1) == [b"a queued task"]
        assert all(redis.exists(key) for key in foreign)
    finally:
        redis.lrem("celery", 0, "a queued task")
        redis.delete(*foreign)


def test_clear_escapes_a_prefix_with_glob_characters():
    from dtexchange.cache import RedisCache

    other = RedisCache(cache._url, {"KEY_PREFIX": "d*x"})
    try:
        other.set("k", 1)
        cache.set("k", 2)  # prefix "dtx": matched by the glob "d*x", not by the prefix
        other.clear()
        assert other.get("k") is None
        assert cache.get("k") == 2
    finally:
        other.client.close()
