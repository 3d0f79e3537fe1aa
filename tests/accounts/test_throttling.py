import copy

import pytest

from tests.accounts.conftest import assert_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def rates(settings):
    """Small limits, set through the real setting (read at request time)."""

    def set_rates(**scopes):
        rest = copy.deepcopy(settings.REST_FRAMEWORK)
        rest["DEFAULT_THROTTLE_RATES"].update(scopes)
        settings.REST_FRAMEWORK = rest

    return set_rates


def _assert_throttled(response):
    error = assert_error(response, 429, "throttled")
    retry_after = int(response["Retry-After"])
    assert 0 < retry_after <= 60
    assert error["details"]["retry_after_seconds"] == retry_after


def test_sign_in_is_limited_per_account_across_addresses(api, rates):
    rates(auth_account="3/min", auth_ip="1000/min")
    for n in range(3):
        response = api.post(
            "/api/auth/token",
            {"email": "target@example.ug", "password": f"guess-{n}"},
            REMOTE_ADDR=f"10.0.0.{n + 1}",
        )
        assert response.status_code == 401
    # A fourth address does not help the attacker; another account is unaffected.
    _assert_throttled(
        api.post(
            "/api/auth/token",
            {"email": "TARGET@example.ug", "password": "guess"},
            REMOTE_ADDR="10.0.0.9",
        )
    )
    other = api.post("/api/auth/token", {"email": "other@example.ug", "password": "guess"})
    assert other.status_code == 401


def test_auth_endpoints_are_limited_per_ip(api, rates):
    rates(auth_ip="4/min", auth_account="1000/min", otp="1000/min")
    calls = [
        ("/api/auth/register", {"email": "a@example.ug", "password": "x"}),
        ("/api/auth/token", {"email": "b@example.ug", "password": "x"}),
        ("/api/auth/verify-email", {"email": "c@example.ug", "code": "123456"}),
        ("/api/auth/resend-code", {"email": "d@example.ug"}),
    ]
    for path, body in calls:
        assert api.post(path, body, REMOTE_ADDR="10.1.1.1").status_code != 429
    for path, body in calls:
        _assert_throttled(api.post(path, body, REMOTE_ADDR="10.1.1.1"))
    # Another client address is not limited, and a forged X-Forwarded-For does
    # not make a throttled client look like a new one.
    assert api.post(*calls[1], REMOTE_ADDR="10.1.1.2").status_code == 401
    _assert_throttled(
        api.post(*calls[1], REMOTE_ADDR="10.1.1.1", HTTP_X_FORWARDED_FOR="203.0.113.7")
    )


@pytest.mark.parametrize(
    ("path", "body", "scope"),
    [
        ("/api/auth/register", {"email": "r@example.ug", "password": "x"}, "auth_account"),
        ("/api/auth/verify-email", {"email": "v@example.ug", "code": "000000"}, "otp"),
    ],
)
def test_register_and_verify_are_limited_per_account(api, rates, path, body, scope):
    rates(auth_ip="1000/min", **{scope: "2/min"})
    for n in range(2):
        assert api.post(path, body, REMOTE_ADDR=f"10.2.0.{n}").status_code == 400
    _assert_throttled(api.post(path, body, REMOTE_ADDR="10.2.0.9"))


def test_a_parallel_burst_does_not_slip_past_the_account_limit(rates):
    """DRF's throttle reads, appends and writes back a list: parallel requests
    could each read the same list and all pass. Ours holds a per-key lock."""
    import threading

    from django.db import connection
    from rest_framework.test import APIClient

    rates(auth_account="3/min", auth_ip="1000/min")
    racers = 12
    barrier = threading.Barrier(racers)
    statuses: list[int] = []

    def guess(n: int):
        try:
            barrier.wait(timeout=10)
            response = APIClient().post(
                "/api/auth/token",
                {"email": "burst@example.test", "password": f"guess-{n}"},
                format="json",
                REMOTE_ADDR=f"10.3.0.{n}",
            )
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(statuses) == racers
    assert statuses.count(401) == 3, statuses
    assert statuses.count(429) == racers - 3, statuses
