"""The project's one rate limiter (dtexchange.throttling), on the real Redis cache."""

import pytest
from freezegun import freeze_time
from rest_framework.test import APIRequestFactory

from dtexchange.throttling import CooldownThrottle, IPRateThrottle


class FivePerMinute(IPRateThrottle):
    scope = "test_five"

    def rate(self):
        return 5, 60


class OncePerMinute(CooldownThrottle):
    scope = "test_once"

    def interval(self):
        return 60

    def ident(self, request):
        return "someone"


def _allowed(throttle_cls, ip="10.0.0.1") -> bool:
    request = APIRequestFactory().post("/", REMOTE_ADDR=ip)
    return throttle_cls().allow_request(request, None)


def test_limit_within_a_window_and_other_clients_unaffected():
    with freeze_time("2026-11-25 10:00:10"):
        assert [_allowed(FivePerMinute) for _ in range(7)] == [True] * 5 + [False] * 2
        assert _allowed(FivePerMinute, ip="10.0.0.2")


def test_no_double_burst_across_a_window_boundary():
    """A fixed window would allow 5 at 10:00:59 and 5 more at 10:01:00."""
    with freeze_time("2026-11-25 10:00:59") as clock:
        assert all(_allowed(FivePerMinute) for _ in range(5))
        clock.tick(1.5)
        assert not _allowed(FivePerMinute)
        # As the previous window slides out, capacity comes back gradually.
        clock.tick(30)
        assert _allowed(FivePerMinute)
        assert _allowed(FivePerMinute)
        assert not _allowed(FivePerMinute)


def test_refused_requests_do_not_extend_the_wait():
    with freeze_time("2026-11-25 10:00:00") as clock:
        for _ in range(5):
            assert _allowed(FivePerMinute)
        for _ in range(50):  # hammering while limited
            assert not _allowed(FivePerMinute)
        clock.tick(120)
        assert _allowed(FivePerMinute)


def test_wait_is_reported_and_bounded_by_the_window():
    with freeze_time("2026-11-25 10:00:00"):
        throttle = FivePerMinute()
        request = APIRequestFactory().post("/", REMOTE_ADDR="10.0.0.3")
        for _ in range(5):
            assert throttle.allow_request(request, None)
        assert not throttle.allow_request(request, None)
        assert 1 <= throttle.wait() <= 60


@pytest.mark.parametrize("tick", [59, 61])
def test_cooldown_allows_one_per_interval(tick):
    with freeze_time("2026-11-25 10:00:00") as clock:
        assert _allowed(OncePerMinute)
        assert not _allowed(OncePerMinute)
        clock.tick(tick)
        assert _allowed(OncePerMinute) is (tick > 60)


def test_window_counter_is_one_redis_key_with_its_expiry():
    """A check is one pipeline (dtexchange.cache.count_in_window): the
    counter gets its expiry when created."""
    import time

    from django.core.cache import cache

    with freeze_time("2026-11-25 11:00:10"):
        assert _allowed(FivePerMinute, ip="10.9.9.9")
        slot = int(time.time() // 60)
    key = cache.make_key(f"throttle:test_five:FivePerMinute:ip:10.9.9.9:{slot}")
    client = cache.client
    assert 0 < client.ttl(key) <= 121
    assert int(client.get(key)) == 1
