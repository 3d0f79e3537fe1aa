"""/readyz tells the public only ready / not ready; which part failed goes to
trusted networks (TRUSTED_NETWORKS, by dtexchange.client_ip) and staff."""

import pytest
from django.test import Client

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def broken_redis(settings):
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    dead = f"redis://127.0.0.1:{sock.getsockname()[1]}/0"
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": dead}
    }
    yield
    sock.close()


def test_the_public_sees_only_ready_or_not(broken_redis):
    public = Client(REMOTE_ADDR="203.0.113.7")
    response = public.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable"}


def test_the_public_sees_ready_without_details():
    response = Client(REMOTE_ADDR="203.0.113.7").get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_a_forged_forwarded_header_does_not_make_a_client_trusted(settings):
    settings.NUM_PROXIES = 1
    response = Client(REMOTE_ADDR="127.0.0.1").get(
        "/readyz", HTTP_X_FORWARDED_FOR="127.0.0.1, 203.0.113.7"
    )
    assert response.json() == {"status": "ok"}


def test_trusted_networks_see_which_part_failed(broken_redis, settings):
    settings.TRUSTED_NETWORKS = ["10.20.0.0/16"]
    body = Client(REMOTE_ADDR="10.20.3.4").get("/readyz").json()
    assert body["failed"] == ["cache"]
    assert body["checks"]["database"] == "ok"
    assert Client(REMOTE_ADDR="127.0.0.1").get("/readyz").json() == {"status": "unavailable"}


def test_staff_see_the_details_from_anywhere():
    staff = UserFactory(is_staff=True)
    client = Client(REMOTE_ADDR="203.0.113.7")
    client.force_login(staff)
    body = client.get("/readyz").json()
    assert body["checks"] == {"database": "ok", "cache": "ok", "channel_layer": "ok"}
