"""Two requests racing with the same single-use secret: exactly one wins.
Real threads, each with its own PostgreSQL connection."""

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from accounts.models import User
from accounts.services import token_obtain
from tests.accounts.conftest import last_code_for
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)
RACERS = 4


def _race(path: str, body: dict) -> list[int]:
    barrier = threading.Barrier(RACERS)
    statuses: list[int] = []

    def run():
        client = APIClient()
        try:
            barrier.wait(timeout=10)
            statuses.append(client.post(path, body, format="json").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return sorted(statuses)


def test_one_refresh_token_rotates_once():
    user = UserFactory()
    refresh = token_obtain(email=user.email, password=DEFAULT_PASSWORD)["refresh"]
    assert _race("/api/auth/token/refresh", {"refresh": refresh}) == [200] + [401] * (RACERS - 1)


def test_one_code_verifies_once():
    client = APIClient()
    email = "race@example.test"
    response = client.post(
        "/api/auth/register", {"email": email, "password": DEFAULT_PASSWORD}, format="json"
    )
    assert response.status_code == 202
    code = last_code_for(email)
    statuses = _race("/api/auth/verify-email", {"email": email, "code": code})
    assert statuses == [200] + [400] * (RACERS - 1)
    assert User.objects.get(email=email).email_verified_at is not None
