"""Throttling of POST /api/trading/vouchers/validate: 20/min per user and per
IP (settings: THROTTLE_VOUCHER_VALIDATE), counted in Redis."""

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from tests.factories import UserFactory
from tests.vouchers.conftest import VALIDATE_URL

pytestmark = pytest.mark.django_db

LIMIT = int(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["voucher_validate"].split("/")[0])
GUESS = {"voucher_code": "DTX-2345-6789-ABCD-EFGH-JKMN", "currency": "UGX"}


def _client(user, ip):
    client = APIClient(REMOTE_ADDR=ip)
    client.force_authenticate(user)
    return client


def _assert_throttled(response):
    assert response.status_code == 429
    error = response.json()["error"]
    assert error["code"] == "throttled"
    retry = int(response["Retry-After"])
    assert 1 <= retry <= 60
    assert error["details"]["retry_after_seconds"] >= 1


def test_per_user_limit_holds_across_ips():
    user = UserFactory()
    for i in range(LIMIT):
        response = _client(user, f"10.0.0.{i + 1}").post(VALIDATE_URL, GUESS, format="json")
        assert response.status_code == 200, i
    _assert_throttled(_client(user, "10.0.1.1").post(VALIDATE_URL, GUESS, format="json"))
    # Someone else is not affected.
    other = _client(UserFactory(), "10.0.2.1").post(VALIDATE_URL, GUESS, format="json")
    assert other.status_code == 200


def test_per_ip_limit_holds_across_users():
    for _ in range(LIMIT):
        response = _client(UserFactory(), "10.9.9.9").post(VALIDATE_URL, GUESS, format="json")
        assert response.status_code == 200
    _assert_throttled(_client(UserFactory(), "10.9.9.9").post(VALIDATE_URL, GUESS, format="json"))


def test_spoofed_forwarded_for_does_not_reset_the_ip_limit():
    for i in range(LIMIT):
        response = _client(UserFactory(), "10.8.8.8").post(
            VALIDATE_URL, GUESS, format="json", HTTP_X_FORWARDED_FOR=f"203.0.113.{i}"
        )
        assert response.status_code == 200
    _assert_throttled(
        _client(UserFactory(), "10.8.8.8").post(
            VALIDATE_URL, GUESS, format="json", HTTP_X_FORWARDED_FOR="198.51.100.7"
        )
    )


def test_bad_input_counts_too():
    user = UserFactory()
    client = _client(user, "10.7.7.7")
    for _ in range(LIMIT):
        assert client.post(VALIDATE_URL, {"voucher_code": "x"}, format="json").status_code == 400
    _assert_throttled(client.post(VALIDATE_URL, GUESS, format="json"))
