import pytest


@pytest.mark.django_db
def test_healthz_answers_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_reports_every_part_ok(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    assert response.json()["checks"] == {
        "database": "ok",
        "cache": "ok",
        "channel_layer": "ok",
    }


@pytest.mark.django_db
def test_unknown_api_path_is_a_404_envelope(client):
    response = client.get("/api/no-such-thing")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.fixture
def closed_port():
    """A local port that refuses connections: bound (so nobody else takes it
    during the test) but not listening."""
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    yield sock.getsockname()[1]
    sock.close()


@pytest.mark.django_db
def test_readyz_names_redis_when_it_is_unreachable(client, settings, closed_port):
    # The cache and the channel layer pointed at a dead Redis; the shared
    # Redis server itself is never stopped.
    dead = f"redis://127.0.0.1:{closed_port}/0"
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": dead}
    }
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [dead]}}
    }
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["failed"] == ["cache", "channel_layer"]
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["cache"].startswith("error")
    assert body["checks"]["channel_layer"].startswith("error")


@pytest.mark.django_db
def test_probes_answer_over_plain_http_when_https_is_enforced(client, settings):
    # As in production (DEBUG off; test_settings_profiles checks that
    # production sets exactly this exemption): everything else goes to HTTPS.
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.get("/api/auth/me").status_code == 301
