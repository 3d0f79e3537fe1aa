"""A Redis that accepts connections but never answers (a frozen host) fails
the cache's calls, and a request, within the configured socket timeouts
instead of hanging the worker forever."""

import socket
import threading
import time

import pytest
import redis
from django.conf import settings
from django.test import Client, override_settings

from dtexchange.cache import RedisCache


@pytest.fixture
def dead_redis():
    """A TCP server that accepts and then says nothing."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    stop.set()
    thread.join(2)
    for conn in held:
        conn.close()
    server.close()


def _bounded(call, seconds: float):
    """Run ``call`` in a thread; (finished, result or exception, elapsed)."""
    outcome: dict = {}

    def run():
        started = time.monotonic()
        try:
            outcome["value"] = call()
        except Exception as exc:
            outcome["value"] = exc
        outcome["elapsed"] = time.monotonic() - started

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    return not thread.is_alive(), outcome.get("value"), outcome.get("elapsed")


# The longest a test waits before calling it a hang.
PATIENCE = 20


def test_the_settings_give_the_cache_connect_and_read_timeouts():
    options = settings.CACHES["default"].get("OPTIONS", {})
    assert 0 < options.get("socket_connect_timeout", 0) <= 5
    assert 0 < options.get("socket_timeout", 0) <= 5


def test_a_silent_redis_fails_a_cache_call_within_the_read_timeout(dead_redis):
    options = settings.CACHES["default"].get("OPTIONS", {})
    dead = RedisCache(dead_redis, {"OPTIONS": options})
    finished, value, elapsed = _bounded(lambda: dead.get("k"), PATIENCE)
    assert finished, "a cache call on a silent Redis hung"
    assert isinstance(value, redis.TimeoutError)
    # Within our read timeout, not whatever the client library defaults to.
    assert elapsed < options.get("socket_timeout", 0) + 1.5, elapsed


@pytest.mark.django_db
def test_a_request_on_a_silent_redis_is_a_503_not_a_hang(dead_redis):
    caches = {
        "default": {**settings.CACHES["default"], "LOCATION": dead_redis},
    }
    with override_settings(CACHES=caches):
        client = Client(raise_request_exception=False)
        finished, response, elapsed = _bounded(lambda: client.get("/api/trading/prices"), PATIENCE)
    assert finished, "a request on a silent Redis hung"
    # The first cache call times out and the request is answered at once.
    assert elapsed < caches["default"].get("OPTIONS", {}).get("socket_timeout", 0) + 1.5, elapsed
    assert response.status_code == 503, response.content
    assert response.json()["error"]["code"] == "service_unavailable"
